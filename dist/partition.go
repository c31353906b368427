package dist

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/fanout/fanout/engine"
	"github.com/fanout/fanout/fetch"
)

// pullAhead is how many work messages (of up to batch targets each) a
// partition's pull iterator keeps buffered beyond the one waiting for the
// engine: 4, or for batches over 100 about 400 targets' worth, at least
// one message. The iterator asks again when half are left:
// with 2 batches of 100, the server parsed a pull request for every batch,
// a quarter of its CPU on the ok benchmark; 4 halves that, 8 gains little
// more. Buffered messages are not yet tracked, so no in-progress signal
// keeps them: if the engine stays full for longer than --ack-wait they are
// delivered again, which costs repeated fetches (their results are dropped
// by id and by collect), never a lost or doubled result; hence the bound
// in targets for large batches.
func pullAhead(batch int) int { return min(4, max(1, 400/batch)) }

// A partition's state: running, or stopping, when Fetch answers its queued
// targets as canceled so that they go back.
const (
	running int32 = iota
	draining
	aborted
)

// partition is one leased partition: a pull consumer whose batches feed
// the session's engine run, and the lease and in-progress keeper.
type partition struct {
	s    *session
	n    int
	cfg  jetstream.ConsumerConfig
	cons jetstream.Consumer

	ctx    context.Context // its attempts'; cancelled when the lease is lost
	cancel context.CancelFunc
	state  atomic.Int32

	stop     chan struct{} // closed: pull no more
	stopOnce sync.Once
	ended    chan struct{} // closed once the puller returned and no batch is held
	keepStop chan struct{}
	keepDone chan struct{}

	mu       sync.Mutex
	it       jetstream.MessagesContext // replaced when the consumer is created again
	batches  map[*batch]struct{}       // pulled and neither acknowledged nor handed back
	pullDone bool
	rev      uint64 // the lease's revision; keep's own until keepDone

	suspect atomic.Bool // the iterator missed heartbeats: is the consumer gone?
}

func (s *session) startPartition(ctx context.Context, n int, rev uint64) (*partition, error) {
	w, meta := s.w, s.meta
	// A single partition may fill the engine's whole window.
	window := w.cfg.Engine.Limits.Window
	if window == 0 {
		window = engine.DefaultWindow(w.cfg.Engine.Limits.Concurrency)
	}
	cfg := jetstream.ConsumerConfig{
		Durable:       consumerName(n),
		FilterSubject: partitionFilter(meta.Name, n),
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       meta.AckWait,
		MaxDeliver:    -1,
		MaxAckPending: (window+meta.Batch-1)/meta.Batch + pullAhead(meta.Batch) + 1,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		// Its state need not survive a server restart: the stream holds
		// exactly the unacknowledged batches (work-queue retention), and a
		// consumer created again starts from them. Kept in files, the
		// state of 64 consumers cost the server more CPU than the messages.
		MemoryStorage: true,
	}
	cons, err := s.ts.CreateOrUpdateConsumer(ctx, cfg)
	if err != nil {
		return nil, err
	}
	p := &partition{s: s, n: n, cfg: cfg, cons: cons, rev: rev,
		stop: make(chan struct{}), ended: make(chan struct{}),
		keepStop: make(chan struct{}), keepDone: make(chan struct{}),
		batches: map[*batch]struct{}{}}
	if p.it, err = cons.Messages(jetstream.PullMaxMessages(pullAhead(p.s.meta.Batch))); err != nil {
		return nil, err
	}
	p.ctx, p.cancel = context.WithCancel(s.ctx)
	s.parts[n].Store(p)
	s.nparts.Add(1)
	go p.pull()
	go p.keep()
	return p, nil
}

// pull hands the partition's batches to the session's engine until the
// partition stops; batches it holds then go back.
func (p *partition) pull() {
	defer func() {
		p.mu.Lock()
		p.pullDone = true
		p.checkEnded()
		p.mu.Unlock()
	}()
	p.mu.Lock()
	it := p.it
	p.mu.Unlock()
	for {
		m, err := it.Next()
		if err != nil {
			if closed(p.stop) {
				return
			}
			if errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				// ensureConsumer stopped it: the consumer was created again.
				if it = p.newIterator(); it == nil {
					return
				}
				continue
			}
			// A missed heartbeat: the iterator retries, and keep looks
			// whether the consumer still exists.
			p.suspect.Store(true)
			time.Sleep(100 * time.Millisecond)
			continue
		}
		data, err := body(m)
		var ts []fetch.Target
		if err == nil {
			ts, err = parseTargets(data)
		}
		if err != nil || len(ts) == 0 {
			p.s.w.logf("run %s: partition %d: dropping a malformed work message: %v", p.s.meta.Name, p.n, err)
			m.Term() // redelivering it would not help
			continue
		}
		b := &batch{p: p, msg: m, id: m.Headers().Get(jetstream.MsgIDHeader), ts: ts, left: len(ts)}
		if md, err := m.Metadata(); err == nil && md.NumDelivered > 1 {
			b.redelivered = true
		}
		p.track(b)
		if closed(p.stop) {
			p.handBack(b)
			continue
		}
		select {
		case p.s.feed <- b:
		case <-p.stop:
			p.handBack(b)
		}
	}
}

