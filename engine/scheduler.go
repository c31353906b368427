package engine

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/idna"
	"golang.org/x/time/rate"

	"github.com/fanout/fanout/fetch"
	"github.com/fanout/fanout/internal/humantime"
)

// task is one admitted target and its attempts so far. The scheduler owns
// it while it is queued or waiting; an attempt goroutine owns it while it
// runs, and hands it back through an outcome.
type task struct {
	t        fetch.Target
	host     *host
	attempts int
	last     *fetch.Result // the previous attempt, while waiting for a retry
	started  time.Time     // when its latest attempt was dispatched
}

// host is the scheduling state of one host key.
type host struct {
	key         string
	queue       ring[*task]
	inflight    int
	limit       int       // in flight allowed now: --per-host, halved by each 429
	pending     int       // queued + waiting for a retry + in flight
	lastSlowed  time.Time // the last 429 that lowered limit
	lim         *rate.Limiter
	pausedUntil time.Time // Retry-After, 429 backoff or host-rate wait
	inReady     bool
	failures    int       // attempts in a row that failed at the host (hostFailed)
	failingFrom time.Time // when the first of them ended
	expireAt    time.Time // the latest expire event pushed for it (forget)
	skipUntil   time.Time // the end of its last skip (--max-host-errors); zero once it answered
	heldFrom    time.Time // when a skip the host asked for (Retry-After) began; zero for others
	skipWhy     string    // the failure that started the last skip, for the results
}

type outcomeKind int

const (
	attemptDone  outcomeKind = iota // an attempt ended and delivered its result
	attemptRetry                    // an attempt ended and wants another
	emitted                         // a result delivered without an attempt
	hostNotice                      // an attempt about to deliver asks its host to slow down or wait
)

type outcome struct {
	kind  outcomeKind
	task  *task
	res   *fetch.Result // attemptRetry: the attempt's result
	delay time.Duration // attemptRetry: wait before the next attempt; with pause, also how long the host waits (hostNotice: only that)
	pause bool          // the whole host should wait delay too
	slow  bool          // the host answered 429: lower its concurrency
	says  verdict       // attemptRetry, attemptDone: what the attempt says of its host
	why   string        // with says == hostFailed: the failure, for a skip's results
	// attemptDone: the host asked, with Retry-After, to be left alone for
	// this long, beyond --max-retry-wait; its targets are skipped as long.
	holdOff time.Duration
}

// event is a timer-heap entry: a retry falling due, a host's pause ending,
// or an idle host's state becoming safe to forget.
type event struct {
	at     time.Time
	task   *task
	host   *host
	expire bool
}

type eventHeap []event

func (h eventHeap) Len() int           { return len(h) }
func (h eventHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h eventHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *eventHeap) Push(x any)        { *h = append(*h, x.(event)) }
func (h *eventHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = event{}
	*h = old[:len(old)-1]
	return e
}

// scheduler is one run's dispatcher. A single goroutine (loop) owns every
// field below except those documented otherwise, so it needs no locks.
type scheduler struct {
	ctx     context.Context
	fctx    context.Context // ctx with the hop gate, for fetches
	gate    *skipGate       // hosts being skipped, for other hosts' redirects (the one shared field)
	parent  context.Context // the caller's, which ctx derives from; not cancelled by Stop
	cfg     Config
	fetcher Fetcher
	method  string // the request's method as cfg.Request says, for retries
	run     *Run
	window  int

	hosts      map[string]*host
	ready      ring[*host] // hosts that may start an attempt now, round-robin
	events     eventHeap
	glim       *rate.Limiter
	globalWake time.Time
	admitted   int // targets read and not yet finished
	running    int
	stopped    error       // why admission ended early: errDrained or the context's error
	skips      ring[*task] // targets of skipped hosts, each with its result in last, for skipc
	skipc      chan *task  // loop -> skipper; made with the first skip

	outcomes chan outcome   // workers -> loop
	work     chan *task     // loop -> workers; each send is for an idle or a new worker
	workers  int            // worker goroutines started
	idle     int            // workers waiting for work
	wg       sync.WaitGroup // workers and emit goroutines
}

var errDrained = errors.New("run drained")

// maxBuffer caps the channels sized by the concurrency: at a million
// targets in flight, channels that deep would cost more per target than
// the target itself. A full channel only makes its sender wait briefly.
const maxBuffer = 4096

func newScheduler(ctx context.Context, cfg Config, f Fetcher, r *Run) *scheduler {
	s := &scheduler{
		ctx:      ctx,
		parent:   ctx,
		cfg:      cfg,
		fetcher:  f,
		method:   cfg.Request.RequestMethod(),
		run:      r,
		window:   cfg.Limits.window(),
		hosts:    make(map[string]*host),
		outcomes: make(chan outcome, min(cfg.Limits.Concurrency, maxBuffer)),
		work:     make(chan *task, min(cfg.Limits.Concurrency, maxBuffer)),
		gate:     &skipGate{hosts: make(map[string]skipEntry)},
	}
	s.fctx = fetch.WithHopGate(ctx, s.gate.why)
	if cfg.Limits.Rate > 0 {
		s.glim = rate.NewLimiter(rate.Limit(cfg.Limits.Rate), 1)
	}
	return s
}

