package dist

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/fanout/fanout/engine"
	"github.com/fanout/fanout/fetch"
)

// fetchBatch is how many targets the pull iterator keeps buffered.
const fetchBatch = 100

// partition is one leased partition being worked on: a pull consumer
// feeding an engine run, whose results are published and whose targets are
// acknowledged once their results are stored.
type partition struct {
	w    *Worker
	meta Meta
	n    int
	kv   jetstream.KeyValue
	cons jetstream.Consumer
	run  *engine.Run

	cancel   context.CancelFunc // aborts the engine run
	stopSrc  chan struct{}      // closed: Next returns io.EOF
	stopOnce sync.Once
	ended    chan struct{} // closed when every result is published or handed back
	keepStop chan struct{}
	keepDone chan struct{}

	it jetstream.MessagesContext

	mu       sync.Mutex
	inflight map[uint64]jetstream.Msg // given to the engine, no result yet
	rev      uint64                   // the lease's revision; keep's own until keepDone
}

var _ engine.Source = (*partition)(nil)

func (w *Worker) startPartition(ctx context.Context, s jetstream.Stream, kv jetstream.KeyValue, meta Meta, n int, rev uint64) (*partition, error) {
	cons, err := s.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
		Durable:       consumerName(n),
		FilterSubject: targetSubject(meta.Name, n),
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       meta.AckWait,
		MaxDeliver:    -1,
		MaxAckPending: w.window + fetchBatch,
		DeliverPolicy: jetstream.DeliverAllPolicy,
	})
	if err != nil {
		return nil, err
	}
	p := &partition{
		w: w, meta: meta, n: n, kv: kv, cons: cons, rev: rev,
		stopSrc: make(chan struct{}), ended: make(chan struct{}),
		keepStop: make(chan struct{}), keepDone: make(chan struct{}),
		inflight: map[uint64]jetstream.Msg{},
	}
	if p.it, err = cons.Messages(jetstream.PullMaxMessages(fetchBatch)); err != nil {
		return nil, err
	}
	var rctx context.Context
	rctx, p.cancel = context.WithCancel(context.Background())
	p.run = w.eng.Start(rctx, p)
	go p.results()
	go p.keep()
	return p, nil
}

// Next gives the engine the partition's next target. Once the partition
// is stopping it hands back whatever the iterator had buffered and returns
// io.EOF.
func (p *partition) Next() (fetch.Target, error) {
	for {
		m, err := p.it.Next()
		if err != nil {
			if errors.Is(err, jetstream.ErrMsgIteratorClosed) || closed(p.stopSrc) {
				return fetch.Target{}, io.EOF
			}
			time.Sleep(100 * time.Millisecond) // a missed heartbeat: the iterator retries
			continue
		}
		if closed(p.stopSrc) {
			m.Nak()
			continue
		}
		t, err := decodeTarget(m)
		if err != nil {
			m.Term() // malformed: redelivering it would not help
			continue
		}
		if md, err := m.Metadata(); err == nil && md.NumDelivered > 1 {
			p.w.redelivered.Add(1)
		}
		p.mu.Lock()
		p.inflight[t.Seq] = m
		p.mu.Unlock()
		return t, nil
	}
}

func (p *partition) take(seq uint64) jetstream.Msg {
	p.mu.Lock()
	defer p.mu.Unlock()
	m := p.inflight[seq]
	delete(p.inflight, seq)
	return m
}

type pendingAck struct {
	fut jetstream.PubAckFuture
	msg jetstream.Msg
}

