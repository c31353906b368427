package dist

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/fanout/fanout/engine"
	"github.com/fanout/fanout/fetch"
)

// WorkerConfig configures a Worker.
type WorkerConfig struct {
	// Engine is the engine configuration, as the main command builds it
	// from its flags. Concurrency and Rate apply to the whole worker;
	// PerHost and HostRate to each host, which only this worker serves
	// while it holds the host's partition.
	Engine engine.Config
	// Run restricts the worker to one run; empty serves every run, oldest
	// first, one at a time.
	Run string
	// ID names the worker in leases and status; empty picks host-pid.
	ID string
	// ExitWhenDone returns from Run once no run has work left (or, with
	// Run set, once that run is done), instead of waiting for more.
	ExitWhenDone bool
	// RunWait is how long a worker with Run and ExitWhenDone waits for
	// that run to be submitted (workers are often started with, or just
	// before, their submit) before it takes the name for a mistake and
	// fails; 0 means DefaultRunWait. It also bounds how long such a
	// worker tries again to open a run whose streams it cannot open.
	RunWait time.Duration
	// MaxPartitions caps the partitions held at once (0: a fair share,
	// partitions divided by live workers, rounded up).
	MaxPartitions int
	// Log receives one line per notable event (leases taken and given
	// back, runs started and finished); nil discards them.
	Log io.Writer
}

// Worker pulls batches of targets from the partitions it leases, fetches
// them with one engine run per served run, and publishes their results.
type Worker struct {
	c      *Conn
	cfg    WorkerConfig
	client *fetch.Client

	done        atomic.Int64 // results stored
	fetched     atomic.Int64 // targets finished here, their results stored or still in their batch
	redelivered atomic.Int64 // targets received again
	// Targets in batches pulled and not yet acknowledged or handed back,
	// and how many of them were delivered before.
	holding, holdingRedelivered atomic.Int64

	instance string    // random: this process's part of its heartbeat key
	sameID   sync.Once // warned that another worker has its ID

	// failed is closed, and failErr set, when the worker cannot go on
	// (a body it could not save): Run stops as on its stop channel.
	failed   chan struct{}
	failOnce sync.Once
	failErr  error

	// finished holds the runs pick found complete with no target left,
	// by the revision of their metadata then: looking again at each one's
	// streams four times a second cost the server two API requests per
	// finished run kept. A run submitted again changes its revision.
	// Only Run's goroutine uses it.
	finished map[string]uint64
}

// NewWorker validates cfg and builds the worker's HTTP client.
func NewWorker(c *Conn, cfg WorkerConfig) (*Worker, error) {
	ec := cfg.Engine
	if err := ec.Validate(); err != nil {
		return nil, err
	}
	if err := CheckMaxPartitions(cfg.MaxPartitions); err != nil {
		return nil, err
	}
	if cfg.ID == "" {
		h, _ := os.Hostname()
		cfg.ID = fmt.Sprintf("%s-%d", strings.ReplaceAll(h, ".", "_"), os.Getpid())
	}
	cfg.ID = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return '_'
	}, cfg.ID)
	client, err := engine.NewClient(ec)
	if err != nil {
		return nil, err
	}
	return &Worker{c: c, cfg: cfg, client: client, instance: rand.Text(), failed: make(chan struct{})}, nil
}

// fail stops the worker for err, the first time: its targets not done go
// back to the stream, and Run returns err.
func (w *Worker) fail(err error) {
	w.failOnce.Do(func() {
		w.failErr = err
		close(w.failed)
	})
}

// CheckMaxPartitions says what is wrong with a MaxPartitions of n, nil
// when nothing is: the command line checks it before it connects.
func CheckMaxPartitions(n int) error {
	if n < 0 {
		return fmt.Errorf("--max-partitions must be 0 (a fair share) or more, got %d", n)
	}
	return nil
}

// Holding returns how many targets the worker holds now: taken from the
// stream, their results not yet stored.
func (w *Worker) Holding() int64 { return w.holding.Load() }

// ID returns the worker's name in leases and status.
func (w *Worker) ID() string { return w.cfg.ID }

// Done returns the number of results this worker published and had
// acknowledged.
func (w *Worker) Done() int64 { return w.done.Load() }

// beatKey is the worker's heartbeat key in a run's lease bucket: its ID
// and its instance, so that two workers given one --id by mistake are two
// workers to the fair share and to status, and the one that stops deletes
// its own heartbeat only, not the other's with it.
//
// A worker capped by MaxPartitions says so in its key, .m<N> at the end:
// every worker's balance then counts it for at most N partitions of a
// fair share from the key listing alone, and gives what it cannot take to
// the others.
func (w *Worker) beatKey() string {
	k := "w." + w.cfg.ID + "." + w.instance
	if w.cfg.MaxPartitions > 0 {
		k += ".m" + strconv.Itoa(w.cfg.MaxPartitions)
	}
	return k
}

// capOf reads a heartbeat key's cap, 0 for none (and for the keys of
// workers from before caps were written there).
func capOf(key string) int {
	f := strings.Split(key, ".")
	if len(f) != 4 || !strings.HasPrefix(f[3], "m") {
		return 0
	}
	n, err := strconv.Atoi(f[3][1:])
	if err != nil || n < 0 {
		return 0
	}
	return n
}