// next is src.Next, with a panic (in a Source a user wrote) turned into
// the source's error: it is on the reader's goroutine, where the caller
// could not recover it.
func next(src Source) (t fetch.Target, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("engine: the source panicked: %v", p)
		}
	}()
	return src.Next()
}

// reader feeds targets from src into in until src ends or stop is closed.
// After stop it takes no more targets, but still hands over the one it
// holds, which the loop gives a stopped result. A Source blocked in Next
// when the run ends is abandoned, not waited for: it exits once Next
// returns (ended is closed), and that target gets no result.
//
// inNext says whether the reader is in Next (or about to call it): the
// loop waits for a reader that holds a target, not for one in Next. It is
// set before stop is looked at, and the loop closes stop before it reads
// inNext, so a reader the loop does not wait for takes nothing more.
func reader(src Source, in chan<- fetch.Target, errc chan<- error, stop, ended <-chan struct{}, inNext *atomic.Bool) {
	defer close(in)
	for {
		inNext.Store(true)
		select {
		case <-stop:
			inNext.Store(false)
			return
		default:
		}
		t, err := next(src)
		inNext.Store(false)
		if err != nil {
			if !errors.Is(err, io.EOF) {
				errc <- err
			}
			return
		}
		select {
		case in <- t: // after stop too: the loop waits for it
		case <-ended: // the loop took it for in Next: abandoned
			return
		}
	}
}

func (s *scheduler) loop(src Source) {
	in := make(chan fetch.Target)
	errc := make(chan error, 1)
	stop := make(chan struct{})
	var inNext atomic.Bool
	if err := s.ctx.Err(); err != nil {
		// Cancelled before it began: a cancel reads nothing more, so
		// this run reads nothing at all. Reading targets only to give
		// each a canceled result would take a whole window of them from
		// the source (an unbounded one never runs dry), and the ones
		// taken would be lost to a caller who reads it again.
		s.stopped = err
		in = nil
	} else {
		go reader(src, in, errc, stop, s.run.ended, &inNext)
	}

	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	ctxDone, drain := s.ctx.Done(), s.run.drain
	var srcErr error

	stopReader := func() { // after a drain, a cancel stops the run again
		select {
		case <-stop:
		default:
			close(stop) // no more targets; the one the reader holds still comes
		}
	}
	for {
		now := time.Now()
		s.fire(now)
		s.dispatch(now)
		if s.admitted == 0 && (in == nil || s.stopped != nil && inNext.Load()) {
			break // (a reader in Next is abandoned; one holding a target is waited for)
		}
		var recv <-chan fetch.Target
		if in != nil && (s.admitted < s.window || s.stopped != nil) {
			recv = in
		}
		var skipc chan<- *task
		var skipped *task
		if s.skips.len() > 0 {
			skipc, skipped = s.skipc, s.skips.front()
		}
		var timerC <-chan time.Time
		if wake := s.nextWake(now); !wake.IsZero() {
			timer.Reset(wake.Sub(now))
			timerC = timer.C
		}
		select {
		case t, ok := <-recv:
			if !ok {
				in = nil
				if s.stopped == nil { // after a stop the source's end is not the run's concern
					select {
					case srcErr = <-errc:
					default:
					}
				}
				continue
			}
			if s.stopped != nil && t.Invalid == "" {
				// Taken from the source as the run stopped: it still
				// gets its one result. (An invalid one gets its own,
				// from admit, with no attempt.)
				s.admitted++
				s.run.read.Add(1)
				tk := &task{t: t}
				s.emit(tk, s.stoppedResult(tk, nil))
				continue
			}
			s.admit(t)
		case o := <-s.outcomes:
			s.handle(o)
		case skipc <- skipped:
			s.skips.popFront()
			s.skips.release()
		case <-timerC:
		case <-ctxDone:
			ctxDone, drain = nil, nil
			s.stop(s.ctx.Err())
			stopReader()
		case <-drain:
			drain = nil
			s.stop(errDrained)
			stopReader()
		case req := <-s.run.drops:
			req.panicked = s.dropQueued(req.drop)
			close(req.done)
		}
		timer.Stop()
	}
	close(s.run.ended)
	close(s.work)
	if s.skipc != nil {
		close(s.skipc)
	}
	s.wg.Wait()
	s.run.cancel()
	if srcErr == nil && s.run.read.Load() == 0 && s.stopped != nil && !errors.Is(s.stopped, errDrained) {
		// The caller's context ended the run before it read a target:
		// no result can say so, and an empty run with no error would
		// pass for an empty input. Once a target is read, its canceled
		// result tells, as in any cancel. nil after Stop, which the
		// caller asked for.
		srcErr = s.parent.Err()
	}
	if srcErr != nil {
		s.run.err.Store(&srcErr)
	}
	close(s.run.results)
}

