package dist

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/fanout/fanout/engine"
	"github.com/fanout/fanout/fetch"
)

// SubmitBatch is the number of targets published between checkpoints: a
// re-submit after a crash skips every target before the last checkpoint
// and relies on message ids only for the batch after it.
const SubmitBatch = 1000

// wireTarget is a target as it travels to the workers.
type wireTarget struct {
	Input   string `json:"i"`
	URL     string `json:"u,omitempty"`
	Bare    bool   `json:"b,omitempty"`
	HostKey string `json:"h,omitempty"`
	Invalid string `json:"x,omitempty"`
}

// SubmitStats say what a Submit did.
type SubmitStats struct {
	Meta      Meta
	Published uint64 // targets published by this call
	Skipped   uint64 // targets before the checkpoint of an earlier submit
	Resumed   bool   // the run existed already
}

// Submit publishes src's targets to run c.Name, creating the run when it
// does not exist. It numbers nothing itself: targets keep the Seq the
// source gave them (input.Reader numbers them 0, 1, 2, ... after
// dedupe), so a re-submit of the same input gives the same ids. progress,
// if set, is called after each acknowledged batch with the count so far.
func Submit(ctx context.Context, c *Conn, rc RunConfig, src engine.Source, progress func(uint64)) (SubmitStats, error) {
	var st SubmitStats
	if err := rc.Validate(); err != nil {
		return st, err
	}
	runs, err := runsKV(ctx, c.JS, rc.Replicas)
	if err != nil {
		return st, fmt.Errorf("runs bucket: %w", err)
	}
	meta, rev, err := LoadMeta(ctx, c.JS, rc.Name)
	switch {
	case err == nil:
		st.Resumed = true
		if meta.Complete {
			st.Meta = meta
			return st, nil
		}
	default:
		meta = Meta{RunConfig: rc, Created: time.Now().UTC()}
		if err := ensureRun(ctx, c.JS, rc); err != nil {
			return st, err
		}
		b, _ := json.Marshal(meta)
		if rev, err = runs.Create(ctx, rc.Name, b); err != nil {
			return st, fmt.Errorf("run %q: %w", rc.Name, err)
		}
	}
	save := func() error {
		b, _ := json.Marshal(meta)
		r, err := runs.Update(ctx, rc.Name, b, rev)
		if err != nil {
			return fmt.Errorf("run %q: checkpoint: %w", rc.Name, err)
		}
		rev = r
		return nil
	}

	checkpoint := meta.Submitted
	var futs []jetstream.PubAckFuture
	var n uint64 // targets seen (published or skipped)
	inBatch := 0
	hdr := func(seq uint64) nats.Header {
		return nats.Header{seqHeader: []string{strconv.FormatUint(seq, 10)}}
	}
	for {
		t, err := src.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return st, err
		}
		n = max(n, t.Seq+1)
		if t.Seq < checkpoint {
			st.Skipped++
			continue
		}
		b, _ := json.Marshal(wireTarget{t.Input, t.URL, t.Bare, t.HostKey, t.Invalid})
		m := &nats.Msg{
			Subject: targetSubject(rc.Name, Partition(t.HostKey, meta.Partitions)),
			Header:  hdr(t.Seq), Data: b,
		}
		f, err := c.JS.PublishMsgAsync(m, jetstream.WithMsgID(msgID(rc.Name, t.Seq)),
			jetstream.WithStallWait(30*time.Second))
		if err != nil {
			return st, fmt.Errorf("publish target %d: %w", t.Seq, err)
		}
		futs = append(futs, f)
		st.Published++
		if inBatch++; inBatch == SubmitBatch {
			inBatch = 0
			if err := waitAcks(ctx, futs); err != nil {
				return st, err
			}
			futs = futs[:0]
			meta.Submitted = n
			if err := save(); err != nil {
				return st, err
			}
			if progress != nil {
				progress(n)
			}
		}
	}
	if err := waitAcks(ctx, futs); err != nil {
		return st, err
	}
	meta.Submitted = max(n, checkpoint)
	meta.Complete = true
	if err := save(); err != nil {
		return st, err
	}
	if progress != nil {
		progress(meta.Submitted)
	}
	st.Meta = meta
	return st, nil
}

// waitAcks waits until JetStream acknowledged each publish; a failed one
// fails the submit (a re-submit continues from the checkpoint).
func waitAcks(ctx context.Context, futs []jetstream.PubAckFuture) error {
	timeout := time.NewTimer(2 * time.Minute)
	defer timeout.Stop()
	for _, f := range futs {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			return fmt.Errorf("publish: %w", err)
		case <-ctx.Done():
			return ctx.Err()
		case <-timeout.C:
			return errors.New("publish: no acknowledgement from JetStream in 2m")
		}
	}
	return nil
}

func decodeTarget(m jetstream.Msg) (fetch.Target, error) {
	seq, err := strconv.ParseUint(m.Headers().Get(seqHeader), 10, 64)
	if err != nil {
		return fetch.Target{}, fmt.Errorf("target message without %s header", seqHeader)
	}
	var w wireTarget
	if err := json.Unmarshal(m.Data(), &w); err != nil {
		return fetch.Target{}, fmt.Errorf("target %d: %w", seq, err)
	}
	return fetch.Target{Seq: seq, Input: w.Input, URL: w.URL, Bare: w.Bare, HostKey: w.HostKey, Invalid: w.Invalid}, nil
}
