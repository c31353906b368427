package dist

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/fanout/fanout/engine"
	"github.com/fanout/fanout/fetch"
)

// session is a worker serving one run: a single engine run, fed with the
// batches of every partition the worker holds, under the worker's
// --concurrency and --rate as in a local run. Giving one partition back
// needs no engine of its own: the session's Fetch answers a stopping
// partition's queued targets as canceled without a request, and their
// batches go back to the stream.
type session struct {
	w    *Worker
	meta Meta
	runs jetstream.KeyValue // the fanout_runs bucket
	kv   jetstream.KeyValue // the run's leases
	ts   jetstream.Stream   // the run's targets

	ctx    context.Context // the engine run's; each partition's derives from it
	cancel context.CancelFunc
	run    *engine.Run
	feed   chan *batch // partitions' pullers -> Next
	parts  []atomic.Pointer[partition]

	srcStop  chan struct{} // closed: Next returns io.EOF
	stopOnce sync.Once
	nparts   atomic.Int32 // partitions started and not yet forgotten

	balanced chan struct{} // closed once the worker's first balance took its partitions
	// submitted: the run's metadata said it was submitted in full, the
	// last time state read it.
	submitted atomic.Bool
	deleted   atomic.Bool    // the run was deleted: its partitions' errors need not be told
	leaving   chan struct{}  // closed when the run was deleted or the worker abandons it: no ack is waited for
	releasing sync.WaitGroup // partitions being given back, each in a goroutine of its own
	// tsCreated is when the targets stream was made: a stream of the same
	// name made later is another run's (state).
	tsCreated time.Time

	// Next's own: the batches it hands targets out of, one from each in
	// turn, and the next one's index; began once gather ran.
	turn  []*batch
	at    int
	began bool

	mu     sync.Mutex
	held   map[uint64]*batch   // targets given to the engine, by seq, no result yet
	extra  map[uint64][]*batch // a seq held by a second batch at once (a redelivery)
	closed bool                // the engine run ended: batches go back

	acks  chan ackJob
	ended chan struct{} // closed when every batch is acknowledged or handed back

	// The results goroutine's own: the compressor of result messages, and
	// result buffers of finished batches for the next ones, which would
	// otherwise each allocate (and fault in) ~350 KB.
	comp compressor
	free [][]byte
}

var (
	_ engine.Source  = (*session)(nil)
	_ engine.Fetcher = (*session)(nil)
)

// batch is one work message: up to Meta.Batch targets of one partition.
type batch struct {
	p           *partition
	msg         jetstream.Msg
	id          string // the work message's id; its results' id derives from it
	ts          []fetch.Target
	redelivered bool
	next        int // the next target Next hands out

	// Owned by the results goroutine.
	left int      // targets without a result yet
	out  []byte   // result lines so far
	back []uint64 // targets canceled before they started: they go back
}