// dropQueued gives the queued targets drop picks the result it returns,
// without attempts; the others keep their order. A panic in drop (code the
// caller wrote, on the run's goroutine, where it could not be recovered)
// ends the look: it is returned for DropQueued to raise in its caller's
// goroutine, and every target not yet looked at stays queued.
func (s *scheduler) dropQueued(drop func(t *fetch.Target) (fetch.Result, bool)) (panicked any) {
	call := func(t *fetch.Target) (r fetch.Result, ok bool) {
		defer func() {
			if p := recover(); p != nil {
				panicked, ok = p, false
			}
		}()
		return drop(t)
	}
	for _, h := range s.hosts {
		for range h.queue.len() {
			tk := h.queue.popFront()
			var r fetch.Result
			ok := false
			if panicked == nil {
				r, ok = call(&tk.t)
			}
			if !ok {
				h.queue.pushBack(tk)
				continue
			}
			r.Seq, r.Input, r.Attempts = tk.t.Seq, tk.t.Input, tk.attempts
			s.emit(tk, r) // its outcome updates the host's count
		}
		h.queue.release()
	}
	return panicked
}

// admit takes a target into the window: invalid ones get their result at
// once, valid ones join their host's queue.
func (s *scheduler) admit(t fetch.Target) {
	s.admitted++
	s.run.read.Add(1)
	if t.Invalid != "" {
		s.emit(&task{t: t}, fetch.Result{
			Seq: t.Seq, Input: t.Input, URL: t.URL, StartedAt: time.Now(),
			Error: &fetch.Error{Kind: fetch.KindInvalidURL, Message: t.Invalid},
		})
		return
	}
	if t.HostKey == "" {
		// A target built by hand: without its own key every host would
		// share one queue, and --per-host would be a global limit.
		t.HostKey = fetch.HostKeyOf(t.URL)
	}
	h := s.hosts[t.HostKey]
	if h == nil {
		h = &host{key: t.HostKey, limit: s.cfg.Limits.PerHost}
		if s.cfg.Limits.HostRate > 0 {
			h.lim = rate.NewLimiter(rate.Limit(s.cfg.Limits.HostRate), 1)
		}
		s.hosts[t.HostKey] = h
	}
	h.pending++
	now := time.Now()
	if h.skipping(now) {
		s.skip(&task{t: t, host: h})
		return
	}
	h.queue.pushBack(&task{t: t, host: h})
	s.markReady(h, now)
}

// skipping reports whether h's targets are being skipped now.
func (h *host) skipping(now time.Time) bool { return h.skipUntil.After(now) }

// probing reports whether h is on probation: skipped before, and not
// answered since. Its first failure skips it again, so a host still down
// costs at most --per-host attempts a period, and one still saying "later"
// one wait.
func (h *host) probing(now time.Time) bool { return !h.skipUntil.IsZero() && !h.skipping(now) }

// judge counts what an attempt said of its host, and starts skipping the
// host's targets when --max-host-errors attempts in a row failed there, or
// at least MinHostErrors did over HostFailingPer times --max-host-errors
// (a minute at 30), or the first attempt after a skip failed, or the host
// asked with Retry-After for longer than --max-retry-wait (then for that
// long).
func (s *scheduler) judge(h *host, o outcome, now time.Time) {
	n := s.cfg.Limits.MaxHostErrors
	switch {
	case n == 0 || o.says == saysNothing:
		return
	case o.says == hostAnswered && h.skipping(now) && o.task != nil && o.task.started.Before(h.heldFrom):
		// An answer to a request sent before the host asked for time
		// off: the ask stands (a rate limiter's 200s and its 429 come in
		// one burst).
		return
	case o.says == hostAnswered:
		if !h.skipUntil.IsZero() {
			s.gate.drop(h.key)
		}
		h.failures, h.failingFrom, h.skipUntil, h.heldFrom = 0, time.Time{}, time.Time{}, time.Time{}
		return
	case h.skipping(now) && !now.Add(o.holdOff).After(h.skipUntil):
		return // an attempt in flight when the skip began: nothing to add
	}
	if h.failures++; h.failures == 1 {
		h.failingFrom = now
	}
	failing := now.Sub(h.failingFrom)
	skipFor := s.cfg.Limits.skipFor()
	var why string
	switch {
	case o.holdOff > 0:
		// Its other targets would get the same answer, and each one
		// sent would be a request it asked not to have: honoured by
		// sending none for as long, not by hammering sooner.
		skipFor = o.holdOff
		why = "not fetched: this host asked to be left alone (" + o.why + "), longer than --max-retry-wait " +
			humantime.Duration(s.cfg.Retry.MaxWait)
	case h.probing(now):
		why = fmt.Sprintf("not fetched: this host failed again when tried after a skip (%s)", o.why)
	case h.failures >= n:
		why = fmt.Sprintf("not fetched: %d attempts in a row failed at this host (the last: %s)", h.failures, o.why)
	case h.failures >= MinHostErrors && failing >= time.Duration(n)*HostFailingPer:
		why = fmt.Sprintf("not fetched: %d attempts in a row failed at this host over %s (the last: %s)",
			h.failures, humantime.Duration(failing), o.why)
	default:
		return
	}
	h.skipUntil = now.Add(skipFor)
	h.heldFrom = time.Time{}
	if o.holdOff > 0 {
		h.heldFrom = now
	}
	h.skipWhy = why + ", so its targets are skipped for " + humantime.Duration(skipFor) + " (--max-host-errors)"
	s.gate.set(h.key, h.skipUntil, h.skipWhy)
	h.failures, h.failingFrom = 0, time.Time{}
	for h.queue.len() > 0 {
		s.skip(h.queue.popFront())
	}
	h.queue.release()
	s.skipWaiting(h)
}

