// Package engine schedules targets over a bounded pool of attempts: a global
// concurrency limit, per-host limits and rate limits, retries that hold no
// slot while they wait, and a bounded look-ahead window over the input so a
// saturated host never holds a worker another host could use.
//
// Every target the engine takes from its Source yields exactly one Result,
// whatever happens: invalid targets, failures, retries exhausted, a drain or
// a cancel. The caller must read Results until the channel is closed.
//
// Start with DefaultConfig, change what you need, and make an Engine with
// New (or NewWithFetcher to replace package fetch with your own Fetcher;
// Config.Request.Prepare edits fetch's requests instead). New refuses a
// Config with a bad field, saying which: each problem is a
// *fetch.FieldError that names the field by its path in Config
// (Limits.Concurrency). Engine.Start runs a Source (an *input.Reader,
// SliceSource, FuncSource) and returns a Run: read Run.Results until it is
// closed, then check Run.Err for a source that failed to read (or a
// context that ended the run before it read a target). Run.Drain finishes
// gracefully, Run.Stop abandons the run, and cancelling the context aborts
// it. Results are fetch.Result values; package output writes them in
// fanout's formats.
package engine

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"

	"github.com/fanout/fanout/fetch"
)

// Fetcher makes one attempt at a target: Fetch stores what happened to *t
// in *r, which starts zeroed. New wraps a *fetch.Client in one; tests,
// benchmarks and other transports plug in their own. Results go through
// pointers so the frames of a worker parked in an in-memory Fetch stay
// small: with a million targets in flight, each worker's stack then keeps
// the goroutine's initial 2 KiB.
type Fetcher interface {
	// Fetch makes one attempt at *t and fills *r, and should return soon
	// after ctx is done: cancelling a run and Run.Stop wait for it. It is
	// called from many goroutines at once. The engine sets
	// r.Seq, r.Input and r.Attempts itself afterwards, and turns a panic
	// into a result of kind other.
	Fetch(ctx context.Context, t *fetch.Target, r *fetch.Result)
}

// clientFetcher adapts a *fetch.Client to Fetcher.
type clientFetcher struct{ c *fetch.Client }

func (f clientFetcher) Fetch(ctx context.Context, t *fetch.Target, r *fetch.Result) {
	*r = f.c.Fetch(ctx, *t)
}

// Source yields targets one at a time; Next returns io.EOF at the end. The
// engine calls Next from one goroutine, only as fast as its window allows.
// *input.Reader is a Source.
type Source interface {
	// Next returns the next target. io.EOF ends the input; any other error
	// stops reading too (the targets read before still get their results)
	// and is what Run.Err returns.
	Next() (fetch.Target, error)
}

// Engine runs targets through a Fetcher under a Config. One Engine may run
// several times, one run after another or at once; limits apply per run.
// Make it with New or NewWithFetcher: the zero Engine has no fetcher and no
// limits, and Start panics on it.
type Engine struct {
	cfg     Config
	fetcher Fetcher
	client  *fetch.Client // nil when the caller supplied the Fetcher
}

// New validates cfg and returns an Engine that fetches with net/http.
func New(cfg Config) (*Engine, error) {
	c, err := NewClient(cfg) // validates cfg
	if err != nil {
		return nil, err
	}
	return &Engine{cfg: cfg, fetcher: clientFetcher{c}, client: c}, nil
}

// IdlePerRequest is how many idle keep-alive connections the pool keeps
// per request in flight. One was too few on lists of many hosts: the pool
// is shared, a host's connections go idle while others are busy, and the
// oldest idle ones were closed and dialled again a moment later (3,380
// dials for 20,000 requests over 64 hosts at -c 64; 304 with two).
const IdlePerRequest = 2

// NewClient builds the fetch.Client an Engine with cfg uses, for callers
// that wrap their own Fetcher around it: cfg.Request with the keep-alive
// pool sized from the limits — as many idle connections per host as may be
// in flight to it, so a busy host reuses connections instead of
// redialling, and overall IdlePerRequest per request in flight unless
// cfg.Request sets a tighter bound.
func NewClient(cfg Config) (*fetch.Client, error) {
	// Validated here, not only by fetch.NewClient: the limits size the
	// pool, and a zero Config's hint must point to DefaultConfig, not to
	// fetch.DefaultOptions.
	if err := cfg.Validate(); err != nil {
		return nil, zeroHint(err, cfg)
	}
	if cfg.Request.MaxIdlePerHost == 0 {
		cfg.Request.MaxIdlePerHost = cfg.Limits.PerHost
	}
	if cfg.Request.MaxIdle == 0 {
		cfg.Request.MaxIdle = max(IdlePerRequest*cfg.Limits.Concurrency, cfg.Limits.PerHost)
	}
	c, err := fetch.NewClient(cfg.Request)
	if err != nil {
		return nil, underRequest(err)
	}
	return c, nil
}