// fairShare is how many of want partitions a worker capped at own (0:
// uncapped) takes when the live workers have caps (own's among them): the
// smallest level L at which the workers, each taking L or its cap if
// lower, cover want, and own's cap if lower. Without caps that is want ÷
// workers, rounded up; a capped worker's remainder falls to the others.
// When the caps cannot cover want, each takes its cap and the uncapped
// (if any) take the rest.
func fairShare(want int, caps []int, own int) int {
	level := want
	for l := 0; l <= want; l++ {
		covered := 0
		for _, c := range caps {
			if c == 0 || c > l {
				covered += l
			} else {
				covered += c
			}
		}
		if covered >= want {
			level = l
			break
		}
	}
	if own > 0 {
		return min(level, own)
	}
	return level
}

// Close releases idle connections.
func (w *Worker) Close() { w.client.Close() }

func (w *Worker) logf(format string, args ...any) {
	if w.cfg.Log != nil {
		fmt.Fprintf(w.cfg.Log, "fanout worker %s: "+format+"\n", append([]any{w.cfg.ID}, args...)...)
	}
}

// Run serves runs until stop is closed (graceful: in-flight work is
// finished or handed back, leases are released) or ctx is cancelled
// (abrupt: nothing is acknowledged or released, as if the process died:
// the leases expire after the run's lease TTL and the held batches go
// back; no goroutine of Run outlives it), or, with ExitWhenDone, until no
// work is left.
//
// A body the worker cannot save under --save (a full disk) stops it, as
// stop does, and Run returns why: that target and those not done go back
// to the stream for other workers, where going on would have given each
// target after it, in quick succession, a result of kind local.
func (w *Worker) Run(ctx context.Context, stop <-chan struct{}) error {
	stopped := make(chan struct{})
	quit := make(chan struct{})
	defer close(quit)
	go func() {
		select {
		case <-stop:
		case <-w.failed:
		case <-quit:
			return
		}
		close(stopped)
	}()
	err := w.run(ctx, stopped)
	if closed(w.failed) {
		return w.failErr
	}
	return err
}

func (w *Worker) run(ctx context.Context, stop <-chan struct{}) error {
	// The last error logged: the same one again, four times a second
	// while a --run is not submitted yet, tells nothing new.
	said := ""
	// The run whose serving failed before it started, and the error said
	// about it: tried again every 250 ms, said once.
	retrying, retrySaid := "", ""
	var openFailedSince time.Time
	var missingSince time.Time // when the --run was first found missing
	var idleSince time.Time    // since when no run had work here
	runsWatched := newRunsWatch()
	defer runsWatched.stop()
	for {
		meta, ok, err := w.pick(ctx)
		if errors.Is(err, ErrOldLayout) {
			return err
		}
		if err := w.connClosed(); err != nil {
			return err
		}
		if err != nil {
			// The server cannot even be asked for runs (an outage): the
			// clock for opening a run starts again once it answers.
			retrying = ""
		}
		if !errors.Is(err, ErrNoRun) {
			missingSince = time.Time{}
		} else if w.cfg.Run != "" && w.cfg.ExitWhenDone {
			if missingSince.IsZero() {
				missingSince = time.Now()
			}
			// Waiting to exit when a run that never comes is done would
			// wait forever: after RunWait the name is taken for a typo.
			if wait := cmp.Or(w.cfg.RunWait, DefaultRunWait); time.Since(missingSince) >= wait && w.noStream(ctx) {
				return fmt.Errorf("run %q: %w (waited %v for it to be submitted): check the name with fanout status",
					w.cfg.Run, ErrNoRun, wait)
			}
		}
		switch {
		case err == nil || ctx.Err() != nil:
			said = ""
		case errors.Is(err, ErrNoRun):
			if msg := fmt.Sprintf("run %s: %v; waiting for it to be submitted", w.cfg.Run, ErrNoRun); msg != said {
				w.logf("%s", msg)
				said = msg
			}
		case err.Error() != said:
			w.logf("looking for runs: %v", err)
			said = err.Error()
		}
		if ok {
			if retrying != meta.Name {
				w.logf("serving run %s", meta.Name)
			}
			err := w.serve(ctx, stop, meta)
			var notOpened openError
			switch {
			case errors.As(err, &notOpened):
				// Not served at all (a server failing over, say): not the
				// end of the run, try again, saying so once.
				if msg := notOpened.Error(); msg != retrySaid {
					w.logf("run %s: %s (trying again)", meta.Name, msg)
					retrySaid = msg
				}
				if retrying != meta.Name {
					openFailedSince = time.Now()
				}
				retrying = meta.Name
				// A worker meant to exit when its run is done does not
				// wait forever for a failure that does not pass (a
				// permission it lacks): it fails, and says why.
				if wait := cmp.Or(w.cfg.RunWait, DefaultRunWait); w.cfg.Run != "" && w.cfg.ExitWhenDone &&
					time.Since(openFailedSince) >= wait {
					return fmt.Errorf("run %s: could not open its streams for %v: %w", meta.Name, wait, notOpened.err)
				}
			case errors.Is(err, ErrRunDeleted):
				// Its work is gone with it: that is the end of the run.
				w.logf("run %s was deleted: leaving it", meta.Name)
			case errors.As(err, new(errElsewhere)):
				w.logf("run %s: nothing queued while it is being submitted, and %v: serving that meanwhile", meta.Name, err)
			case err != nil:
				return err
			case closed(stop):
				// Stopped, not finished: the run may well have work left.
				w.logf("run %s: stopped; its targets not done here go back to the stream", meta.Name)
			default:
				w.logf("run %s: no work left", meta.Name)
			}
			if notOpened.err == nil {
				retrying, retrySaid = "", ""
				if w.cfg.Run != "" && w.cfg.ExitWhenDone {
					return nil
				}
			}
		} else if w.cfg.ExitWhenDone && err == nil {
			return nil
		}
		if ok || err != nil {
			idleSince = time.Time{}
		} else if idleSince.IsZero() {
			idleSince = time.Now()
		}
		if !runsWatched.ok() {
			runsWatched.start(ctx, w.c.JS)
		}
		select {
		case <-stop:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		case <-runsWatched.wake:
			// A run was submitted, checkpointed or deleted: look now.
		case <-time.After(pickPace(time.Since(idleSince), runsWatched.ok())):
		}
		if closed(stop) {
			return nil
		}
	}
}