// skipWaiting takes h's targets waiting to retry out of the timer heap and
// gives them their last attempts' results now: a wait of up to
// --max-retry-wait for an attempt that will not be made would hold the
// end of the run. (Once h is skipped no target of it waits again: handle
// skips a retry at once.)
func (s *scheduler) skipWaiting(h *host) {
	kept := s.events[:0]
	for _, e := range s.events {
		if e.task != nil && e.task.host == h {
			s.run.waiting.Add(-1)
			s.skip(e.task)
			continue
		}
		kept = append(kept, e)
	}
	clear(s.events[len(kept):])
	if len(kept) < len(s.events) {
		s.events = kept
		heap.Init(&s.events)
	}
}

// skip gives tk its result without an attempt because its host is being
// skipped: its last attempt's result if it has one (a target that was
// waiting to retry), else one of kind skipped. The skipper goroutine
// delivers them in turn, as stop's do: a goroutine each would cost a stack
// per target, up to the whole window, when a host with thousands queued
// is skipped.
func (s *scheduler) skip(tk *task) {
	if tk.last == nil {
		tk.last = &fetch.Result{Seq: tk.t.Seq, Input: tk.t.Input, URL: tk.t.URL, Attempts: tk.attempts,
			StartedAt: time.Now(), Error: &fetch.Error{Kind: fetch.KindSkipped, Message: tk.host.skipWhy}}
	}
	if s.skipc == nil {
		s.skipc = make(chan *task)
		s.wg.Add(1)
		go s.skipper(s.skipc)
	}
	s.skips.pushBack(tk)
}

// skipper delivers the results skip prepared.
func (s *scheduler) skipper(tasks <-chan *task) {
	defer s.wg.Done()
	for tk := range tasks {
		s.deliver(tk.last)
		if e := tk.last.Error; e != nil && e.Kind == fetch.KindSkipped { // not a last attempt's result
			s.run.skipped.Add(1)
		}
		s.outcomes <- outcome{kind: emitted, task: tk}
	}
}

// markReady puts h on the ready list if it may start an attempt now.
func (s *scheduler) markReady(h *host, now time.Time) {
	if h.inReady || h.queue.len() == 0 || h.inflight >= h.limit || h.pausedUntil.After(now) {
		return
	}
	h.inReady = true
	s.ready.pushBack(h)
}

// dispatch starts attempts while a slot is free and some host is ready.
func (s *scheduler) dispatch(now time.Time) {
	for s.running < s.cfg.Limits.Concurrency && s.ready.len() > 0 {
		if s.globalWake.After(now) {
			return
		}
		h := s.ready.popFront()
		h.inReady = false
		if h.queue.len() == 0 || h.inflight >= h.limit || h.pausedUntil.After(now) {
			continue // stale entry: the host changed since it was listed
		}
		tk := h.queue.front()
		// A host-rate token is taken only by an attempt that starts now.
		// Without one the host is parked until it comes, so the wait
		// costs no worker; nothing else draws on the host's limiter, so
		// it is there then, for whichever target is at the front by then.
		// (A token reserved ahead for the target at the front broke the
		// rate twice: a retry falling due during the wait went first and
		// reserved a second token, and both started at once; and a start
		// the global --rate held back came late on its reserved token,
		// with the next one still due at the reserved time's pace.)
		var hostTok *rate.Reservation
		if h.lim != nil {
			hostTok = h.lim.ReserveN(now, 1)
			if d := hostTok.DelayFrom(now); d > 0 {
				hostTok.CancelAt(now)
				s.pause(h, now.Add(d))
				continue
			}
		}
		if s.glim != nil && !s.glim.AllowN(now, 1) {
			if hostTok != nil {
				hostTok.CancelAt(now) // it waits with the host for the global one
			}
			r := s.glim.ReserveN(now, 1)
			s.globalWake = now.Add(r.DelayFrom(now))
			r.CancelAt(now)
			h.inReady = true
			s.ready.pushFront(h)
			return
		}
		h.queue.popFront()
		h.queue.release()
		h.inflight++
		s.running++
		s.run.inflight.Add(1)
		if tk.attempts > 0 {
			s.run.retries.Add(1)
		}
		tk.started = now
		s.start(tk)
		s.markReady(h, now)
	}
}

