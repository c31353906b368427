package dist

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/fanout/fanout/fetch"
)

// CollectOptions configure Collect.
type CollectOptions struct {
	// Follow keeps collecting until every submitted target has a result;
	// without it Collect ends once it has read what the stream holds now.
	Follow bool
	// Seen, if set, reports targets already written by an earlier
	// collect (the SQLite store's rows, on a resumed --db collect).
	Seen func(seq uint64) bool
	// FlushEvery bounds how long a written result may sit unflushed.
	FlushEvery time.Duration
	// Progress, if set, is called after each flush with the counts.
	Progress func(CollectStats)
	// Raw, if set, receives each result instead of emit, undecoded: rec is
	// its JSON Lines record (output.AppendJSONL's bytes, no newline, so
	// without "accepted") and sum holds only Seq, Status, Bytes,
	// Timing.Total, Attempts, StartedAt and Error.Kind, enough for a
	// summary and for Accept.OK. Neither may be kept after Raw returns. It
	// spares collect -f jsonl decoding and encoding every result.
	Raw func(sum *fetch.Result, rec []byte) error
	// NoWorker, if set, is called with Follow when results have stopped
	// coming while targets wait and no worker has a heartbeat in the run
	// (none runs, or those that do serve another run: a worker without
	// --run takes the oldest first): collect may wait for ever, as fanout
	// starts no workers. It is called once, and again only after a worker
	// was seen in between.
	NoWorker func(waiting uint64)
}

// CollectStats count what a Collect did.
type CollectStats struct {
	Written uint64 // results passed to emit
	// Earlier counts the targets whose result an earlier collect wrote
	// (CollectOptions.Seen), met again in the stream and skipped: not
	// duplicates, which a re-run of a collect that died took them for.
	Earlier uint64
	// Duplicates counts second results of a target (a batch delivered
	// again after its worker died), skipped.
	Duplicates uint64
	Submitted  uint64 // targets submitted so far
	Complete   bool   // the submit has finished
	// All: the submit has finished and every target has its result,
	// written now or seen before (CollectOptions.Seen).
	All bool
}