func (p *partition) track(b *batch) {
	w := p.s.w
	w.holding.Add(int64(len(b.ts)))
	if b.redelivered {
		w.redelivered.Add(int64(len(b.ts)))
		w.holdingRedelivered.Add(int64(len(b.ts)))
	}
	p.mu.Lock()
	p.batches[b] = struct{}{}
	p.mu.Unlock()
}

// untrack forgets b once it is acknowledged or handed back.
func (p *partition) untrack(b *batch) {
	w := p.s.w
	w.holding.Add(-int64(len(b.ts)))
	if b.redelivered {
		w.holdingRedelivered.Add(-int64(len(b.ts)))
	}
	p.mu.Lock()
	delete(p.batches, b)
	p.checkEnded()
	p.mu.Unlock()
}

// handBack returns b to the stream for another delivery.
func (p *partition) handBack(b *batch) {
	b.msg.Nak()
	p.untrack(b)
}

// Backing off a batch whose results could not be published: the first
// failure hands it back for publishRetryBase, each further delivery that
// fails again for twice as long, up to publishRetryMax.
const (
	publishRetryBase = 2 * time.Second
	publishRetryMax  = time.Minute
)

// publishRetryDelay is how long a batch delivered n times waits after its
// results failed to publish.
func publishRetryDelay(n uint64) time.Duration {
	if n < 1 {
		n = 1
	}
	return min(publishRetryBase<<min(n-1, 5), publishRetryMax)
}

// handBackFailed returns b to the stream after its results could not be
// published (err), with a delay and a line in the log. An immediate Nak
// brought the batch back at once, and each of its targets was fetched
// again, in a loop as fast as the hosts answered, without a word: a batch
// whose results were larger than the server's max_payload sent some
// 18,000 requests a second to one host.
func (p *partition) handBackFailed(b *batch, err error) {
	var n uint64 = 1
	if md, mdErr := b.msg.Metadata(); mdErr == nil {
		n = md.NumDelivered
	}
	d := publishRetryDelay(n)
	if !p.s.deleted.Load() {
		p.s.w.logf("run %s: partition %d: cannot store the results of batch %s (%d targets, delivery %d): %v; it goes back in %v",
			p.s.meta.Name, p.n, b.id, len(b.ts), n, err, d)
	}
	b.msg.NakWithDelay(d)
	p.untrack(b)
}

// checkEnded closes ended once nothing of the partition is left; p.mu held.
func (p *partition) checkEnded() {
	if p.pullDone && len(p.batches) == 0 && !closed(p.ended) {
		close(p.ended)
	}
}

// keep renews the lease and tells JetStream the partition's batches are
// still being worked on, so --ack-wait need not cover a slow host's queue.
// If the lease is lost (taken by another worker after an expiry) or cannot
// be renewed for half its TTL, the partition aborts at once: another
// worker may soon serve the same hosts.
func (p *partition) keep() {
	defer close(p.keepDone)
	meta := p.s.meta
	every := beatEvery(meta.LeaseTTL)
	tick := time.NewTicker(every)
	defer tick.Stop()
	lastOK, lastProgress := time.Now(), time.Now()
	reconnects := p.s.w.c.NC.Stats().Reconnects
	for {
		select {
		case <-p.keepStop:
			return
		case <-tick.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), every)
		rev, err := p.s.kv.Update(ctx, partitionKey(p.n), []byte(p.s.w.cfg.ID), p.rev)
		cancel()
		var apiErr *jetstream.APIError
		switch {
		case err == nil:
			p.rev, lastOK = rev, time.Now()
		case errors.As(err, &apiErr) || errors.Is(err, jetstream.ErrKeyExists) ||
			time.Since(lastOK) > meta.LeaseTTL/2:
			if !p.s.deleted.Load() {
				p.s.w.logf("run %s: lost the lease of partition %d: %v", meta.Name, p.n, err)
			}
			p.abort()
			return
		}
		// After a reconnect (a server restart?) or missed heartbeats, make
		// sure the consumer still exists; asking on every tick would cost
		// the server a request per partition and tick for nothing.
		if r := p.s.w.c.NC.Stats().Reconnects; r != reconnects || p.suspect.Swap(false) {
			if p.ensureConsumer(every) {
				reconnects = r
			}
		}
		if time.Since(lastProgress) >= meta.AckWait/3 {
			lastProgress = time.Now()
			p.mu.Lock()
			ms := make([]jetstream.Msg, 0, len(p.batches))
			for b := range p.batches {
				ms = append(ms, b.msg)
			}
			p.mu.Unlock()
			for _, m := range ms {
				m.InProgress()
			}
		}
	}
}