// pause keeps h from starting attempts until at.
func (s *scheduler) pause(h *host, at time.Time) {
	if !at.After(h.pausedUntil) {
		return
	}
	h.pausedUntil = at
	heap.Push(&s.events, event{at: at, host: h})
}

// fire handles every timer event due by now.
func (s *scheduler) fire(now time.Time) {
	for len(s.events) > 0 && !s.events[0].at.After(now) {
		e := heap.Pop(&s.events).(event)
		switch {
		case e.task != nil:
			s.run.waiting.Add(-1)
			e.task.host.queue.pushFront(e.task)
			s.markReady(e.task.host, now)
		case e.expire:
			s.forget(e.host, now)
		default:
			s.markReady(e.host, now)
		}
	}
}

// nextWake is when the loop must look again without any message: the next
// timer event, or the end of a global rate wait.
func (s *scheduler) nextWake(now time.Time) time.Time {
	var at time.Time
	if len(s.events) > 0 {
		at = s.events[0].at
	}
	if s.globalWake.After(now) && s.ready.len() > 0 && (at.IsZero() || s.globalWake.Before(at)) {
		at = s.globalWake
	}
	return at
}

// handle applies an outcome sent by an attempt or emit goroutine.
func (s *scheduler) handle(o outcome) {
	tk, h := o.task, o.task.host
	if o.kind == hostNotice {
		now := time.Now()
		if o.slow {
			s.slowDown(h, tk.started, now)
		}
		if o.pause {
			s.pause(h, now.Add(o.delay))
		}
		return
	}
	if o.kind != emitted {
		h.inflight--
		s.running--
		s.idle++
		s.run.inflight.Add(-1)
	}
	now := time.Now()
	if o.slow {
		s.slowDown(h, tk.started, now)
	}
	if o.kind != emitted {
		s.judge(h, o, now)
	}
	switch {
	case o.kind == attemptRetry && s.stopped == nil && h.skipping(now):
		tk.last = o.res // its answer is its result: the host is not tried again now
		s.skip(tk)
	case o.kind == attemptRetry && s.stopped == nil:
		tk.last = o.res
		at := now.Add(o.delay)
		if o.pause {
			s.pause(h, at)
		}
		s.run.waiting.Add(1)
		heap.Push(&s.events, event{at: at, task: tk})
	case o.kind == attemptRetry:
		s.emit(tk, s.stoppedResult(tk, o.res))
	default:
		s.admitted--
		if h != nil { // a pause came before, in a hostNotice: forget keeps the host
			h.pending--
			if h.pending == 0 {
				s.forget(h, now)
			}
		}
	}
	if h != nil {
		s.markReady(h, now)
	}
}

// forget drops an idle host's state once nothing depends on it: its pause
// is over and its rate limiter is full again, so a host seen again later
// starts exactly as the old state would have let it. Until then an expire
// event comes back to look again.
func (s *scheduler) forget(h *host, now time.Time) {
	if h.pending > 0 || s.hosts[h.key] != h {
		return
	}
	at := h.pausedUntil
	if h.limit < s.cfg.Limits.PerHost {
		at = maxTime(at, h.lastSlowed.Add(slowMemory))
	}
	if h.skipping(now) {
		at = maxTime(at, h.skipUntil) // a skipped host's next target is skipped too
	} else if h.probing(now) {
		at = maxTime(at, h.skipUntil.Add(s.cfg.Limits.skipFor())) // and after, it is on probation for as long
	}
	if h.lim != nil {
		if missing := 1 - h.lim.TokensAt(now); missing > 0 {
			// Capped: at a rate of a token a century the float overflows
			// time.Duration, the wait came out negative, and the host was
			// forgotten at once, its next target started on a fresh limiter.
			wait := min(missing/float64(h.lim.Limit())*float64(time.Second), float64(maxWait))
			at = maxTime(at, now.Add(time.Duration(wait)+time.Millisecond))
		}
	}
	if at.After(now) {
		// One event a host: an idle host's pending falls to 0 once per
		// target, as often as targets come for a skipped one, and an
		// event each would pile up by the thousand. One already due at
		// or after at looks again then.
		if at.After(h.expireAt) {
			h.expireAt = at
			heap.Push(&s.events, event{at: at, host: h, expire: true})
		}
		return
	}
	if !h.skipUntil.IsZero() {
		s.gate.drop(h.key)
	}
	delete(s.hosts, h.key)
}

