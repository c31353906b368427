package dist

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/fanout/fanout/engine"
	"github.com/fanout/fanout/fetch"
)

// CheckpointEvery is the number of targets read between checkpoints: a
// re-submit after a crash skips every batch before the last checkpoint and
// relies on message ids only for those after it.
const CheckpointEvery = 1000

// SubmitStats say what a Submit did.
type SubmitStats struct {
	Meta      Meta   // the run's record as this call left it
	Published uint64 // targets this call queued
	Skipped   uint64 // targets an earlier submit queued: before its checkpoint, or dropped by the stream as duplicates
	Resumed   bool   // the run existed already
	Finished  bool   // it was submitted in full already: nothing was to be queued
}

// Submit publishes src's targets to run c.Name, creating the run when it
// does not exist, in batches of up to rc.Batch targets of one partition per
// message, the partition a hash of the target's HostKey (taken from its
// URL, as the engine does, when it has none). It numbers nothing itself:
// targets keep the Seq the source gave them, so a re-submit of the same
// input forms the same batches with the same ids, and that Seq must be the
// target's position, 0, 1, 2, ... in the order src gives them, as
// input.Reader numbers them (after dedupe). Submit fails with ErrSeq at
// the first target that is not numbered so: collect keeps one result per
// Seq, so a repeated one lost results, and it waited for ever for a
// missing one. A run whose submit failed so is continued by a submit of
// the same targets numbered right, or deleted.
// progress, if set, is called after each checkpoint with the number of
// targets queued so far.
func Submit(ctx context.Context, c *Conn, rc RunConfig, src engine.Source, progress func(uint64)) (SubmitStats, error) {
	var st SubmitStats
	if err := rc.Validate(); err != nil {
		return st, err
	}
	runs, err := runsKV(ctx, c.JS, rc.Replicas)
	if err != nil {
		if err = replicasErr(rc.Replicas, err); errors.Is(err, ErrReplicas) {
			return st, err
		}
		return st, fmt.Errorf("runs bucket: %w", err)
	}
	meta, rev, err := metaIn(ctx, runs, rc.Name)
	switch {
	case err == nil:
		if err := meta.usable(); err != nil {
			return st, err
		}
		if meta.DedupeKey != "" && rc.DedupeKey != "" && rc.DedupeKey != meta.DedupeKey {
			// Its duplicates may be other ones, and its targets numbered
			// otherwise: the source must read with the run's key.
			return st, fmt.Errorf("run %q: the targets were deduplicated with another key than the run's "+
				"(read the input with input.Options.DedupeKey set to the key in the run's Meta)", rc.Name)
		}
		st.Resumed, st.Finished = true, meta.Complete
		if meta.Complete && meta.InputHash == "" {
			// Submitted before fingerprints: nothing to compare the
			// input with, so it is taken for the same, as it was then.
			st.Meta, st.Skipped = meta, meta.Submitted
			return st, nil
		}
	case errors.Is(err, ErrNoRun):
		meta = Meta{RunConfig: rc, Created: time.Now().UTC()}
		if err := ensureRun(ctx, c.JS, rc); err != nil {
			return st, replicasErr(rc.Replicas, err)
		}
		b, _ := json.Marshal(meta)
		if rev, err = runs.Create(ctx, rc.Name, b); err != nil {
			if errors.Is(err, jetstream.ErrKeyExists) {
				return st, fmt.Errorf("run %q: %w", rc.Name, ErrConcurrentSubmit)
			}
			return st, fmt.Errorf("run %q: %w", rc.Name, err)
		}
	default:
		// Not known to be missing (a timeout during a failover, metadata
		// that does not parse): taking it for a new run would reconfigure
		// an existing run's streams to this submit's settings.
		return st, err
	}
	save := func() error {
		b, _ := json.Marshal(meta)
		r, err := runs.Update(ctx, rc.Name, b, rev)
		if revisionMoved(err) {
			// The revision moved under us: another submit saved first,
			// or the run was deleted (its key is gone, or marked so).
			if e, gerr := runs.Get(ctx, rc.Name); errors.Is(gerr, jetstream.ErrKeyNotFound) ||
				gerr == nil && e.Operation() != jetstream.KeyValuePut {
				return fmt.Errorf("run %q: %w while it was being submitted", rc.Name, ErrRunDeleted)
			}
			return fmt.Errorf("run %q: checkpoint: %w", rc.Name, ErrConcurrentSubmit)
		}
		if err != nil {
			return fmt.Errorf("run %q: checkpoint: %w", rc.Name, err)
		}
		rev = r
		return nil
	}

	checkpoint := meta.Submitted
	var futs []pubFuture
	var n uint64 // targets seen (published or skipped)
	nextCheckpoint := checkpoint + CheckpointEvery
	var comp compressor
	// publish queues b, split in halves until each fits in the server's
	// max_payload: --batch 10000 of long URLs is several MB before
	// compression, and a stock nats-server takes 1 MiB. The split depends
	// on the records and the limit alone, so a re-submit to the same
	// server cuts the same batches with the same ids. A piece's id names
	// its first target and its size, so two pieces share an id only when
	// they hold the same targets: a re-submit to a server of another
	// max_payload may queue some targets twice, but never drops a piece
	// as a duplicate of a smaller one stored before.
	var publish func(p int, b *pending) error
	publish = func(p int, b *pending) error {
		m := comp.msg(targetSubject(rc.Name, p, b.n), b.data)
		id := batchID(rc.Name, p, b.first)
		if b.piece {
			id += ".s" + strconv.Itoa(b.n)
		}
		if limit := c.NC.MaxPayload(); !fits(len(m.Data), id, limit) {
			if b.n == 1 {
				return fmt.Errorf("publish target %d: its record alone (%d bytes compressed) exceeds the server's max_payload of %d bytes",
					b.first, len(m.Data), limit)
			}
			lo, hi := b.halves()
			if err := publish(p, &lo); err != nil {
				return err
			}
			return publish(p, &hi)
		}
		f, err := c.JS.PublishMsgAsync(m, jetstream.WithMsgID(id),
			jetstream.WithStallWait(30*time.Second))
		if err != nil {
			return fmt.Errorf("publish targets %d...: %w", b.first, err)
		}
		futs = append(futs, pubFuture{f, b.n})
		st.Published += uint64(b.n)
		return nil
	}
	// Batches cut before the input is known to be the run's own wait
	// here: a different input must not add a target to the run.
	fp := newFingerprint(meta)
	var held []heldBatch
	verify := func() error {
		if !fp.matches(n) {
			return fmt.Errorf("run %q %w: submit this one under a new --run name", rc.Name, ErrOtherInput)
		}
		for i := range held {
			if err := publish(held[i].p, &held[i].b); err != nil {
				return err
			}
		}
		held = nil
		return nil
	}
	bt := newBatcher(meta.Batch, meta.Partitions, func(p int, b *pending) error {
		switch {
		case b.last < checkpoint:
			st.Skipped += uint64(b.n) // queued by an earlier submit
			return nil
		case !fp.verified:
			held = append(held, heldBatch{p, *b})
			return nil
		case meta.InputTargets == 0:
			// The run's first batch: its fingerprint goes first, so that
			// a re-submit after a crash from here on is checked (before
			// the first checkpoint, another input's batches would mix
			// with these).
			meta.InputTargets, meta.InputHash = fp.n, fp.sum()
			if err := save(); err != nil {
				return err
			}
		}
		return publish(p, b)
	})
	bt.record = fp.add
	for {
		t, err := src.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return st, err
		}
		if t.Seq != n {
			return st, seqError(rc.Name, n, &t)
		}
		n++
		if t.HostKey == "" && t.Invalid == "" {
			// Built by hand: the worker's engine takes the key from the
			// URL, and its partition must be the one the target is in.
			t.HostKey = fetch.HostKeyOf(t.URL)
		}
		if st.Finished && n > meta.Submitted { // more targets than the run has
			return st, fmt.Errorf("run %q %w: submit this one under a new --run name", rc.Name, ErrOtherInput)
		}
		// A batch this target fills is held until the check below.
		if err := bt.add(Partition(t.HostKey, meta.Partitions), &t); err != nil {
			return st, err
		}
		if !fp.verified && n >= fp.targets {
			if err := verify(); err != nil {
				return st, err
			}
		}
		// Before the input is verified, held batches are not queued yet,
		// and the checkpoint must not pass them.
		if n < nextCheckpoint || !fp.verified {
			continue
		}
		nextCheckpoint = n + CheckpointEvery
		if err := waitAcks(ctx, futs, &st); err != nil {
			return st, err
		}
		futs = futs[:0]
		// Every target below the oldest one still buffered is queued. The
		// fingerprint grows at each checkpoint, also while the oldest
		// batch holds the mark at 0 (for the first ~8,000 to 32,000
		// targets, one batch of each partition): a re-submit after a crash
		// there is checked against all it read, not only the first batch.
		if cp := min(n, bt.oldest()); cp > meta.Submitted || meta.InputTargets < n {
			meta.Submitted = max(meta.Submitted, cp)
			meta.InputTargets, meta.InputHash = n, fp.sum()
			if err := save(); err != nil {
				return st, err
			}
		}
		if progress != nil {
			progress(meta.Submitted)
		}
	}
	if !fp.verified { // a shorter input
		if err := verify(); err != nil {
			return st, err
		}
	}
	if err := bt.flushAll(); err != nil {
		return st, err
	}
	if err := waitAcks(ctx, futs, &st); err != nil {
		return st, err
	}
	if st.Finished { // the same input again: nothing to save
		st.Meta = meta
		return st, nil
	}
	if err := ctx.Err(); err != nil {
		// Cancelled as the input ended (a Ctrl-C that also ended the
		// producer on stdin): that end may not be the list's.
		return st, err
	}
	meta.Submitted = max(n, checkpoint)
	meta.Complete = true
	meta.InputTargets, meta.InputHash = n, fp.sum()
	if err := save(); err != nil {
		return st, err
	}
	if progress != nil {
		progress(meta.Submitted)
	}
	st.Meta = meta
	return st, nil
}