// Collect reads run's results from the start of its results stream and
// passes each target's first result to emit, in the order they were
// stored; flush is called at least every FlushEvery and at the end. The
// stream keeps every result, so a collect that died can simply be run
// again. Memory is one bit per submitted target.
func Collect(ctx context.Context, c *Conn, run string, o CollectOptions,
	emit func(*fetch.Result) error, flush func() error) (st CollectStats, err error) {
	if o.FlushEvery <= 0 {
		o.FlushEvery = 200 * time.Millisecond
	}
	runs, err := openRuns(ctx, c.JS, run)
	if err != nil {
		return st, err
	}
	meta, _, err := metaIn(ctx, runs, run)
	if err == nil {
		err = meta.usable()
	}
	if err != nil {
		return st, err
	}
	st.Submitted, st.Complete = meta.Submitted, meta.Complete
	// The results stream's creation time tells this run from a later one
	// of the same name (deleted tells a deleted run).
	rs, err := c.JS.Stream(ctx, resultStream(run))
	if err != nil {
		return st, fmt.Errorf("run %q: %w", run, err)
	}
	created := rs.CachedInfo().Created
	rd, err := startReader(ctx, c, run, 1)
	if err != nil {
		return st, err
	}
	defer func() { rd.stop() }()

	// seen: the targets written, now or before; earlier: those written
	// before and not met in the stream yet.
	var seen, earlier bitmap
	var preSeen uint64
	if o.Seen != nil {
		for s := uint64(0); s < st.Submitted; s++ {
			if o.Seen(s) {
				seen.set(s)
				earlier.set(s)
				preSeen++
			}
		}
	}
	have := func() uint64 { return st.Written + preSeen }
	defer func() { st.All = st.Complete && have() >= st.Submitted }()
	tick := time.NewTicker(o.FlushEvery)
	defer tick.Stop()
	idle := 0          // ticks with nothing received, for the non-follow end
	var pending uint64 // results emitted but not flushed
	doFlush := func() error {
		if pending == 0 {
			return nil
		}
		pending = 0
		if err := flush(); err != nil {
			return err
		}
		if o.Progress != nil {
			o.Progress(st)
		}
		return nil
	}
	// failed ends Collect with err, keeping what was emitted before it: the
	// output of a collect that fails (a malformed message) is cut short,
	// not emptier still. An output that failed to write fails the flush
	// with the same error, which is said once, not twice.
	failed := func(err error) error {
		if ferr := flush(); ferr != nil && !errors.Is(err, ferr) {
			return errors.Join(err, ferr)
		}
		return err
	}
	lastMsg := time.Now()
	told := false  // NoWorker was called, and no worker was seen since
	var buf []byte // bodies, one message at a time: collectMsg keeps nothing of them
	for {
		select {
		case m, ok := <-rd.msgs:
			if !ok {
				// Closed under a live context, the reader stopped for good
				// (its connection closed): the output is cut short.
				return st, failed(cmp.Or(ctx.Err(), fmt.Errorf("run %q: the results reader stopped", run)))
			}
			idle, lastMsg = 0, time.Now()
			md, mdErr := m.Metadata()
			if mdErr == nil {
				rd.next = md.Sequence.Stream + 1
			}
			data, err := bodyInto(&buf, m)
			if err != nil {
				return st, failed(fmt.Errorf("run %q: %w", run, err))
			}
			n, before, dups, err := collectMsg(data, o.Raw, &seen, &earlier, emit)
			st.Written += n
			st.Earlier += before
			st.Duplicates += dups
			pending += n
			if err != nil {
				return st, failed(fmt.Errorf("run %q: %w", run, err))
			}
			if o.Follow && st.Complete && have() >= st.Submitted {
				return st, flush() // every target has its result: no need to wait for a tick
			}
			if mdErr == nil && md.NumPending == 0 && !o.Follow {
				// Caught up with the stream: done unless following.
				return st, flush()
			}
		case <-tick.C:
			if err := doFlush(); err != nil {
				return st, err
			}
			idle++
			// Once the submit is complete, Submitted is final.
			if !st.Complete {
				m, _, err := metaIn(ctx, runs, run)
				if err == nil && m.Created.Equal(meta.Created) {
					st.Submitted, st.Complete = m.Submitted, m.Complete
				}
			}
			if o.Follow && st.Complete && have() >= st.Submitted {
				return st, flush()
			}
			if !o.Follow && idle*int(o.FlushEvery) >= int(2*time.Second) {
				return st, flush() // nothing in the stream at all
			}
			if time.Since(lastMsg) >= readerStall {
				lastMsg = time.Now()
				// No result for a while: a deleted run sends none ever
				// again (its stream is gone), and --follow would wait
				// forever.
				if deleted(ctx, c, run, created) {
					return st, deletedWhileCollecting(run, flush())
				}
				if rd, err = rd.restartIfStalled(ctx); err != nil {
					return st, failed(err)
				}
				if o.Follow && o.NoWorker != nil && have() < st.Submitted {
					if n, err := liveWorkers(ctx, c, run); err == nil {
						if n == 0 && !told {
							o.NoWorker(st.Submitted - have())
						}
						told = n == 0
					}
				}
			}
		case <-ctx.Done():
			flush()
			return st, ctx.Err()
		}
	}
}

// deleted reports whether run's results stream, made at created, is gone,
// or is another run's of the same name (deleted and submitted again). The
// stream's leader answers that in a cluster, while the run's metadata is
// read from any replica of its bucket, which may be behind: a missing key
// proves nothing. A failed lookup is not a reason to stop.
func deleted(ctx context.Context, c *Conn, run string, created time.Time) bool {
	actx, cancel := ctxOr(ctx, 5*time.Second)
	defer cancel()
	rs, err := c.JS.Stream(actx, resultStream(run))
	return errors.Is(err, jetstream.ErrStreamNotFound) || err == nil && !rs.CachedInfo().Created.Equal(created)
}

// liveWorkers counts the workers with a heartbeat in run's lease bucket
// (a dead worker's expires after the run's lease TTL).
func liveWorkers(ctx context.Context, c *Conn, run string) (int, error) {
	actx, cancel := ctxOr(ctx, 5*time.Second)
	defer cancel()
	kv, err := c.JS.KeyValue(actx, leaseBucket(run))
	if err != nil {
		return 0, err
	}
	keys, err := kv.ListKeysFiltered(actx, "w.>")
	if err != nil {
		return 0, err
	}
	n := 0
	for range keys.Keys() {
		n++
	}
	// The lister ends without an error when actx does: the count is then
	// partial, and a 0 from it no proof.
	return n, actx.Err()
}

// deletedWhileCollecting is Collect's error for a run deleted under it,
// once what it wrote is flushed (flushErr).
func deletedWhileCollecting(run string, flushErr error) error {
	err := fmt.Errorf("run %s %w while collecting (the results collected so far are written)", run, ErrRunDeleted)
	return errors.Join(err, flushErr)
}

// readerStall is how long collect waits for a result before it checks
// whether its consumer is stuck behind a stream that has more.
const readerStall = 5 * time.Second