// skipGate is the hosts being skipped, for the fetches' HopGate: a target
// of another host redirected to one of them ends at the redirect, as that
// host's own targets end unfetched; otherwise a host left alone for failing,
// or for asking to be, kept getting requests through others' links. It is
// written by the loop when a skip begins or ends, and read by fetches at
// each redirect to another host: read-mostly, hence the RWMutex.
type skipGate struct {
	mu    sync.RWMutex
	hosts map[string]skipEntry // host key -> its skip; dropped when it ends or the host is forgotten
}

type skipEntry struct {
	until time.Time
	why   string // the skip's reason, as its targets' results give it
}

func (g *skipGate) set(key string, until time.Time, why string) {
	g.mu.Lock()
	g.hosts[key] = skipEntry{until, why}
	g.mu.Unlock()
}

func (g *skipGate) drop(key string) {
	g.mu.Lock()
	delete(g.hosts, key)
	g.mu.Unlock()
}

// why is the HopGate: why a redirect to key is not followed, or "".
func (g *skipGate) why(key string) string {
	g.mu.RLock()
	e, ok := g.hosts[key]
	g.mu.RUnlock()
	if !ok || !e.until.After(time.Now()) {
		return ""
	}
	return "its host " + key + " is being skipped: " + strings.TrimPrefix(e.why, "not fetched: ")
}

// maxWait bounds a computed wait that could overflow time.Duration.
const maxWait = 100 * 365 * 24 * time.Hour

// slowMemory is how long a host that answered 429 keeps its lowered
// concurrency after it goes idle.
const slowMemory = time.Minute

// slowDown halves h's concurrency after a 429 to an attempt started since
// the last cut (so a burst of 429s to requests that were already in flight
// counts once, as TCP cuts its window once per round trip): a site that
// says "too many" gets fewer requests at once for the rest of the run.
func (s *scheduler) slowDown(h *host, started, now time.Time) {
	if !started.After(h.lastSlowed) {
		return
	}
	h.limit = max(1, h.limit/2)
	h.lastSlowed = now
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// stop ends admission: queued targets and those waiting for a retry get
// their results now; attempts in flight finish (drain) or are being
// cancelled by the context (abort).
//
// Their results go out through one goroutine, in turn: a goroutine each
// (emit) would cost a stack per target at once, up to the whole window
// (with --window 200000, half a gigabyte at the Ctrl-C) while the consumer
// takes them.
func (s *scheduler) stop(why error) {
	s.stopped = why
	var stopped []stoppedTask
	for _, h := range s.hosts {
		for h.queue.len() > 0 {
			stopped = append(stopped, stoppedTask{tk: h.queue.popFront()})
		}
		h.queue.release()
		h.inReady = false
	}
	s.ready = ring[*host]{}
	for _, e := range s.events {
		if e.task != nil {
			s.run.waiting.Add(-1)
			stopped = append(stopped, stoppedTask{tk: e.task, last: e.task.last})
		}
	}
	s.events = nil
	if len(stopped) == 0 {
		return
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for i := range stopped {
			st := &stopped[i]
			r := stoppedResult(why, st.tk, st.last)
			s.deliver(&r)
			s.outcomes <- outcome{kind: emitted, task: st.tk}
			*st = stoppedTask{}
		}
	}()
}

// stoppedTask is a target stop gives its result, with its last attempt's
// result when it was waiting for a retry.
type stoppedTask struct {
	tk   *task
	last *fetch.Result
}

// stoppedResult is the result of a target the run stopped before it could
// finish. After a drain, a target waiting for a retry keeps its last real
// result, which says what happened; everything else is canceled.
func (s *scheduler) stoppedResult(tk *task, last *fetch.Result) fetch.Result {
	return stoppedResult(s.stopped, tk, last)
}

// stoppedResult is the result of tk after the run stopped for why.
func stoppedResult(why error, tk *task, last *fetch.Result) fetch.Result {
	if last != nil && errors.Is(why, errDrained) {
		return *last
	}
	r := fetch.Result{Seq: tk.t.Seq, Input: tk.t.Input, URL: tk.t.URL, StartedAt: time.Now()}
	if last != nil {
		r = *last
	}
	msg := "run interrupted before this target started"
	if tk.attempts > 0 {
		msg = "run canceled while waiting to retry"
	}
	r.Error = &fetch.Error{Kind: fetch.KindCanceled, Message: msg}
	return r
}

// emit delivers a result that needs no attempt, from its own goroutine so
// the loop never blocks on a slow consumer.
func (s *scheduler) emit(tk *task, r fetch.Result) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.deliver(&r)
		s.outcomes <- outcome{kind: emitted, task: tk}
	}()
}

// deliver sends *r to the consumer. A pointer, so the caller's frame holds
// no extra copy of a result for the call.
func (s *scheduler) deliver(r *fetch.Result) {
	s.run.results <- *r
	s.run.done.Add(1)
}