// connClosed returns nats.ErrConnectionClosed once the worker's connection
// is closed: unlike a lost server, which it reconnects to for as long as
// it takes, a closed connection never comes back, and a worker that kept
// trying on it looped forever.
func (w *Worker) connClosed() error {
	if w.c.NC.IsClosed() {
		return fmt.Errorf("worker %s: %w", w.cfg.ID, nats.ErrConnectionClosed)
	}
	return nil
}

// pickPace is how long a worker with no run to serve waits before it
// looks again, idle for idleFor: 250 ms, so that a run submitted now
// starts at once, and, while it watches the runs bucket (a submit wakes
// it), up to 2 s after a long idleness: every look costs the server a
// listing of the runs bucket.
func pickPace(idleFor time.Duration, watching bool) time.Duration {
	if !watching {
		return minLook
	}
	return backoff(idleFor, 2*time.Second)
}

// minLook is how soon an idle worker looks again, at the least.
const minLook = 250 * time.Millisecond

// backoff is the idle paces' rule: a quarter of the time idle, from
// minLook up to ceiling.
func backoff(idleFor, ceiling time.Duration) time.Duration {
	return min(max(idleFor/4, minLook), max(ceiling, minLook))
}

// runsWatch wakes an idle worker when the runs bucket changes. It can
// start only once the bucket exists (the first submit makes it).
type runsWatch struct {
	wake     chan struct{}
	watching atomic.Bool
	cancel   context.CancelFunc // ends the watch; nil while none runs
	done     chan struct{}      // closed when the watch's goroutine ended
	tried    time.Time          // the last start
}

// watchRetry is how often start tries again while it cannot watch: each
// try opens the bucket (a stream info), which pick does at every look
// anyway.
const watchRetry = 5 * time.Second

func newRunsWatch() *runsWatch { return &runsWatch{wake: make(chan struct{}, 1)} }

func (rw *runsWatch) ok() bool { return rw.watching.Load() }

// start watches the runs bucket until stop or the watch fails; it does
// nothing when the bucket cannot be opened now, nor within watchRetry of
// the last try. A watch that failed is replaced.
func (rw *runsWatch) start(ctx context.Context, js jetstream.JetStream) {
	if time.Since(rw.tried) < watchRetry {
		return
	}
	rw.tried = time.Now()
	rw.stop()
	actx, cancel := ctxOr(ctx, 5*time.Second)
	kv, err := js.KeyValue(actx, runsBucket)
	cancel()
	if err != nil {
		return
	}
	wctx, cancel := context.WithCancel(ctx)
	watch, err := kv.WatchAll(wctx, jetstream.UpdatesOnly(), jetstream.MetaOnly())
	if err != nil {
		cancel()
		return
	}
	rw.cancel, rw.done = cancel, make(chan struct{})
	rw.watching.Store(true)
	go func() {
		defer close(rw.done)
		defer rw.watching.Store(false)
		defer watch.Stop()
		for {
			select {
			case e, open := <-watch.Updates():
				if !open {
					return
				}
				if e != nil {
					select {
					case rw.wake <- struct{}{}:
					default:
					}
				}
			case <-wctx.Done():
				return
			}
		}
	}()
}

// stop ends the watch, if one runs, and waits for its goroutine.
func (rw *runsWatch) stop() {
	if rw.cancel != nil {
		rw.cancel()
		<-rw.done
		rw.cancel = nil
	}
}

func closed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// pick returns the run to serve: the named one, or the oldest with targets
// queued, or else the oldest still being submitted.
func (w *Worker) pick(ctx context.Context) (Meta, bool, error) {
	actx, cancel := ctxOr(ctx, 10*time.Second)
	defer cancel()
	if w.cfg.Run != "" {
		m, _, err := LoadMeta(actx, w.c.JS, w.cfg.Run)
		if err == nil {
			err = m.usable()
		}
		if err != nil {
			return m, false, err
		}
		left, err := w.unfinished(actx, m)
		return m, left, err
	}
	runs, err := runsWithRevisions(actx, w.c.JS)
	if err != nil {
		return Meta{}, false, err
	}
	if w.finished == nil {
		w.finished = map[string]uint64{}
	}
	listed := make(map[string]bool, len(runs))
	var waiting *Meta // the oldest run being submitted with nothing queued now
	for _, r := range runs {
		listed[r.Name] = true
		if r.usable() != nil || w.finished[r.Name] == r.rev {
			continue
		}
		if !r.Complete {
			// Still being submitted: served at once if it has targets;
			// if not, only when no run has any. Its submit may have died
			// (killed, or failed), and then it waits for ever: it held
			// every worker without --run, while other runs' work waited.
			if busy, err := w.queued(actx, r.Name); err == nil && busy {
				return r.Meta, true, nil
			}
			if waiting == nil {
				waiting = &r.Meta
			}
			continue
		}
		left, err := w.unfinished(actx, r.Meta)
		if err == nil && left {
			return r.Meta, true, nil
		}
		if err == nil {
			w.finished[r.Name] = r.rev
		}
	}
	for name := range w.finished { // deleted runs
		if !listed[name] {
			delete(w.finished, name)
		}
	}
	if waiting != nil {
		return *waiting, true, nil
	}
	return Meta{}, false, nil
}