// ensureConsumer creates the partition's consumer again if a server
// restart lost it (its state is kept in memory), and restarts the pull
// iterator, which would otherwise wait for missed heartbeats before it
// asks again.
func (p *partition) ensureConsumer(timeout time.Duration) (ok bool) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	_, err := p.cons.Info(ctx)
	if !errors.Is(err, jetstream.ErrConsumerNotFound) {
		return err == nil
	}
	if _, err := p.s.ts.CreateOrUpdateConsumer(ctx, p.cfg); err != nil {
		p.s.w.logf("run %s: partition %d: consumer lost, cannot create it again: %v", p.s.meta.Name, p.n, err)
		return false
	}
	p.s.w.logf("run %s: partition %d: consumer lost (server restart?), created again", p.s.meta.Name, p.n)
	p.mu.Lock()
	it := p.it
	p.mu.Unlock()
	it.Stop()
	return true
}

// newIterator replaces a stopped pull iterator, unless the partition is
// stopping; nil means stop pulling.
func (p *partition) newIterator() jetstream.MessagesContext {
	for {
		p.mu.Lock()
		if closed(p.stop) {
			p.mu.Unlock()
			return nil
		}
		it, err := p.cons.Messages(jetstream.PullMaxMessages(pullAhead(p.s.meta.Batch)))
		if err == nil {
			p.it = it
			p.mu.Unlock()
			return it
		}
		p.mu.Unlock()
		time.Sleep(100 * time.Millisecond)
	}
}

// stopSource pulls no more: the iterator's buffered messages go back.
func (p *partition) stopSource() {
	p.stopOnce.Do(func() {
		p.mu.Lock()
		close(p.stop)
		it := p.it
		p.mu.Unlock()
		it.Drain()
	})
}

// drain makes the partition's queued targets go back; attempts in flight
// finish. Those the engine already queued come back from it at once,
// rather than each waiting behind the live targets for a slot: a worker
// that joins the run gets the partitions it is given the sooner.
func (p *partition) drain() {
	p.stopSource()
	if !p.state.CompareAndSwap(running, draining) {
		return
	}
	if run := p.s.run; run != nil {
		n, parts := p.n, p.s.meta.Partitions
		run.DropQueued(func(t *fetch.Target) (fetch.Result, bool) {
			if Partition(t.HostKey, parts) != n {
				return fetch.Result{}, false
			}
			return fetch.Result{URL: t.URL, StartedAt: time.Now(),
				Error: &fetch.Error{Kind: fetch.KindCanceled, Message: "partition given back before the request started"}}, true
		})
	}
}

// abort stops the partition now: attempts in flight are cancelled and
// every target without a result goes back. The lease is not deleted.
func (p *partition) abort() {
	p.stopSource()
	p.state.Store(aborted)
	p.cancel()
}

// halt ends an aborted partition's lease keeper and waits until nothing
// of the partition runs any more. The lease is neither renewed nor
// deleted: it expires after the lease TTL, as a dead process's does, and
// the partition's next holder takes it then.
func (p *partition) halt() {
	close(p.keepStop)
	<-p.keepDone
	<-p.ended
	p.forget()
}

func (p *partition) finished() bool { return closed(p.ended) }

// forget drops an ended partition from the session.
func (p *partition) forget() {
	if p.s.parts[p.n].CompareAndSwap(p, nil) {
		p.s.nparts.Add(-1)
	}
	p.cancel()
}

// release gives the partition back: no new batches; with drain, queued
// targets go back at once and attempts in flight finish; without, the
// engine finishes what it holds, for at most grace (0: no bound) before
// draining. The lease is kept until the last attempt ended, so the next
// holder never overlaps with this one.
func (p *partition) release(drain bool, grace time.Duration) {
	p.stopSource()
	if drain {
		p.drain()
	} else if grace > 0 {
		t := time.NewTimer(grace)
		select {
		case <-p.ended:
		case <-t.C:
			p.drain()
		}
		t.Stop()
	}
	<-p.ended
	close(p.keepStop)
	<-p.keepDone
	p.forget()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// After a lost lease the revision no longer matches: nothing happens.
	p.s.kv.Delete(ctx, partitionKey(p.n), jetstream.LastRevision(p.rev))
}