// NewWithFetcher validates cfg and returns an Engine that uses f for every
// attempt; cfg.Request is then only validated, not used, but for its
// Method and Body, which the engine takes for the method f sends (as
// fetch.NewClient would): a request that is not idempotent (POST,
// PATCH...) is not sent again after a timeout, a reset, a 502 or a 504,
// since the first may have taken effect. A Result.Method that f sets
// counts too: either one not idempotent is enough.
func NewWithFetcher(cfg Config, f Fetcher) (*Engine, error) {
	if err := cfg.Validate(); err != nil {
		return nil, zeroHint(err, cfg)
	}
	if f == nil {
		return nil, errors.New("engine: nil fetcher")
	}
	return &Engine{cfg: cfg, fetcher: f}, nil
}

// zeroHint adds to err, cfg's problems, where to start when cfg has zero
// in a field DefaultConfig fills and no zero suits: the mark of a Config
// built from Config{}, whose zero values are not defaults.
func zeroHint(err error, cfg Config) error {
	l, r := cfg.Limits, cfg.Request
	if l.Concurrency != 0 && l.PerHost != 0 && r.Timeout != 0 && r.ConnectTimeout != 0 {
		return err
	}
	return errors.Join(err, errors.New("(zero values are not defaults: start from engine.DefaultConfig(), which has working values, and change what you need)"))
}

// Close releases idle connections. It does not stop runs in progress.
func (e *Engine) Close() {
	if e.client != nil {
		e.client.Close()
	}
}

// Stats are a run's counters; read them with Run.Stats at any time.
type Stats struct {
	Read     int64 // targets taken from the source
	Done     int64 // results finished: sent on Results, or discarded by Stop
	InFlight int64 // attempts running now
	Retries  int64 // attempts beyond the first
	Waiting  int64 // targets waiting for a retry
	// Skipped counts the results of kind skipped among Done: targets not
	// fetched because their host had failed too often
	// (Limits.MaxHostErrors). A target waiting to retry when its host was
	// skipped keeps its last attempt's result and is not counted here.
	Skipped int64
}

// Run is one pass over a Source. Read Results until it is closed. A Run
// comes only from Engine.Start: a zero Run has no run behind it, and its
// Results, Drain, Stop and DropQueued panic saying so (rather than block
// forever or dereference nil).
type Run struct {
	results chan fetch.Result
	drain   chan struct{}
	once    sync.Once
	err     atomic.Pointer[error] // set before results is closed; Err may ask earlier
	drops   chan *dropRequest
	ended   chan struct{} // closed when the run's loop returns
	cancel  context.CancelFunc

	read, done, inflight, retries, waiting, skipped atomic.Int64
}

// Results returns the channel of results. It is closed when every target
// read has its result; then Err tells whether reading the source failed.
func (r *Run) Results() <-chan fetch.Result {
	r.started("Results")
	return r.results
}

// started panics if r was not made by Start: a nil channel would make
// Results and Stop block forever, and Drain panic on a nil close.
func (r *Run) started(method string) {
	if r == nil || r.cancel == nil {
		panic("engine: Run." + method + " on a Run not made by Engine.Start")
	}
}

// Drain asks the run to start nothing new: reading stops, attempts in
// flight finish within their timeouts, every queued target gets a result
// of kind canceled at once, and a target waiting for a retry gets its last
// attempt's result (a real answer, not a cancellation).
// Cancel the run's context to abort attempts in flight too.
func (r *Run) Drain() {
	r.started("Drain")
	r.once.Do(func() { close(r.drain) })
}

// Stop is for a caller that no longer wants the run's results: it cancels
// the run (attempts in flight end, nothing new starts) and discards every
// result not yet read, so the run's goroutines end although nobody reads
// Results. It returns when they have ended (a Source blocked in Next is
// abandoned, as always); Results is closed by then, and Err is set. Stop
// may be called from any goroutine, more than once, and while another
// goroutine still reads Results (which then sees some of the results, or
// none).
func (r *Run) Stop() {
	r.started("Stop")
	r.cancel()
	for range r.results {
	}
}