// seqError says that t, the source's target at position pos, does not have
// pos as its Seq: it repeats an earlier target's, or skips some.
func seqError(run string, pos uint64, t *fetch.Target) error {
	if t.Seq < pos {
		return fmt.Errorf("run %q: target %d (%q) has Seq %d, which target %d had already: %w",
			run, pos, t.Input, t.Seq, t.Seq, ErrSeq)
	}
	return fmt.Errorf("run %q: target %d (%q) has Seq %d, skipping %d: %w", run, pos, t.Input, t.Seq, pos, ErrSeq)
}

// pubFuture is a batch's publish, of n targets.
type pubFuture struct {
	f jetstream.PubAckFuture
	n int
}

// heldBatch is a batch of partition p cut before the input was verified.
type heldBatch struct {
	p int
	b pending
}

// fingerprint hashes an input's target records as they are read, and
// compares the hash of its first targets with a run's fingerprint.
type fingerprint struct {
	h        *xxhash.Digest
	n        uint64 // the targets hashed so far cover sequence numbers below n
	targets  uint64 // how many targets the run's fingerprint covers
	want     string // the run's fingerprint
	verified bool   // the input matches it, or there is none
}

func newFingerprint(m Meta) *fingerprint {
	return &fingerprint{h: xxhash.New(), targets: m.InputTargets, want: m.InputHash, verified: m.InputHash == ""}
}