// start hands tk to an idle worker, or to a new one while fewer than the
// concurrency exist. Workers live for the whole run: a new goroutine per
// attempt would grow a fresh stack through net/http's depth every time.
func (s *scheduler) start(tk *task) {
	if s.idle > 0 {
		s.idle--
	} else {
		s.workers++
		s.wg.Add(1)
		go s.worker()
	}
	s.work <- tk
}

func (s *scheduler) worker() {
	defer s.wg.Done()
	for tk := range s.work {
		s.attempt(tk)
	}
}

// fetch runs the Fetcher, turning a panic of one a user plugged in into the
// target's failure (kind other) instead of the end of the program: the
// panic would be on a goroutine the caller cannot recover.
func (s *scheduler) fetch(t *fetch.Target, r *fetch.Result) {
	defer func() {
		if p := recover(); p != nil {
			*r = fetch.Result{URL: t.URL, StartedAt: time.Now(),
				Error: &fetch.Error{Kind: fetch.KindOther, Message: fmt.Sprintf("internal error: the fetcher panicked: %v", p)}}
		}
	}()
	s.fetcher.Fetch(s.fctx, t, r)
}

// attempt runs one attempt at tk and reports back.
func (s *scheduler) attempt(tk *task) {
	tk.attempts++
	r := new(fetch.Result) // on the heap, so this frame stays small (see Fetcher)
	s.fetch(&tk.t, r)
	r.Seq, r.Input, r.Attempts = tk.t.Seq, tk.t.Input, tk.attempts
	slow := r.Status == 429 && r.Error == nil
	own := !slow && r.RetryAfter == 0 || answeredBy(r.FinalURL, tk.t.HostKey)
	slow = slow && own
	says, why := judgeHost(r, own)
	if tk.attempts <= s.cfg.Retry.Max && s.ctx.Err() == nil {
		if d, pause, ok := retryDelay(r, s.method, tk.attempts, s.cfg.Retry); ok {
			// A 429 or Retry-After from a host a redirect led to says
			// nothing of this target's host: this target waits, its host
			// is neither paused nor slowed.
			s.outcomes <- outcome{kind: attemptRetry, task: tk, res: r, delay: d, pause: pause && own, slow: slow, says: says, why: why}
			return
		}
	}
	// The target is done (out of retries, or not retried), but a
	// Retry-After its host sent within --max-retry-wait still holds for
	// the host's other targets: they wait it out as a retry would have.
	// One beyond it has them skipped for as long (judge), rather than
	// waited for past the user's patience or sent regardless.
	var pause, holdOff time.Duration
	switch {
	case own && r.RetryAfter > s.cfg.Retry.MaxWait:
		holdOff = r.RetryAfter
	case own && r.RetryAfter > 0:
		pause = r.RetryAfter
	}
	if slow || pause > 0 {
		// Now, not after deliver: a slow consumer may hold the result a
		// long time, while attempts that finished before this one take
		// theirs, free their slots, and the loop would start more at the
		// host that asked for fewer or none.
		s.outcomes <- outcome{kind: hostNotice, task: tk, slow: slow, delay: pause, pause: pause > 0}
	}
	s.deliver(r)
	s.outcomes <- outcome{kind: attemptDone, task: tk, says: says, why: why, holdOff: holdOff}
}

// verdict is what one attempt says of its host, for --max-host-errors.
type verdict int8

const (
	saysNothing  verdict = iota // a local shortage, a cancel, a fetcher's panic
	hostAnswered                // a reply: any status but its own 429, or a redirect
	hostFailed                  // the host could not be had, or said 429
)

// judgeHost is the verdict of r on its target's host, and with hostFailed
// the failure in a few words. Counted as the host's failures are those
// that cost a worker's time or ask for fewer requests, and that no other
// URL on the host would escape: no connection, a timeout, a reset, a dns
// lookup that timed out (each before any reply came), a body too slow to
// arrive within --timeout, a 429 or a 503 with Retry-After of its own. A
// certificate error, a name that does not exist or a malformed reply cost
// next to nothing each, and each result says more than a skip would: they
// are answers.
func judgeHost(r *fetch.Result, own bool) (verdict, string) {
	if r.Error == nil {
		switch {
		case r.RetryAfter > 0 && own:
			// "Come back later", as a 429 says: the host is paused (or,
			// asking for longer than --max-retry-wait, skipped as long),
			// and one that keeps saying it holds the run.
			return hostFailed, fmt.Sprintf("%d with Retry-After %s", r.Status, humantime.Duration(r.RetryAfter))
		case r.Status == 429 && own:
			return hostFailed, "429 Too Many Requests"
		}
		return hostAnswered, ""
	}
	if len(r.Redirects) == 0 && r.Status != 0 && r.Error.Kind == fetch.KindTimeout {
		// The host answered and then trickled the body past --timeout:
		// it held a worker as long as silence would have. One slow file
		// among quick pages is reset by their answers; a tarpit sending
		// a byte a second on every URL is not, and would otherwise hold
		// the end of the run for timeout × attempts × its targets.
		return hostFailed, r.Error.Error()
	}
	if len(r.Redirects) > 0 || r.Status != 0 {
		// A later hop's failure, or one after the reply began that cost
		// little (a reset mid-body, a corrupt encoding): the host
		// answered, and its other URLs may well be fine.
		return hostAnswered, ""
	}
	if r.Error.Permanent || r.Error.Proxy {
		// A proxy refusing fanout (its credentials, its rules), or one
		// that cannot be had: every host fails alike, none is at fault.
		return saysNothing, ""
	}
	switch r.Error.Kind {
	case fetch.KindRefused, fetch.KindConnectTimeout, fetch.KindTimeout, fetch.KindReset:
		return hostFailed, r.Error.Error()
	case fetch.KindDNS:
		if r.Error.Transient {
			return hostFailed, r.Error.Error()
		}
		return hostAnswered, ""
	case fetch.KindTLS, fetch.KindProtocol, fetch.KindTooManyRedirects:
		return hostAnswered, ""
	}
	return saysNothing, ""
}