// reader feeds msgs from an ordered consumer of the results stream. The
// ordered consumer recreates itself after a reconnect or missed
// heartbeats, but not in every case: when the server holding it dies in a
// cluster, the recreation can fail during the elections and the iterator
// then waits forever (nats.go #1370 and the like). So collect keeps the
// stream position it has reached and, when no result came for
// readerStall while the stream holds later messages, starts a new
// consumer there.
type reader struct {
	c    *Conn
	run  string
	next uint64 // the stream sequence after the last message received
	it   jetstream.MessagesContext
	msgs chan jetstream.Msg
	done chan struct{} // closed when the goroutine feeding msgs ended
}

func startReader(ctx context.Context, c *Conn, run string, from uint64) (*reader, error) {
	cons, err := c.JS.OrderedConsumer(ctx, resultStream(run), jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{resultFilter(run)},
		DeliverPolicy:  jetstream.DeliverByStartSequencePolicy, OptStartSeq: from})
	if err != nil {
		return nil, fmt.Errorf("run %q: results: %w", run, err)
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(1000))
	if err != nil {
		return nil, fmt.Errorf("run %q: results: %w", run, err)
	}
	rd := &reader{c: c, run: run, next: from, it: it, msgs: make(chan jetstream.Msg, 1024), done: make(chan struct{})}
	go func() {
		defer close(rd.done)
		defer close(rd.msgs)
		for {
			m, err := it.Next()
			if err != nil {
				if errors.Is(err, jetstream.ErrMsgIteratorClosed) {
					return
				}
				continue // heartbeats missed etc.: the ordered consumer recovers, or restartIfStalled does
			}
			select {
			case rd.msgs <- m:
			case <-ctx.Done():
				return
			}
		}
	}()
	return rd, nil
}

// stop ends the iterator and waits for the goroutine, dropping what it had
// buffered (a new reader starts after the last message taken from msgs).
func (rd *reader) stop() {
	rd.it.Stop()
	for range rd.msgs {
	}
	<-rd.done
}

// restartIfStalled replaces rd with a reader starting at rd.next when the
// stream has messages at or past it, and returns rd itself otherwise or
// when the stream cannot be asked now (the next stall check tries again).
func (rd *reader) restartIfStalled(ctx context.Context) (*reader, error) {
	actx, cancel := ctxOr(ctx, 5*time.Second)
	defer cancel()
	s, err := rd.c.JS.Stream(actx, resultStream(rd.run))
	if err != nil {
		return rd, nil
	}
	info, err := s.Info(actx)
	if err != nil || info.State.LastSeq < rd.next {
		return rd, nil
	}
	next, err := startReader(ctx, rd.c, rd.run, rd.next)
	if err != nil {
		return rd, nil
	}
	rd.stop()
	return next, nil
}

// collectMsg passes each result of a result message whose target has no
// result yet to raw, or decoded to emit, and marks it seen. Of the others,
// the first met of a target in earlier (written by an earlier collect)
// counts as before, and leaves earlier; the rest count as dups.
func collectMsg(data []byte, raw func(*fetch.Result, []byte) error, seen, earlier *bitmap,
	emit func(*fetch.Result) error) (written, before, dups uint64, err error) {
	var l resultLine
	for len(data) > 0 {
		if data, err = nextResultLine(data, &l); err != nil {
			return written, before, dups, err
		}
		if seen.has(l.seq) {
			if earlier.has(l.seq) {
				earlier.clear(l.seq)
				before++
			} else {
				dups++
			}
			continue
		}
		if raw != nil {
			err = raw(&l.summary, l.json)
		} else {
			var r fetch.Result
			if err := json.Unmarshal(l.json, &r); err != nil {
				return written, before, dups, fmt.Errorf("result %d: %w", l.seq, err)
			}
			r.Seq = l.seq
			err = emit(&r)
		}
		if err != nil {
			return written, before, dups, err
		}
		seen.set(l.seq)
		written++
	}
	return written, before, dups, nil
}

// bitmap is a growable set of sequence numbers: one bit per target.
type bitmap []uint64

func (b *bitmap) set(i uint64) {
	w := int(i / 64)
	for len(*b) <= w {
		*b = append(*b, 0)
	}
	(*b)[w] |= 1 << (i % 64)
}

func (b bitmap) clear(i uint64) {
	if w := int(i / 64); w < len(b) {
		b[w] &^= 1 << (i % 64)
	}
}

func (b bitmap) has(i uint64) bool {
	w := int(i / 64)
	return w < len(b) && b[w]&(1<<(i%64)) != 0
}