// queued reports whether run's target stream holds targets now: the
// stream's info, which looking the stream up fetched (one API call).
func (w *Worker) queued(ctx context.Context, run string) (bool, error) {
	s, err := w.c.JS.Stream(ctx, targetStream(run))
	if err != nil {
		return false, err
	}
	return s.CachedInfo().State.Msgs > 0, nil
}

// otherWork returns the name of another run than run with targets queued,
// "" when there is none (or the runs cannot be listed now).
func (w *Worker) otherWork(ctx context.Context, run string) string {
	runs, err := runsWithRevisions(ctx, w.c.JS)
	if err != nil {
		return ""
	}
	for _, r := range runs {
		if r.Name == run || r.usable() != nil || w.finished[r.Name] == r.rev {
			continue
		}
		if busy, err := w.queued(ctx, r.Name); err == nil && busy {
			return r.Name
		}
	}
	return ""
}

// switchWait is how long a worker without --run waits with nothing to
// fetch on a run still being submitted before it looks for another run
// with work: a submit reading a slow producer leaves gaps that short.
const switchWait = 5 * time.Second

// errElsewhere ends the serving of a run that is being submitted and has
// nothing queued, for another run that has work.
type errElsewhere struct{ run string }

func (e errElsewhere) Error() string { return "run " + e.run + " has work" }

// unfinished reports whether m is still being submitted or has targets
// not yet acknowledged.
func (w *Worker) unfinished(ctx context.Context, m Meta) (bool, error) {
	if !m.Complete {
		return true, nil
	}
	s, err := w.c.JS.Stream(ctx, targetStream(m.Name))
	if err != nil {
		return false, err
	}
	return hasTargets(ctx, s)
}

// hasTargets reports whether the target stream s holds targets not yet
// acknowledged.
func hasTargets(ctx context.Context, s jetstream.Stream) (bool, error) {
	info, err := s.Info(ctx)
	if err != nil {
		return false, err
	}
	return info.State.Msgs > 0, nil
}

// workerStat is a worker's heartbeat in the lease bucket. Counts are of
// targets.
type workerStat struct {
	ID                 string    `json:"id"`
	Done               int64     `json:"done"`
	Fetched            int64     `json:"fetched"` // Done and the results waiting for their batch to complete
	Redelivered        int64     `json:"redelivered"`
	Holding            int64     `json:"holding"`
	HoldingRedelivered int64     `json:"holding_redelivered"`
	Rate               float64   `json:"rate"`
	Partitions         []int     `json:"partitions"`
	At                 time.Time `json:"at"`
}