// retryable reports whether another attempt could turn out differently:
// connect failures, timeouts (a DNS lookup's too), resets, a local
// shortage of descriptors or ports (others' connections free them), and
// the statuses that mean
// "later". A request that is not idempotent (POST, PATCH...) is sent again
// only when the first surely did nothing: no connection was made, or the
// server said 429 or 503, and no redirect was followed; after a timeout, a
// reset, a 502 or a 504 it may have taken effect, and a second one would
// repeat it (a webhook fired twice).
//
// The method is the one the run was configured with (method) as well as
// the one the result reports: a Fetcher of the caller's own may leave
// r.Method empty, or a POST run's first request may have been another
// method; either being unsafe makes the request unsafe.
func retryable(r *fetch.Result, method string) bool {
	// After a redirect the errors and statuses are a later hop's: the
	// first request went through, whatever they say.
	safe := idempotent(method) && idempotent(r.Method)
	if !safe && len(r.Redirects) > 0 {
		return false
	}
	if r.Error != nil {
		switch r.Error.Kind {
		case fetch.KindRefused, fetch.KindConnectTimeout, fetch.KindLocal:
			return !r.Error.Permanent // a proxy's 407 says the same to every attempt
		case fetch.KindTimeout, fetch.KindReset:
			return safe
		case fetch.KindDNS:
			return r.Error.Transient // a lookup that timed out
		}
		return false
	}
	switch r.Status {
	case 429, 503:
		return true
	case 502, 504:
		return safe
	}
	return false
}

// idempotent reports whether sending a request with method twice has the
// effect of sending it once (RFC 9110, section 9.2.2).
func idempotent(method string) bool {
	switch strings.ToUpper(method) {
	case "", "GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE":
		return true
	}
	return false
}

// answeredBy reports whether the final response of a target with hostKey
// ("host:port") came from that host (any port: a bare host's http fallback
// is the same site). Only a 429 or a Retry-After asks this, so the parse is
// rare.
func answeredBy(finalURL, hostKey string) bool {
	if finalURL == "" {
		return true
	}
	u, err := url.Parse(finalURL)
	if err != nil {
		return true
	}
	host := hostKey
	if i := strings.LastIndexByte(host, ':'); i >= 0 {
		host = host[:i]
	}
	return canonHost(host) == canonHost(u.Hostname())
}

// canonHost writes a host one way: an IP address in its canonical form, a
// name in lower-case ASCII (punycode), as input.Parse writes host keys; a
// redirect's Location may spell the same host otherwise ([0:0::1],
// bücher.example), or with a trailing dot (example.com.), which the HostKey
// drops.
func canonHost(h string) string {
	h = strings.TrimSuffix(strings.Trim(h, "[]"), ".")
	if a, err := netip.ParseAddr(h); err == nil {
		return a.Unmap().String()
	}
	if a, err := idna.Lookup.ToASCII(h); err == nil {
		return a // lower-cased by the Lookup profile
	}
	return strings.ToLower(h)
}

// retryDelay says whether attempt n's result r should be retried, after how
// long, and whether its whole host should wait as well. A Retry-After longer
// than MaxWait is not honoured by hammering sooner: the reply stands.
func retryDelay(r *fetch.Result, method string, n int, c Retry) (d time.Duration, pause, ok bool) {
	if !retryable(r, method) {
		return 0, false, false
	}
	if r.RetryAfter > 0 {
		if r.RetryAfter > c.MaxWait {
			return 0, false, false
		}
		return r.RetryAfter, true, true
	}
	ceil := c.Cap
	if n-1 < 32 {
		if b := c.Base << (n - 1); b > 0 && b < ceil {
			ceil = b
		}
	}
	d = rand.N(ceil)
	// A 429 without Retry-After still asks the host to be left alone.
	return d, r.Status == 429, true
}