func (w *Worker) newSession(meta Meta, runs, kv jetstream.KeyValue, ts jetstream.Stream) (*session, error) {
	s := &session{w: w, meta: meta, runs: runs, kv: kv, ts: ts,
		feed: make(chan *batch), parts: make([]atomic.Pointer[partition], meta.Partitions),
		srcStop: make(chan struct{}), balanced: make(chan struct{}), held: map[uint64]*batch{}, extra: map[uint64][]*batch{},
		acks: make(chan ackJob, 256), ended: make(chan struct{}), leaving: make(chan struct{}),
		tsCreated: ts.CachedInfo().Created}
	eng, err := engine.NewWithFetcher(w.cfg.Engine, s)
	if err != nil {
		return nil, err
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.run = eng.Start(s.ctx, s)
	ackDone := make(chan struct{})
	go s.acker(ackDone)
	go s.results(ackDone)
	return s, nil
}

// Next gives the engine the next target of the batches it holds, taking
// one from each in turn, as many batches as partitions are held: a
// partition's targets are those of a few hosts, so handing out batch after
// batch would crowd the engine's window with a few hosts at a time, each
// at its --per-host limit, and the keep-alive pool would dial about twice
// as many connections as a local run of the same list, whose input
// interleaves the hosts.
func (s *session) Next() (fetch.Target, error) {
	if !s.began {
		s.began = true
		s.gather()
	}
	for len(s.turn) < max(int(s.nparts.Load()), 1) && s.take1(false) {
	}
	for len(s.turn) == 0 {
		if !s.take1(true) {
			return fetch.Target{}, io.EOF
		}
	}
	if s.at >= len(s.turn) {
		s.at = 0
	}
	b := s.turn[s.at]
	t := b.ts[b.next]
	if b.next++; b.next == len(b.ts) {
		n := copy(s.turn[s.at:], s.turn[s.at+1:])
		s.turn[s.at+n] = nil
		s.turn = s.turn[:s.at+n]
	} else {
		s.at++
	}
	return t, nil
}

// startGather bounds how long the engine's first target waits for the
// first batch of every partition the worker took at the start.
const startGather = 50 * time.Millisecond

// gather holds the engine's first target until the first balance has
// started the worker's partitions and each has delivered a batch (or for
// startGather after that): handed out as they arrive, the first batches'
// few hosts would take every free slot up to their --per-host limit, and
// the pool would keep those connections open while the other hosts dial
// their own.
func (s *session) gather() {
	select {
	case <-s.balanced:
	case <-s.srcStop:
		return
	}
	t := time.NewTimer(startGather)
	defer t.Stop()
	for len(s.turn) < int(s.nparts.Load()) {
		select {
		case b := <-s.feed:
			if s.admit(b) {
				s.turn = append(s.turn, b)
			}
		case <-t.C:
			return
		case <-s.srcStop:
			return
		}
	}
}

// take1 receives a batch from the partitions' pullers and adds it to the
// turn unless admit hands it back. Without wait it returns false when no
// batch is ready; with wait, only once the source is stopped.
func (s *session) take1(wait bool) bool {
	var b *batch
	if wait {
		select {
		case b = <-s.feed:
		case <-s.srcStop:
			return false
		}
	} else {
		select {
		case b = <-s.feed:
		default:
			return false
		}
	}
	if s.admit(b) {
		s.turn = append(s.turn, b)
	}
	return true
}

// admit records b's targets as held by the engine, or hands b back when
// the run has ended or b's partition is stopping.
func (s *session) admit(b *batch) bool {
	s.mu.Lock()
	ok := !s.closed && b.p.state.Load() == running
	if ok {
		for i := range b.ts {
			seq := b.ts[i].Seq
			if s.held[seq] == nil {
				s.held[seq] = b
			} else {
				s.extra[seq] = append(s.extra[seq], b)
			}
		}
	}
	s.mu.Unlock()
	if !ok {
		b.p.handBack(b)
	}
	return ok
}

// take returns the batch a result belongs to and forgets the pairing.
func (s *session) take(seq uint64) *batch {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.held[seq]
	if more := s.extra[seq]; len(more) > 0 {
		s.held[seq] = more[0]
		if len(more) == 1 {
			delete(s.extra, seq)
		} else {
			s.extra[seq] = more[1:]
		}
	} else {
		delete(s.held, seq)
	}
	return b
}

// Fetch makes one attempt at t unless t's partition is stopping: then t
// gets a canceled result at once, without a request, and goes back to the
// stream for the partition's next holder. An attempt runs under its
// partition's context, which a lost lease cancels.
func (s *session) Fetch(ctx context.Context, t *fetch.Target, r *fetch.Result) {
	p := s.parts[Partition(t.HostKey, s.meta.Partitions)].Load()
	if p == nil {
		// Not its host's partition, which this worker does not hold: a
		// target queued without a HostKey (by a Submit that did not fill
		// it), which the engine took from the URL. It goes with its
		// batch's partition: sent back, it came again at once, for ever.
		p = s.partitionOf(t.Seq)
	}
	if p == nil || p.state.Load() != running {
		*r = fetch.Result{Seq: t.Seq, Input: t.Input, URL: t.URL, StartedAt: time.Now(),
			Error: &fetch.Error{Kind: fetch.KindCanceled, Message: "partition given back before the request started"}}
		return
	}
	*r = s.w.client.Fetch(p.ctx, *t)
}

// partitionOf returns the partition of the batch that gave the engine
// target seq, nil if none holds it.
func (s *session) partitionOf(seq uint64) *partition {
	s.mu.Lock()
	defer s.mu.Unlock()
	if b := s.held[seq]; b != nil {
		return b.p
	}
	return nil
}

// results gathers each batch's results; a batch whose every target has a
// result is published by finish.
func (s *session) results(ackDone <-chan struct{}) {
	defer close(s.ended)
	for r := range s.run.Results() {
		if b := s.take(r.Seq); b != nil {
			s.record(b, &r)
		}
	}
	// Targets the engine never admitted (the run stopped first) go back.
	s.mu.Lock()
	s.closed = true
	held, extra := s.held, s.extra
	s.held, s.extra = map[uint64]*batch{}, map[uint64][]*batch{}
	s.mu.Unlock()
	canceled := fetch.Result{Error: &fetch.Error{Kind: fetch.KindCanceled}}
	for seq, b := range held {
		canceled.Seq = seq
		s.record(b, &canceled)
		for _, b := range extra[seq] {
			s.record(b, &canceled)
		}
	}
	close(s.acks)
	<-ackDone
}

// record adds r to its batch, and finishes the batch at its last result.
// A canceled result means the target never ran here: it goes back.
func (s *session) record(b *batch, r *fetch.Result) {
	switch {
	case r.Error != nil && r.Error.Kind == fetch.KindCanceled:
		b.back = append(b.back, r.Seq)
	case r.Error != nil && r.Error.Save:
		// This machine cannot keep bodies: the target goes back for a
		// worker that can, and this one stops (Run).
		b.back = append(b.back, r.Seq)
		s.w.fail(fmt.Errorf("%s; stopped, its targets not done here go back to the stream for other workers", r.Error.Message))
	default:
		s.w.fetched.Add(1)
		if b.out == nil {
			b.out = s.resultBuf(len(b.ts))
		}
		// Which worker fetched it: with worker --save, where the body is.
		r.Worker = s.w.cfg.ID
		b.out = appendResultLine(b.out, r)
	}
	if b.left--; b.left == 0 {
		s.finish(b)
	}
}

// ackJob acknowledges a batch once JetStream stored what finish published.
type ackJob struct {
	b    *batch
	futs []jetstream.PubAckFuture
	done int // results stored
}

// finish publishes a batch's results as one message, whose id derives from
// the work message's: a redelivered batch's results are dropped by the
// results stream's duplicate window (and by collect in any case). A batch
// that ran only in part publishes the results it has and queues the rest
// as a new work message before the original is acknowledged, both with ids
// naming the targets that went back (not the delivery count, which starts
// again at 1 when a server restart loses the consumer: a second partial
// run of the batch then got the first one's ids, and its results were
// dropped as duplicates); one that did not run at all goes back whole.
// Results too large for one message of the server's max_payload go in
// several (publishParts). A batch whose results cannot be published goes
// back after a delay (handBackFailed), never at once: each of its targets
// would be fetched again straight away, for as long as the failure lasts.
func (s *session) finish(b *batch) {
	js := s.w.c.JS
	done := len(b.ts) - len(b.back)
	if done == 0 || closed(s.leaving) { // no result to publish, or nowhere to
		s.recycle(b)
		b.p.handBack(b)
		return
	}
	id, key := b.id, ""
	if len(b.back) > 0 {
		key = b.backKey()
		id += ".d" + key
	}
	opts := []jetstream.PublishOpt{jetstream.WithStallWait(30 * time.Second)}
	var futs []jetstream.PubAckFuture
	var f jetstream.PubAckFuture
	var err error
	m := s.comp.msg(resultSubject(s.meta.Name, done), b.out)
	if limit := s.w.c.NC.MaxPayload(); fits(len(m.Data), id, limit) {
		f, err = js.PublishMsgAsync(m, append(opts, jetstream.WithMsgID(id))...)
		futs = append(futs, f)
	} else {
		futs, err = s.publishParts(b, id, limit, len(m.Data), opts)
	}
	if err == nil && len(b.back) > 0 {
		f, err = js.PublishMsgAsync(s.comp.msg(targetSubject(s.meta.Name, b.p.n, len(b.back)), b.requeue()),
			append(opts, jetstream.WithMsgID(b.id+".q"+key))...)
		futs = append(futs, f)
	}
	// The published bodies are copies: b.out is free again, and goes back
	// before b leaves this goroutine.
	s.recycle(b)
	if err != nil {
		b.p.handBackFailed(b, err)
		return
	}
	s.acks <- ackJob{b: b, futs: futs, done: done}
}

// msgOverhead bounds the bytes a message's headers add to its body, besides
// its id: NATS/1.0, the encoding header, the Nats-Msg-Id header's name and
// line ends. The server's max_payload counts headers and body together.
const msgOverhead = 128

// fits reports whether a message of a body of n bytes with message id id
// is within the max_payload limit (<= 0: unknown, taken for no limit).
func fits(n int, id string, limit int64) bool {
	return limit <= 0 || int64(n+len(id)+msgOverhead) <= limit
}

// tooLargeLine is the result line that stands for t's result, fetched by
// worker id, size bytes compressed, which does not fit in one message of
// the server's limit.
func tooLargeLine(t *fetch.Target, id string, size int, limit int64) []byte {
	r := fetch.Result{Seq: t.Seq, Input: t.Input, URL: t.URL, StartedAt: time.Now(), Worker: id,
		Error: &fetch.Error{Kind: fetch.KindOther, Message: fmt.Sprintf(
			"its result, %d bytes compressed, is larger than the NATS server's max_payload (%d bytes): it could not be stored", size, limit)}}
	return appendResultLine(nil, &r)
}

// errResultTooLarge is the error of a batch whose results do not fit in
// messages even one a target (its inputs alone are too long).
var errResultTooLarge = errors.New("a single result is larger than the server's max_payload")

// publishParts publishes b's results, whose message of size bytes would
// exceed limit, in k parts that each fit: part i of k holds the results of
// the targets at positions [i*n/k, (i+1)*n/k) of the batch, and its id is
// id+".r<i+1>of<k>". k depends only on the size of the results (the
// smallest power of two whose parts all fit, or one target a part), so a
// batch delivered again splits alike, or with another k into parts of
// other ids: a redelivered part with the id of a part stored before holds
// results of the very same targets, and is dropped as a duplicate without
// a loss, whatever the order its results came in. (Ids naming the part
// alone, .r1, .r2, ..., would lose results: the first delivery's .r2 may
// hold other targets than the second's.) A part without results is not
// sent. This is the rare path: the common one sends one message, with no
// copy nor allocation more.
func (s *session) publishParts(b *batch, id string, limit int64, size int,
	opts []jetstream.PublishOpt) ([]jetstream.PubAckFuture, error) {
	msgs, ids, err := s.splitResults(b, id, limit, size)
	if err != nil {
		return nil, err
	}
	futs := make([]jetstream.PubAckFuture, 0, len(msgs)+1)
	for i, m := range msgs {
		f, err := s.w.c.JS.PublishMsgAsync(m, append(opts, jetstream.WithMsgID(ids[i]))...)
		if err != nil {
			return nil, err
		}
		futs = append(futs, f)
	}
	return futs, nil
}

// splitResults cuts b's results into the messages of publishParts and
// their ids; size is the compressed size of all of them in one message.
func (s *session) splitResults(b *batch, id string, limit int64, size int) ([]*nats.Msg, []string, error) {
	n := len(b.ts)
	pos := make(map[uint64]int, n)
	for i := range b.ts {
		pos[b.ts[i].Seq] = i
	}
	budget := max(limit-msgOverhead-int64(len(id))-16, 1) // 16: ".r<i>of<k>"
	k := 2
	for int64(k)*budget < int64(size) && k < n {
		k *= 2
	}
	k = min(k, n)
	var msgs []*nats.Msg
	var ids []string
	for {
		parts := make([][]byte, k)
		for data := b.out; len(data) > 0; {
			line := data
			if j := bytes.IndexByte(data, '\n'); j >= 0 {
				line, data = data[:j+1], data[j+1:]
			} else {
				data = nil
			}
			seq, err := strconv.ParseUint(string(line[:max(bytes.IndexByte(line, '\t'), 0)]), 10, 64)
			i, ok := pos[seq]
			if err != nil || !ok {
				return nil, nil, fmt.Errorf("result line %.20q: not of a target of the batch", line)
			}
			parts[i*k/n] = append(parts[i*k/n], line...)
		}
		msgs, ids = msgs[:0], ids[:0]
		tooLarge := false
		for i, part := range parts {
			if len(part) == 0 {
				continue
			}
			pid := id + ".r" + strconv.Itoa(i+1) + "of" + strconv.Itoa(k)
			m := s.comp.msg(resultSubject(s.meta.Name, bytes.Count(part, []byte{'\n'})), part)
			if !fits(len(m.Data), pid, limit) && k == n {
				// One target's result alone: sent back, its batch would
				// come again for ever. Its place takes a result saying
				// why it is not stored (one input, one result).
				m = s.comp.msg(resultSubject(s.meta.Name, 1), tooLargeLine(&b.ts[i], s.w.cfg.ID, len(m.Data), limit))
			}
			if !fits(len(m.Data), pid, limit) {
				tooLarge = true
				break
			}
			msgs, ids = append(msgs, m), append(ids, pid)
		}
		if !tooLarge {
			return msgs, ids, nil
		}
		if k == n {
			return nil, nil, fmt.Errorf("%w (%d bytes)", errResultTooLarge, limit)
		}
		k = min(2*k, n)
	}
}

// maxFreeBufs bounds the result buffers kept for reuse: about as many
// batches as a worker has open at once with the default window and batch.
const maxFreeBufs = 64

// resultBuf returns an empty buffer for the result lines of a batch of n
// targets.
func (s *session) resultBuf(n int) []byte {
	if k := len(s.free); k > 0 {
		buf := s.free[k-1]
		s.free[k-1] = nil
		s.free = s.free[:k-1]
		return buf
	}
	return make([]byte, 0, n*700)
}

// recycle keeps b's result buffer for another batch: what finish published
// was compressed into a copy.
func (s *session) recycle(b *batch) {
	if b.out != nil && len(s.free) < maxFreeBufs {
		s.free = append(s.free, b.out[:0])
	}
	b.out = nil
}

// requeue encodes the targets that go back as a work message.
func (b *batch) requeue() []byte {
	back := make(map[uint64]bool, len(b.back))
	for _, seq := range b.back {
		back[seq] = true
	}
	var data []byte
	for i := range b.ts {
		if back[b.ts[i].Seq] {
			data = appendTarget(data, &b.ts[i])
		}
	}
	return data
}

// backKey names the set of targets that go back: two partial runs of a
// batch share their message ids only if they left the same targets.
func (b *batch) backKey() string {
	seqs := slices.Sorted(slices.Values(b.back))
	h := fnv.New64a()
	var buf [8]byte
	for _, seq := range seqs {
		binary.LittleEndian.PutUint64(buf[:], seq)
		h.Write(buf[:])
	}
	return strconv.Itoa(len(seqs)) + "-" + strconv.FormatUint(h.Sum64(), 36)
}

func (s *session) acker(done chan<- struct{}) {
	defer close(done)
	for a := range s.acks {
		ok, leaving := true, false
		var failed error // the first error JetStream answered: one line per batch
		for _, f := range a.futs {
			select {
			case <-f.Ok():
			case err := <-f.Err():
				ok = false
				if failed == nil {
					failed = err
				}
			case <-s.leaving: // the stream is gone (its ack would time out), or the worker is gone
				ok, leaving = false, true
			}
		}
		switch {
		case !ok && (leaving || failed == nil):
			a.b.p.handBack(a.b)
			continue
		case !ok:
			a.b.p.handBackFailed(a.b, failed)
			continue
		}
		a.b.msg.Ack()
		s.w.done.Add(int64(a.done))
		a.b.p.untrack(a.b)
	}
}

// stopSource ends the engine's input: once what it holds is done, the
// engine run ends.
func (s *session) stopSource() { s.stopOnce.Do(func() { close(s.srcStop) }) }