// serve works on one run until it has no targets left, stop is closed or
// ctx is cancelled.
func (w *Worker) serve(ctx context.Context, stop <-chan struct{}, meta Meta) error {
	actx, cancel := ctxOr(ctx, 10*time.Second)
	kv, err := w.c.JS.KeyValue(actx, leaseBucket(meta.Name))
	var ts jetstream.Stream
	var runs jetstream.KeyValue
	if err == nil {
		ts, err = w.c.JS.Stream(actx, targetStream(meta.Name))
	}
	if err == nil {
		runs, err = openRuns(actx, w.c.JS, meta.Name)
	}
	cancel()
	if err == nil {
		return w.serveWith(ctx, stop, meta, runs, kv, ts)
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if gone(err) { // deleted since pick found it
		return ErrRunDeleted
	}
	return openError{err}
}

// openError is serve's error when it could not open the run's streams and
// buckets for a reason that may pass (a timeout while a server fails
// over): the run was not served, let alone finished.
type openError struct{ err error }

func (e openError) Error() string { return e.err.Error() }
func (e openError) Unwrap() error { return e.err }

// DefaultRunWait is how long a worker with --run and --exit-when-done
// waits for its run to be submitted.
const DefaultRunWait = 30 * time.Second

// noStream confirms that the worker's --run has no targets stream, which
// the stream's leader answers: the run's metadata, read from any replica
// of its bucket, may miss a run just submitted.
func (w *Worker) noStream(ctx context.Context) bool {
	actx, cancel := ctxOr(ctx, 5*time.Second)
	defer cancel()
	_, err := w.c.JS.Stream(actx, targetStream(w.cfg.Run))
	return errors.Is(err, jetstream.ErrStreamNotFound)
}

// gone reports whether err says that a stream, bucket or run is not
// there (any more): unlike a timeout, asking again will not help.
func gone(err error) bool {
	return errors.Is(err, jetstream.ErrStreamNotFound) || errors.Is(err, jetstream.ErrBucketNotFound) ||
		errors.Is(err, ErrNoRun)
}

func (w *Worker) serveWith(ctx context.Context, stop <-chan struct{}, meta Meta, runs, kv jetstream.KeyValue, ts jetstream.Stream) error {
	s, err := w.newSession(meta, runs, kv, ts)
	if err != nil {
		return err
	}
	parts := map[int]*partition{}
	// releaseAll gives every partition back (drain: finish what is in
	// flight, hand back what is queued; otherwise finish it all), deletes
	// the heartbeat and ends the engine run.
	releaseAll := func(drain bool) {
		if drain {
			for _, p := range parts {
				p.drain()
			}
			// Retries that were waiting keep their last result.
			s.run.Drain()
		}
		var wg sync.WaitGroup
		for _, p := range parts {
			wg.Go(func() { p.release(drain, 0) })
		}
		wg.Wait()
		s.stopSource()
		<-s.ended
		s.releasing.Wait()
		kv.Delete(context.Background(), w.beatKey())
	}
	// abandon stops at once, as if the process died (ctx cancelled, or
	// the connection closed): the leases and the heartbeat are left to
	// expire after the lease TTL, and no result is published or
	// acknowledged any more (the batches go back), but no goroutine of
	// the session is left behind either: one kept renewing the leases,
	// which held the partitions for as long as the process lived.
	abandon := func() {
		close(s.leaving)
		for _, p := range parts {
			p.abort()
		}
		s.cancel()
		s.stopSource()
		done := make(chan struct{})
		go func() {
			defer close(done)
			for _, p := range parts {
				p.halt()
			}
			s.releasing.Wait()
			<-s.ended
		}()
		// A pull iterator ends only once the server confirms its drain:
		// with the server unreachable, the rest ends on its own later.
		t := time.NewTimer(abandonWait)
		defer t.Stop()
		select {
		case <-done:
		case <-t.C:
			w.logf("run %s: stopped without waiting for the server", meta.Name)
		}
	}
	// leave drops a deleted run: no result can be stored any more, so
	// attempts in flight are cancelled rather than finished, and the rest
	// is released as at the end of a run (what goes back goes nowhere).
	leave := func() error {
		s.deleted.Store(true)
		close(s.leaving) // the acker waits for no more acks
		for _, p := range parts {
			p.abort()
		}
		s.run.Drain()
		releaseAll(false)
		return ErrRunDeleted
	}
	tick := time.NewTicker(beatEvery(meta.LeaseTTL))
	defer tick.Stop()
	idle := time.NewTicker(minLook)
	defer idle.Stop()
	// An idle worker looks at the run (its end, a partition nobody
	// serves) less often the longer nothing happens: every look costs the
	// server a metadata get and a stream info, and a lease listing (an
	// ordered consumer) for a partition search, and twenty idle workers
	// looking every 250 ms took 9% of a core from it. busyAt is when this
	// worker last held targets or was woken by a change in the lease
	// bucket (a worker joining or leaving, a lease deleted).
	busyAt := time.Now()
	var lastEndCheck, lastIdleLook, lastElsewhere time.Time
	// Membership changes rebalance at once rather than at the next
	// heartbeat (LeaseTTL/4, 7.5 s by default): workers started together
	// would otherwise leave all partitions to the first one for a minute.
	// A goroutine reads the watch, so that it never waits on this loop
	// (a watcher whose buffer is full cannot be stopped), and wakes the
	// loop through one slot, so that a burst of changes is one balance.
	members := newMembership(w.beatKey(), min(beatEvery(meta.LeaseTTL), giveBackCooldown))
	// cool wakes the loop when a partition given back stops being the
	// other workers': if none of them took it (near the end of a run the
	// fair share shrinks while the partition drains, and the worker it
	// was given back for may be at its share by then), it is free for
	// anyone again, this worker too, rather than idle until a heartbeat.
	cool := time.NewTimer(time.Hour)
	cool.Stop()
	defer cool.Stop()
	armCool := func() {
		if d, ok := members.nextExpiry(); ok {
			cool.Reset(d)
		} else {
			cool.Stop()
		}
	}
	wake := make(chan struct{}, 1)
	wctx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	// watching says the watch delivers: without it the leases known
	// between listings are stale, and an idle worker's partition search
	// lists them every time.
	var watching atomic.Bool
	if watch, err := kv.WatchAll(wctx, jetstream.UpdatesOnly()); err == nil {
		read := make(chan struct{})
		watching.Store(true)
		go func() {
			defer close(read)
			defer watching.Store(false)
			for e := range watch.Updates() {
				w.checkSameID(e)
				if members.changed(e) {
					select {
					case wake <- struct{}{}:
					default:
					}
				}
			}
		}()
		defer func() {
			watch.Stop()
			stopWatch()
			select { // Updates closes on Stop; bounded all the same
			case <-read:
			case <-time.After(5 * time.Second):
			}
		}()
	} else {
		w.logf("run %s: watching workers and leases: %v (rebalancing at each heartbeat only)", meta.Name, err)
	}
	// The heartbeat is in this run's bucket and counts this run only: a
	// worker that served other runs before must not lend them its figures.
	doneFrom, fetchedFrom, redeliveredFrom := w.done.Load(), w.fetched.Load(), w.redelivered.Load()
	lastFetched, lastAt := int64(0), time.Now()
	// ended ends the session when its run is over or was deleted.
	ended := func() (bool, error) {
		switch s.state(ctx) {
		case runOver:
			releaseAll(false)
			return true, nil
		case runDeleted:
			return true, leave()
		}
		return false, nil
	}
	for {
		if end, err := ended(); end {
			return err
		}
		now := time.Now()
		actx, cancel := ctxOr(ctx, meta.LeaseTTL/2)
		// Heartbeat: live workers decide the fair share.
		st := workerStat{ID: w.cfg.ID, Done: w.done.Load() - doneFrom, Fetched: w.fetched.Load() - fetchedFrom,
			Redelivered: w.redelivered.Load() - redeliveredFrom,
			Holding:     w.holding.Load(), HoldingRedelivered: w.holdingRedelivered.Load(), At: now.UTC()}
		// The rate counts fetches, not stored results: those come a whole
		// batch at a time, and a slow batch showed 0/s for minutes.
		if dt := now.Sub(lastAt).Seconds(); dt > 0 {
			st.Rate = float64(st.Fetched-lastFetched) / dt
		}
		lastFetched, lastAt = st.Fetched, now
		st.Partitions = heldList(parts)
		b, _ := json.Marshal(st)
		kv.Put(actx, w.beatKey(), b)
		// After a balance, the partitions the heartbeat lists may be stale
		// for a whole heartbeat (status showed a fetching worker with none):
		// say what changed at once.
		rebeat := func() {
			if held := heldList(parts); !slices.Equal(held, st.Partitions) {
				st.Partitions = held
				b, _ := json.Marshal(st)
				pctx, cancel := ctxOr(ctx, meta.LeaseTTL/2)
				kv.Put(pctx, w.beatKey(), b)
				cancel()
			}
		}

		for n, p := range parts {
			if p.finished() { // its lease was lost, or its consumer vanished
				delete(parts, n)
				members.gaveBack(n)
				p.release(false, 0)
			}
		}
		cancel()
		bctx, cancel := ctxOr(ctx, 10*time.Second)
		w.balance(bctx, s, parts, members, false)
		cancel()
		rebeat()
		armCool()
		if !closed(s.balanced) {
			close(s.balanced)
		}

		// rebalance balances between heartbeats; false when the leases
		// are gone (was the run deleted? the heartbeat looks).
		rebalance := func(takeOnly bool) bool {
			bctx, cancel := ctxOr(ctx, 10*time.Second)
			defer cancel()
			ok := w.balance(bctx, s, parts, members, takeOnly)
			rebeat()
			armCool()
			return ok
		}
		for beat := false; !beat; {
			// idle ticks every minLook at least: a closed connection is
			// noticed within that.
			if err := w.connClosed(); err != nil {
				abandon()
				return err
			}
			select {
			case <-stop:
				releaseAll(true)
				return nil
			case <-ctx.Done():
				abandon()
				return ctx.Err()
			case <-tick.C:
				beat = true
			case <-wake:
				// Something moved: an idle worker looks again within
				// 250 ms. The first worker to find the run over leaves and
				// deletes its heartbeat, which wakes all the others, so
				// they leave with it rather than at their slowed pace.
				busyAt = time.Now()
				beat = !rebalance(false)
			case <-cool.C:
				// Only to take what nobody took: giving back stays at the
				// pace of heartbeats and membership changes.
				beat = !rebalance(true)
			case <-idle.C:
				// Holding nothing, the run may be over: look sooner than
				// the next heartbeat, so that an idle worker exits (and
				// stops costing the server its pull requests) soon after
				// the end.
				if w.holding.Load() > 0 {
					busyAt = time.Now()
					break
				}
				pace := idlePace(time.Since(busyAt), meta.LeaseTTL, s.submitted.Load())
				if time.Since(lastEndCheck) >= pace {
					lastEndCheck = time.Now()
					if end, err := ended(); end {
						return err
					}
					// Nothing to fetch here while the run is being
					// submitted (or its submit died): another run's work
					// comes first, and this one is picked again after.
					if w.cfg.Run == "" && !s.submitted.Load() && time.Since(busyAt) >= switchWait &&
						time.Since(lastElsewhere) >= switchWait {
						lastElsewhere = time.Now()
						octx, cancel := ctxOr(ctx, 10*time.Second)
						other := ""
						if busy, err := hasTargets(octx, ts); err == nil && !busy {
							other = w.otherWork(octx, meta.Name)
						}
						cancel()
						if other != "" {
							releaseAll(true)
							return errElsewhere{other}
						}
					}
					// Not over, and submitted in full: a partition with
					// work may have nobody. Nothing else wakes a worker
					// whose partitions ran dry while another partition's
					// work waited, given back near the end of the run to
					// a worker at its share by then: it waited for a
					// heartbeat, up to 7.5 s of an idle cluster. Only a
					// partition with work and no lease (as the last
					// listing and the watch tell) is worth a listing and
					// a balance: the stream info that tells which
					// partitions have work costs the server far less than
					// the listing, an ordered consumer created and
					// deleted. (While the run is still being submitted, a
					// worker that keeps up is idle most of the time; its
					// heartbeat balances then.)
					if s.submitted.Load() && time.Since(lastIdleLook) >= max(idleLook, pace) {
						lastIdleLook = time.Now()
						bctx, cancel := ctxOr(ctx, 10*time.Second)
						busy := w.busyPartitions(bctx, s)
						cancel()
						if busy != nil && (!watching.Load() || members.unleased(busy, parts, meta.LeaseTTL/2)) {
							beat = !rebalance(true)
						}
					}
				}
			}
		}
	}
}

// heldList returns the numbers of the partitions in parts, in order.
func heldList(parts map[int]*partition) []int {
	held := make([]int, 0, len(parts))
	for n := range parts {
		held = append(held, n)
	}
	slices.Sort(held)
	return held
}

// runState is what a worker finds of the run it serves.
type runState int

const (
	runLive    runState = iota // work left, or it cannot tell now
	runOver                    // submitted in full and every target acknowledged
	runDeleted                 // fanout status --delete removed it
)

// state looks whether the session's run is over or was deleted. While its
// metadata shows it still being submitted, that is all it reads: one KV
// get, as an idle worker asks up to four times a second. Otherwise the targets
// stream decides, and it alone tells deleted: it is gone, or it is another
// one of the same name (deleted and submitted again since). In a cluster
// the stream's leader answers that, while the metadata is read from any
// replica of its bucket (direct get), which may be behind and miss a run
// just submitted: a missing key proves nothing. DeleteRun removes the
// streams first.
func (s *session) state(ctx context.Context) runState {
	actx, cancel := ctxOr(ctx, 5*time.Second)
	defer cancel()
	m, _, err := metaIn(actx, s.runs, s.meta.Name)
	if err == nil && m.Created.Equal(s.meta.Created) {
		s.submitted.Store(m.Complete)
	}
	if err == nil && m.Created.Equal(s.meta.Created) && !m.Complete {
		return runLive
	}
	info, err := s.ts.Info(actx)
	switch {
	case gone(err), err == nil && !info.Created.Equal(s.tsCreated):
		return runDeleted
	case err != nil:
		return runLive // cannot tell now
	}
	if m.Complete && info.State.Msgs == 0 {
		return runOver
	}
	return runLive
}

// abandonWait bounds how long a worker whose context was cancelled (or
// whose connection was closed) waits for its goroutines to end.
const abandonWait = 5 * time.Second

// giveBackCooldown is how long after deciding to give a partition back
// a worker leaves it to the others (at most a heartbeat). Its lease goes
// once the requests in flight end; the others take it as soon as the
// deletion reaches them, in milliseconds, but one that is at its fair
// share by then leaves it, and the partition was idle until the giver's
// next heartbeat: up to 7.5 s at the end of a run, with every worker
// waiting. If the lease goes after the cooldown, the deletion wakes the
// giver as well, which takes the partition only if it is below its share
// (it gave it back for being above).
const giveBackCooldown = time.Second

// idleLook is how often, at most, a worker that holds no targets of a
// run submitted in full looks for a partition with work that nobody
// serves (at its idle pace when that is slower): the run's metadata and a
// stream info, and a lease listing (an ordered consumer on the server) and
// a create for each free partition only when a partition with work has no
// lease it knows of.
const idleLook = time.Second

// idlePace is how often a worker idle for idleFor looks at its run: a
// quarter of the time it has been idle, from 250 ms (a worker that just
// ran dry sees the end of the run at once) up to a heartbeat
// (LeaseTTL/4), which it sends anyway. Until the run is submitted in full
// it looks at least every second: nothing in the lease bucket tells the
// end of a submit, and a worker idle through a slow one would see the
// run's end a heartbeat late (a look is a KV get while the submit runs).
func idlePace(idleFor, leaseTTL time.Duration, submitted bool) time.Duration {
	pace := backoff(idleFor, leaseTTL/4)
	if !submitted {
		pace = min(pace, time.Second)
	}
	return pace
}

// membership tells the changes of a run's lease bucket that move the fair
// share or free a partition for this worker (another worker's first
// heartbeat, a worker stopping, another worker's lease deleted) from
// those that do not (heartbeats, lease renewals, its own leases). It also
// remembers the partitions this worker gave back, so that it does not
// take them again for giveBackCooldown: the worker they were given back
// for is to have them. (A worker that dies leaves no deletion behind: its
// leases expire, and heartbeats notice.)
type membership struct {
	mu       sync.Mutex
	known    map[string]bool      // workers seen
	gave     map[string]time.Time // leases given back, and when
	leases   map[string]time.Time // leases held by any worker, and when last seen: the last listing, then the watch
	cooldown time.Duration        // how long a given-back lease stays the others' (a heartbeat, at most giveBackCooldown)
	lastLive int                  // live workers at the last balance
}

func newMembership(selfKey string, cooldown time.Duration) *membership {
	// Its own first heartbeat changes nothing: it balanced just before.
	return &membership{known: map[string]bool{selfKey: true}, gave: map[string]time.Time{}, leases: map[string]time.Time{},
		cooldown: cooldown}
}

// checkSameID warns, once, when another process heartbeats under this
// worker's --id: each has its own heartbeat key, so the two work as two,
// but status lists them under one name and their logs mix. (IDs have no
// dots, so the key's prefix names the ID alone.)
func (w *Worker) checkSameID(e jetstream.KeyValueEntry) {
	if e == nil || e.Operation() != jetstream.KeyValuePut || e.Key() == w.beatKey() ||
		!strings.HasPrefix(e.Key(), "w."+w.cfg.ID+".") {
		return
	}
	w.sameID.Do(func() {
		w.logf("another worker is running with --id %s: give each worker its own --id (status lists the two under one name)", w.cfg.ID)
	})
}

func (m *membership) changed(e jetstream.KeyValueEntry) bool {
	if e == nil {
		return false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	key, put := e.Key(), e.Operation() == jetstream.KeyValuePut
	switch {
	case strings.HasPrefix(key, "w."):
		if put {
			if m.known[key] {
				return false
			}
			m.known[key] = true
			return true
		}
		delete(m.known, key)
		return true
	case strings.HasPrefix(key, "p."):
		if put { // taken or renewed
			m.leases[key] = time.Now()
		} else {
			delete(m.leases, key)
		}
		return !put && !m.recentlyGiven(key)
	}
	return false
}

// listed records the leases a lease listing found; the watch keeps them
// up to date until the next listing. A lease already known keeps the time
// the watch last saw it put: a listing shows a dead worker's lease until
// it expires, and stamping it would hide that nobody renews it.
func (m *membership) listed(leased map[string]bool) {
	now := time.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	leases := make(map[string]time.Time, len(leased))
	for k := range leased {
		if seen, ok := m.leases[k]; ok {
			leases[k] = seen
		} else {
			leases[k] = now
		}
	}
	m.leases = leases
}

// unleased reports whether one of the partitions in busy, not in held, has
// no lease as far as the listing and the watch tell, or one not renewed
// for stale: a lease that expires with its dead worker leaves no event in
// the watch, but its renewals (every LeaseTTL/4) stop.
func (m *membership) unleased(busy map[int]bool, held map[int]*partition, stale time.Duration) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	for n := range busy {
		if held[n] != nil {
			continue
		}
		if seen, ok := m.leases[partitionKey(n)]; !ok || time.Since(seen) > stale {
			return true
		}
	}
	return false
}

func (m *membership) gaveBack(n int) {
	m.mu.Lock()
	m.gave[partitionKey(n)] = time.Now()
	m.mu.Unlock()
}

// givenBack reports whether this worker gave partition n back within the
// cooldown.
func (m *membership) givenBack(n int) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.recentlyGiven(partitionKey(n))
}