// add hashes the record of target seq: one encoding of each target, the
// one its batch holds.
func (f *fingerprint) add(seq uint64, rec []byte) {
	f.h.Write(rec)
	f.n = max(f.n, seq+1)
}

func (f *fingerprint) sum() string { return strconv.FormatUint(f.h.Sum64(), 16) }

// matches reports whether the n targets read so far are those the run's
// fingerprint covers, and if so marks the input verified.
func (f *fingerprint) matches(n uint64) bool {
	f.verified = n == f.targets && f.sum() == f.want
	return f.verified
}

// waitAcks waits until JetStream acknowledged each publish, and counts in
// st the targets that the stream dropped as duplicates as queued before;
// a failed publish fails the submit (a re-submit continues from the
// checkpoint).
func waitAcks(ctx context.Context, futs []pubFuture, st *SubmitStats) error {
	timeout := time.NewTimer(2 * time.Minute)
	defer timeout.Stop()
	for _, pf := range futs {
		select {
		case ack := <-pf.f.Ok():
			if ack != nil && ack.Duplicate {
				st.Published -= uint64(pf.n)
				st.Skipped += uint64(pf.n)
			}
		case err := <-pf.f.Err():
			return fmt.Errorf("publish: %w", err)
		case <-ctx.Done():
			return ctx.Err()
		case <-timeout.C:
			return errors.New("publish: no acknowledgement from JetStream in 2m")
		}
	}
	return nil
}