// results publishes each result and, through acker, acknowledges its
// target once JetStream stored the result. A canceled result means the
// partition is stopping: its target goes back for another worker.
func (p *partition) results() {
	defer close(p.ended)
	acks := make(chan pendingAck, 4096)
	ackDone := make(chan struct{})
	go p.acker(acks, ackDone)
	subj := resultSubject(p.meta.Name)
	for r := range p.run.Results() {
		m := p.take(r.Seq)
		if m == nil {
			continue
		}
		if r.Error != nil && r.Error.Kind == fetch.KindCanceled {
			m.Nak()
			continue
		}
		data, err := json.Marshal(&r)
		if err != nil {
			m.Term()
			continue
		}
		msg := &nats.Msg{Subject: subj, Data: data,
			Header: nats.Header{seqHeader: []string{strconv.FormatUint(r.Seq, 10)}}}
		fut, err := p.w.c.JS.PublishMsgAsync(msg, jetstream.WithMsgID(msgID(p.meta.Name, r.Seq)),
			jetstream.WithStallWait(30*time.Second))
		if err != nil {
			m.Nak()
			continue
		}
		acks <- pendingAck{fut, m}
	}
	close(acks)
	<-ackDone
	// Targets the engine's reader took but never admitted (it stops
	// mid-handoff when the run is aborted) go back too.
	p.mu.Lock()
	for seq, m := range p.inflight {
		m.Nak()
		delete(p.inflight, seq)
	}
	p.mu.Unlock()
}

func (p *partition) acker(acks <-chan pendingAck, done chan<- struct{}) {
	defer close(done)
	for a := range acks {
		select {
		case <-a.fut.Ok():
			a.msg.Ack()
			p.w.done.Add(1)
		case <-a.fut.Err():
			a.msg.Nak()
		}
	}
}

// keep renews the lease and tells JetStream the partition's targets are
// still being worked on. If the lease is lost (taken by another worker
// after an expiry) or cannot be renewed for half its TTL, the partition
// aborts at once: another worker may soon serve the same hosts.
func (p *partition) keep() {
	defer close(p.keepDone)
	every := max(p.meta.LeaseTTL/4, 100*time.Millisecond)
	tick := time.NewTicker(every)
	defer tick.Stop()
	lastOK, lastProgress := time.Now(), time.Now()
	for {
		select {
		case <-p.keepStop:
			return
		case <-tick.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), every)
		rev, err := p.kv.Update(ctx, partitionKey(p.n), []byte(p.w.cfg.ID), p.rev)
		cancel()
		var apiErr *jetstream.APIError
		switch {
		case err == nil:
			p.rev, lastOK = rev, time.Now()
		case errors.As(err, &apiErr) || errors.Is(err, jetstream.ErrKeyExists) ||
			time.Since(lastOK) > p.meta.LeaseTTL/2:
			p.w.logf("run %s: lost the lease of partition %d: %v", p.meta.Name, p.n, err)
			p.abort()
			return
		}
		if time.Since(lastProgress) >= p.meta.AckWait/3 {
			lastProgress = time.Now()
			p.mu.Lock()
			ms := make([]jetstream.Msg, 0, len(p.inflight))
			for _, m := range p.inflight {
				ms = append(ms, m)
			}
			p.mu.Unlock()
			for _, m := range ms {
				m.InProgress()
			}
		}
	}
}

// stopSource makes Next hand back what is buffered and return io.EOF.
func (p *partition) stopSource() {
	p.stopOnce.Do(func() {
		close(p.stopSrc)
		p.it.Drain()
	})
}

// abort stops the partition now: attempts in flight are cancelled and
// every target without a result goes back. The lease is not deleted.
func (p *partition) abort() {
	p.stopSource()
	p.cancel()
}

func (p *partition) finished() bool { return closed(p.ended) }

// release gives the partition back: no new targets; with drain, queued
// targets go back at once and attempts in flight finish; without, the
// engine finishes what it holds, for at most grace (0: no bound) before
// draining. The lease is kept until the last attempt ended, so the next
// holder never overlaps with this one.
func (p *partition) release(drain bool, grace time.Duration) {
	p.stopSource()
	if drain {
		p.run.Drain()
	} else if grace > 0 {
		t := time.NewTimer(grace)
		select {
		case <-p.ended:
		case <-t.C:
			p.run.Drain()
		}
		t.Stop()
	}
	<-p.ended
	close(p.keepStop)
	<-p.keepDone
	p.cancel()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// After a lost lease the revision no longer matches: nothing happens.
	p.kv.Delete(ctx, partitionKey(p.n), jetstream.LastRevision(p.rev))
}