// nextExpiry returns how long until the soonest give-back stops being
// recent, and false when there is none.
func (m *membership) nextExpiry() (time.Duration, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var next time.Duration
	found := false
	for key, at := range m.gave {
		d := m.cooldown - time.Since(at)
		if d <= 0 {
			delete(m.gave, key)
			continue
		}
		if !found || d < next {
			next, found = d, true
		}
	}
	return next, found
}

// recentlyGiven is givenBack by lease key, with m.mu held; it forgets
// older give-backs.
func (m *membership) recentlyGiven(key string) bool {
	at, ok := m.gave[key]
	if ok && time.Since(at) >= m.cooldown {
		delete(m.gave, key)
		return false
	}
	return ok
}

// joined records live as the number of workers at this balance and
// reports whether it grew since the last.
func (m *membership) joined(live int) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	grew := live > m.lastLive
	m.lastLive = live
	return grew
}

// busyPartitions returns the partitions with targets queued, once the run
// is submitted in full (nil before: any partition may still get some).
// Workers then share only those, and a run over three hosts costs three
// consumers and leases instead of one per partition.
func (w *Worker) busyPartitions(ctx context.Context, s *session) map[int]bool {
	m, _, err := metaIn(ctx, s.runs, s.meta.Name)
	if err != nil || !m.Complete {
		return nil
	}
	info, err := s.ts.Info(ctx, jetstream.WithSubjectFilter(targetFilter(s.meta.Name)))
	if err != nil {
		return nil
	}
	busy := map[int]bool{}
	for subj := range info.State.Subjects {
		if n, ok := subjectPartition(s.meta.Name, subj); ok {
			busy[n] = true
		}
	}
	return busy
}