// pending is a partition's batch being filled.
type pending struct {
	data        []byte // the records so far
	n           int
	first, last uint64 // sequence numbers of the first and last record
	piece       bool   // a part of a batch too large for one message
}

// halves splits b into its first n/2 records and the rest.
func (b *pending) halves() (lo, hi pending) {
	half, at := b.n/2, 0
	for range half {
		at += bytes.IndexByte(b.data[at:], '\n') + 1
	}
	prev := bytes.LastIndexByte(b.data[:at-1], '\n') + 1 // the first half's last record
	lo = pending{data: b.data[:at:at], n: half, first: b.first, last: recordSeq(b.data[prev:at]), piece: true}
	hi = pending{data: b.data[at:], n: b.n - half, first: recordSeq(b.data[at:]), last: b.last, piece: true}
	return lo, hi
}

// recordSeq is the sequence number a target record starts with.
func recordSeq(rec []byte) uint64 {
	seq, _ := strconv.ParseUint(string(rec[:max(bytes.IndexByte(rec, '\t'), 0)]), 10, 64)
	return seq
}

// batcher cuts each partition's targets into batches of up to size, as a
// function of the input alone: a batch is flushed when it holds size
// targets, when it has waited for maxAge input positions (checked at every
// multiple of size, so a rare host does not hold the checkpoint back for
// the whole input), or at the end. A re-submit of the same input thus
// forms the same batches with the same ids.
type batcher struct {
	size   int
	maxAge uint64
	parts  []pending
	check  uint64 // the next sequence number at which ages are checked
	emit   func(p int, b *pending) error
	// record, if set, is given each target's record as it is appended,
	// before a batch it fills is emitted (the fingerprint hashes it).
	record func(seq uint64, rec []byte)
}

func newBatcher(size, partitions int, emit func(p int, b *pending) error) *batcher {
	return &batcher{size: size, maxAge: 4 * uint64(size) * uint64(partitions),
		parts: make([]pending, partitions), emit: emit}
}

// add appends t's record to partition p's batch, emitting the batch when
// it is full.
func (bt *batcher) add(p int, t *fetch.Target) error {
	if t.Seq >= bt.check {
		bt.check = (t.Seq/uint64(bt.size) + 1) * uint64(bt.size)
		for i := range bt.parts {
			if b := &bt.parts[i]; b.n > 0 && t.Seq-b.first >= bt.maxAge {
				if err := bt.flush(i); err != nil {
					return err
				}
			}
		}
	}
	b := &bt.parts[p]
	if b.n == 0 {
		b.first = t.Seq
		b.data = make([]byte, 0, bt.size*128)
	}
	start := len(b.data)
	b.data = appendTarget(b.data, t)
	if bt.record != nil {
		bt.record(t.Seq, b.data[start:])
	}
	b.n++
	b.last = t.Seq
	if b.n == bt.size {
		return bt.flush(p)
	}
	return nil
}

func (bt *batcher) flush(p int) error {
	err := bt.emit(p, &bt.parts[p])
	bt.parts[p] = pending{} // the publish keeps the data
	return err
}

func (bt *batcher) flushAll() error {
	for i := range bt.parts {
		if bt.parts[i].n > 0 {
			if err := bt.flush(i); err != nil {
				return err
			}
		}
	}
	return nil
}

// oldest returns the sequence number of the oldest target still buffered,
// or the maximum when none is.
func (bt *batcher) oldest() uint64 {
	o := ^uint64(0)
	for i := range bt.parts {
		if bt.parts[i].n > 0 {
			o = min(o, bt.parts[i].first)
		}
	}
	return o
}

// revisionMoved reports whether err is an Update refused because the key's
// revision is no longer the one given. jetstream says so with
// ErrKeyRevisionMismatch: ErrKeyExists matches only the code a stream of
// one replica answers (10071), not a replicated one's (10164), so a
// replicated runs bucket's conflict passed for another error.
func revisionMoved(err error) bool {
	return errors.Is(err, jetstream.ErrKeyRevisionMismatch) || errors.Is(err, jetstream.ErrKeyExists)
}