// DropQueued gives each target queued in the run (read and not started;
// not one waiting to retry) for which drop reports true the result drop
// returns, at once, without an attempt and without waiting for a slot. It
// returns once the run has looked through its queues, or has ended. drop
// runs on the run's own goroutine: it must be quick and must not call the
// run. A dist worker uses it when it gives a partition back, whose queued
// targets would otherwise wait behind live ones for slots, only to come
// back canceled. A nil drop drops nothing. If drop panics, the targets not
// yet looked at stay queued, in order, and DropQueued panics with the same
// value in the caller's goroutine.
func (r *Run) DropQueued(drop func(t *fetch.Target) (fetch.Result, bool)) {
	r.started("DropQueued")
	if drop == nil {
		return
	}
	req := &dropRequest{drop: drop, done: make(chan struct{})}
	select {
	case r.drops <- req:
		<-req.done // the loop closes it right after looking
		if req.panicked != nil {
			panic(req.panicked)
		}
	case <-r.ended:
	}
}

type dropRequest struct {
	drop     func(t *fetch.Target) (fetch.Result, bool)
	done     chan struct{}
	panicked any // what drop panicked with; set before done is closed
}

// Err returns the error that stopped reading the source early, if any: the
// Source's own, or ctx's (see Start) when it ended the run before a single
// target was read, since then no result says so. It is meaningful once
// Results is closed; before that it returns nil. It is safe to call from
// any goroutine at any time.
func (r *Run) Err() error {
	if p := r.err.Load(); p != nil {
		return *p
	}
	return nil
}

// Stats returns the run's counters now.
func (r *Run) Stats() Stats {
	return Stats{
		Read:     r.read.Load(),
		Done:     r.done.Load(),
		InFlight: r.inflight.Load(),
		Retries:  r.retries.Load(),
		Waiting:  r.waiting.Load(),
		Skipped:  r.skipped.Load(),
	}
}

// Start begins a run over src. Cancelling ctx aborts it: attempts in flight
// end with kind canceled (timeout when ctx's deadline passed), and the
// targets taken from src but not yet started with canceled. A ctx already
// done reads no target: Results closes at once, and Err returns ctx's
// error, as it does whenever ctx ends a run before its first target was
// read. Read Results until it is closed, also after cancelling: the run's
// goroutines wait to hand over their results until then; Stop cancels and
// discards them.
//
// The engine reads up to the look-ahead window ahead of the finished
// targets. A Source blocked in Next when the run ends is abandoned: Next
// may still return later, and that target gets no result (nor does one
// Next returns at the very moment the run stops). An error the Source
// returns after a stop is not the run's. Give each
// target its own Seq (the reorder buffer and the store key on it); an
// empty HostKey is taken from the URL (fetch.HostKeyOf), as input.Parse
// would give it.
func (e *Engine) Start(ctx context.Context, src Source) *Run {
	if e == nil || e.fetcher == nil {
		// A zero Engine would admit targets and never start one: its
		// Results would never close.
		panic("engine: Start on an Engine not made by engine.New or engine.NewWithFetcher")
	}
	if fs, ok := src.(FuncSource); src == nil || ok && fs == nil {
		panic("engine: Start with a nil Source") // here, not in the run's goroutine
	}
	// The run's own context, for Stop; the loop cancels it when the run
	// ends, which releases it from ctx.
	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	r := &Run{
		results: make(chan fetch.Result, min(e.cfg.Limits.Concurrency, maxBuffer)),
		drain:   make(chan struct{}),
		drops:   make(chan *dropRequest),
		ended:   make(chan struct{}),
		cancel:  cancel,
	}
	s := newScheduler(ctx, e.cfg, e.fetcher, r)
	s.parent = parent
	go s.loop(src)
	return r
}

// Stream is Start for callers that only want the results: it returns the
// channel, which closes when the run ends, and a function reporting the
// source's error afterwards. A caller that stops reading early must cancel
// ctx and then read the channel until it closes (or use Start, whose Run
// has Stop): the run's goroutines wait to hand over their results.
func (e *Engine) Stream(ctx context.Context, src Source) (<-chan fetch.Result, func() error) {
	r := e.Start(ctx, src)
	return r.Results(), r.Err
}