// balance takes free partitions up to the fair share, or gives back those
// held above it (unless takeOnly): all of them when a worker joined since
// the last balance, one otherwise (the share also shrinks as partitions
// run out of work near the end of a run, where handing back queued
// targets gains little). It returns false when the lease bucket is gone
// (the run was deleted?).
func (w *Worker) balance(ctx context.Context, s *session, parts map[int]*partition, members *membership, takeOnly bool) bool {
	kv, meta := s.kv, s.meta
	l, err := kv.ListKeys(ctx, jetstream.MetaOnly())
	if gone(err) {
		return false // the caller looks whether the run is still there
	}
	if err != nil {
		// Counting itself alone, it would take every free partition.
		w.logf("run %s: listing workers: %v (not rebalancing now)", meta.Name, err)
		return true
	}
	var caps []int // of the live workers, 0 for none
	self := false
	leased := map[string]bool{} // held by some worker as the listing saw it
	for k := range l.Keys() {
		switch {
		case strings.HasPrefix(k, "w."):
			caps = append(caps, capOf(k))
			self = self || k == w.beatKey()
		case strings.HasPrefix(k, "p."):
			leased[k] = true
		}
	}
	if err := ctx.Err(); err != nil {
		// The lister ended with ctx, without its end marker (a lease
		// that expired during the listing): the listing is partial,
		// and would count workers and leases short.
		if errors.Is(err, context.DeadlineExceeded) {
			w.logf("run %s: listing workers: %v (not rebalancing now)", meta.Name, err)
		}
		return true
	}
	members.listed(leased)
	if !self { // its heartbeat failed, or is not listed yet
		caps = append(caps, w.cfg.MaxPartitions)
	}
	live := len(caps)
	// A balance that only takes leaves the news of a joined worker to
	// the one that gives back.
	joined := !takeOnly && members.joined(live)
	busy := w.busyPartitions(ctx, s)
	want := meta.Partitions
	if busy != nil {
		want = len(busy)
	}
	share := fairShare(want, caps, w.cfg.MaxPartitions)
	// Held partitions without work left do not count against the share.
	held := 0
	for n := range parts {
		if busy == nil || busy[n] {
			held++
		}
	}
	if held > share {
		if takeOnly {
			return true
		}
		for n, p := range parts {
			if held > share && (busy == nil || busy[n]) {
				w.logf("run %s: giving back partition %d (fair share %d)", meta.Name, n, share)
				members.gaveBack(n)
				delete(parts, n)
				held--
				if !joined {
					s.releasing.Go(func() { p.release(false, meta.LeaseTTL/2) })
					break
				}
				// Attempts in flight finish and queued targets go back,
				// for the worker that joined: finishing them here first
				// took up to LeaseTTL/2.
				s.releasing.Go(func() { p.release(true, 0) })
			}
		}
		return true
	}
	// Start the search at a place that differs between workers, so that
	// they do not all race for the same keys.
	off := Partition(w.cfg.ID, meta.Partitions)
	for i := 0; i < meta.Partitions && held < share; i++ {
		n := (off + i) % meta.Partitions
		if parts[n] != nil || busy != nil && !busy[n] || members.givenBack(n) || leased[partitionKey(n)] {
			continue
		}
		rev, err := kv.Create(ctx, partitionKey(n), []byte(w.cfg.ID))
		if err != nil {
			continue // held by another worker, or NATS is unreachable
		}
		p, err := s.startPartition(ctx, n, rev)
		if err != nil {
			kv.Delete(ctx, partitionKey(n), jetstream.LastRevision(rev))
			if gone(err) {
				return false
			}
			w.logf("run %s: partition %d: %v", meta.Name, n, err)
			continue
		}
		parts[n] = p
		held++
	}
	return true
}
