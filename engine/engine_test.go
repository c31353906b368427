package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/fanout/fanout/fetch"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeFetcher answers from a function and records concurrency per host.
type fakeFetcher struct {
	answer func(ctx context.Context, t fetch.Target, n int) fetch.Result

	mu       sync.Mutex
	inflight map[string]int
	maxHost  map[string]int
	total    int
	maxTotal int
	calls    map[uint64]int
	starts   map[uint64][]time.Time
}

func newFake(answer func(ctx context.Context, t fetch.Target, n int) fetch.Result) *fakeFetcher {
	return &fakeFetcher{
		answer:   answer,
		inflight: map[string]int{}, maxHost: map[string]int{},
		calls: map[uint64]int{}, starts: map[uint64][]time.Time{},
	}
}

func (f *fakeFetcher) Fetch(ctx context.Context, tp *fetch.Target, out *fetch.Result) {
	*out = f.fetch(ctx, *tp)
}

func (f *fakeFetcher) fetch(ctx context.Context, t fetch.Target) fetch.Result {
	f.mu.Lock()
	f.inflight[t.HostKey]++
	f.maxHost[t.HostKey] = max(f.maxHost[t.HostKey], f.inflight[t.HostKey])
	f.total++
	f.maxTotal = max(f.maxTotal, f.total)
	f.calls[t.Seq]++
	n := f.calls[t.Seq]
	f.starts[t.Seq] = append(f.starts[t.Seq], time.Now())
	f.mu.Unlock()
	r := f.answer(ctx, t, n)
	f.mu.Lock()
	f.inflight[t.HostKey]--
	f.total--
	f.mu.Unlock()
	return r
}

// sleep waits d or until ctx ends, reporting canceled as fetch would.
func sleep(ctx context.Context, t fetch.Target, d time.Duration, status int) fetch.Result {
	r := fetch.Result{URL: t.URL, StartedAt: time.Now()}
	select {
	case <-time.After(d):
		r.Status = status
	case <-ctx.Done():
		r.Error = &fetch.Error{Kind: fetch.KindCanceled, Message: "canceled"}
	}
	return r
}

func target(seq int, host string) fetch.Target {
	return fetch.Target{
		Seq: uint64(seq), Input: fmt.Sprintf("http://%s/%d", host, seq),
		URL: fmt.Sprintf("http://%s/%d", host, seq), HostKey: host + ":80",
	}
}

func testConfig() Config {
	c := DefaultConfig()
	c.Retry.Base = time.Millisecond
	c.Retry.Cap = 5 * time.Millisecond
	return c
}

func mustEngine(t *testing.T, c Config, f Fetcher) *Engine {
	t.Helper()
	e, err := NewWithFetcher(c, f)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// collect drains a run and returns its results by sequence number, failing
// on any duplicate.
func collect(t *testing.T, r *Run) map[uint64]fetch.Result {
	t.Helper()
	got := map[uint64]fetch.Result{}
	for res := range r.Results() {
		if _, dup := got[res.Seq]; dup {
			t.Errorf("seq %d delivered twice", res.Seq)
		}
		got[res.Seq] = res
	}
	return got
}

func TestEveryTargetYieldsOneResult(t *testing.T) {
	t.Parallel()
	f := newFake(func(ctx context.Context, tg fetch.Target, n int) fetch.Result {
		switch tg.Seq % 5 {
		case 0:
			return fetch.Result{Status: 200}
		case 1:
			return fetch.Result{Status: 503} // retried, then stands
		case 2:
			return fetch.Result{Error: &fetch.Error{Kind: fetch.KindReset}}
		default:
			return fetch.Result{Error: &fetch.Error{Kind: fetch.KindDNS}}
		}
	})
	var ts []fetch.Target
	for i := range 3000 {
		tg := target(i, fmt.Sprintf("h%d", i%37))
		if i%11 == 0 {
			tg.Invalid = "unsupported scheme \"ftp\""
		}
		ts = append(ts, tg)
	}
	c := testConfig()
	c.Limits.Window = 100 // smaller than the input, so admission cycles
	got := collect(t, mustEngine(t, c, f).Start(context.Background(), SliceSource(ts)))
	if len(got) != len(ts) {
		t.Fatalf("results = %d, want %d", len(got), len(ts))
	}
	for _, tg := range ts {
		r := got[tg.Seq]
		if r.Input != tg.Input {
			t.Fatalf("seq %d: input %q, want %q", tg.Seq, r.Input, tg.Input)
		}
		wantAttempts := 1
		switch {
		case tg.Invalid != "":
			if r.Error == nil || r.Error.Kind != fetch.KindInvalidURL {
				t.Fatalf("seq %d: invalid target got %+v", tg.Seq, r.Error)
			}
			wantAttempts = 0
		case tg.Seq%5 == 1 || tg.Seq%5 == 2:
			wantAttempts = 3
		}
		if r.Attempts != wantAttempts {
			t.Fatalf("seq %d: attempts %d, want %d", tg.Seq, r.Attempts, wantAttempts)
		}
	}
}

func TestConcurrencyLimits(t *testing.T) {
	t.Parallel()
	f := newFake(func(ctx context.Context, tg fetch.Target, n int) fetch.Result {
		return sleep(ctx, tg, time.Millisecond, 200)
	})
	var ts []fetch.Target
	for i := range 2000 {
		ts = append(ts, target(i, fmt.Sprintf("h%d", i%5)))
	}
	c := testConfig()
	c.Limits.Concurrency, c.Limits.PerHost = 8, 3
	got := collect(t, mustEngine(t, c, f).Start(context.Background(), SliceSource(ts)))
	if len(got) != len(ts) {
		t.Fatalf("results = %d, want %d", len(got), len(ts))
	}
	if f.maxTotal > 8 {
		t.Errorf("max in flight = %d, want <= 8", f.maxTotal)
	}
	for h, m := range f.maxHost {
		if m > 3 {
			t.Errorf("host %s: max in flight = %d, want <= 3", h, m)
		}
	}
}

// The head-of-line scenario: the first 5,000 targets go to one slow host
// limited to 2 at a time, the next 5,000 to many others. The others must
// all finish while the slow host is still far from done.
func TestNoHeadOfLineBlocking(t *testing.T) {
	t.Parallel()
	var slowDone atomic.Int64
	f := newFake(func(ctx context.Context, tg fetch.Target, n int) fetch.Result {
		if tg.HostKey == "slow:80" {
			r := sleep(ctx, tg, time.Millisecond, 200)
			slowDone.Add(1)
			return r
		}
		return sleep(ctx, tg, time.Millisecond, 200)
	})
	var ts []fetch.Target
	for i := range 5000 {
		ts = append(ts, target(i, "slow"))
	}
	for i := 5000; i < 10000; i++ {
		ts = append(ts, target(i, fmt.Sprintf("h%d", i%100)))
	}
	c := testConfig()
	c.Limits.Concurrency, c.Limits.PerHost = 50, 2
	r := mustEngine(t, c, f).Start(context.Background(), SliceSource(ts))
	fast := 0
	var slowAtLastFast int64
	n := 0
	for res := range r.Results() {
		n++
		if res.Seq >= 5000 {
			fast++
			if fast == 5000 {
				slowAtLastFast = slowDone.Load()
			}
		}
	}
	if n != len(ts) {
		t.Fatalf("results = %d, want %d", n, len(ts))
	}
	// Sequentially the slow host needs 2,500 rounds of >= 1 ms; the other
	// hosts share 48 free workers. If the slow host blocked the line, none
	// of the fast targets would finish before it had nearly all done.
	if slowAtLastFast > 2500 {
		t.Errorf("slow host had finished %d of 5000 when the last fast target finished; want < 2500", slowAtLastFast)
	}
}

func TestRetryWaitHoldsNoSlot(t *testing.T) {
	t.Parallel()
	const wait = 2 * time.Second
	var mu sync.Mutex
	others, maxOthers := 0, 0 // attempts in flight for targets other than 0
	f := newFake(func(ctx context.Context, tg fetch.Target, n int) fetch.Result {
		if tg.Seq == 0 {
			if n == 1 {
				return fetch.Result{Status: 503, RetryAfter: wait}
			}
			return fetch.Result{Status: 200}
		}
		mu.Lock()
		others++
		maxOthers = max(maxOthers, others)
		mu.Unlock()
		defer func() { mu.Lock(); others--; mu.Unlock() }()
		return sleep(ctx, tg, 10*time.Millisecond, 200)
	})
	ts := []fetch.Target{target(0, "retry")}
	for i := 1; i <= 40; i++ {
		ts = append(ts, target(i, fmt.Sprintf("h%d", i%10)))
	}
	c := testConfig()
	c.Limits.Concurrency = 2 // with the waiter holding a slot, only 1 would be left
	r := mustEngine(t, c, f).Start(context.Background(), SliceSource(ts))
	var order []uint64
	for res := range r.Results() {
		order = append(order, res.Seq)
		if res.Seq == 0 {
			if res.Status != 200 || res.Attempts != 2 {
				t.Errorf("retried target: status %d attempts %d, want 200 after 2", res.Status, res.Attempts)
			}
		}
	}
	// The others need 40 × 10ms over 2 slots, 200ms, far less than the
	// wait: they all finish while the first target waits for its retry.
	if order[len(order)-1] != 0 {
		t.Errorf("the retried target should finish last, after its %v wait; order ends %v", wait, order[len(order)-3:])
	}
	if maxOthers != 2 {
		t.Errorf("other targets had at most %d in flight, want 2: the waiting target must not hold a slot", maxOthers)
	}
	starts := f.starts[0]
	if len(starts) != 2 || starts[1].Sub(starts[0]) < wait {
		t.Errorf("retry came %v after the first attempt, want >= Retry-After %v", starts[1].Sub(starts[0]), wait)
	}
}

func TestRetryAfterBeyondMaxWaitIsNotRetried(t *testing.T) {
	t.Parallel()
	f := newFake(func(ctx context.Context, tg fetch.Target, n int) fetch.Result {
		return fetch.Result{Status: 429, RetryAfter: time.Hour}
	})
	got := collect(t, mustEngine(t, testConfig(), f).Start(context.Background(), SliceSource([]fetch.Target{target(0, "a")})))
	if r := got[0]; r.Status != 429 || r.Attempts != 1 {
		t.Errorf("got status %d after %d attempts, want 429 after 1", r.Status, r.Attempts)
	}
}

// TestRetryAfterPausesTheHost: a Retry-After holds the target's whole host,
// not only the target, whether the target is retried or it was its last
// attempt (--retries 0: the target ends, but its host still asked to be
// left alone); other hosts go on.
func TestRetryAfterPausesTheHost(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		retries int
	}{{"retried", 2}, {"last attempt", 0}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// A pause far longer than a loaded machine's delay in
			// starting the other host's target (it was 300 ms, and that
			// target had to start within 250 ms).
			const pause = 2 * time.Second
			f := newFake(func(ctx context.Context, tg fetch.Target, n int) fetch.Result {
				if tg.Seq == 0 && n == 1 {
					return fetch.Result{Status: 429, RetryAfter: pause}
				}
				return fetch.Result{Status: 200}
			})
			ts := []fetch.Target{target(0, "a"), target(1, "a"), target(2, "b")}
			c := testConfig()
			c.Limits.PerHost = 1
			c.Retry.Max = tc.retries
			got := collect(t, mustEngine(t, c, f).Start(context.Background(), SliceSource(ts)))
			if tc.retries == 0 && (got[0].Status != 429 || got[0].Attempts != 1) {
				t.Errorf("target 0: status %d after %d attempts, want 429 after 1 (no retries)", got[0].Status, got[0].Attempts)
			}
			// Target 1 shares host a: it must wait out the Retry-After as well.
			if d := f.starts[1][0].Sub(f.starts[0][0]); d < pause {
				t.Errorf("second target on the paused host started %v after the 429, want >= %v", d, pause)
			}
			if d := f.starts[2][0].Sub(f.starts[0][0]); d >= pause {
				t.Errorf("target on another host waited %v, the host's pause of %v; other hosts must not pause", d, pause)
			}
		})
	}
}

// A 429 with Retry-After from the host a redirect led to pauses nothing of
// the target's own host: the target waits for its retry, the others on its
// host go on. (The redirect's host is not the scheduler's to pause.)
func TestRetryAfterFromRedirectTargetPausesNotTheOrigin(t *testing.T) {
	t.Parallel()
	const pause = 2 * time.Second // far longer than a loaded machine's delays
	f := newFake(func(ctx context.Context, tg fetch.Target, n int) fetch.Result {
		if tg.Seq == 0 && n == 1 {
			return fetch.Result{Status: 429, RetryAfter: pause, FinalURL: "http://elsewhere.test/x"}
		}
		return fetch.Result{Status: 200, FinalURL: tg.URL}
	})
	ts := []fetch.Target{target(0, "a"), target(1, "a")}
	c := testConfig()
	c.Limits.PerHost = 1
	got := collect(t, mustEngine(t, c, f).Start(context.Background(), SliceSource(ts)))
	if d := f.starts[1][0].Sub(f.starts[0][0]); d >= pause {
		t.Errorf("second target on host a started %v after a 429 from another host, want before its pause of %v", d, pause)
	}
	if r := got[0]; r.Status != 200 || r.Attempts != 2 || f.starts[0][1].Sub(f.starts[0][0]) < pause {
		t.Errorf("the redirected target: status %d after %d attempts; want its retry after the Retry-After", r.Status, r.Attempts)
	}
}

func TestAnsweredBy(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		final, key string
		want       bool
	}{
		{"http://a.test/x", "a.test:80", true},
		{"http://A.Test:8080/x", "a.test:8080", true},
		{"http://a.test/", "a.test:443", true}, // a bare host's http fallback
		{"http://[::1]:81/", "[::1]:81", true},
		{"http://b.test/x", "a.test:80", false},
		{"http://[0:0::1]/", "[::1]:80", true},
		{"http://bücher.example/", "xn--bcher-kva.example:80", true},
		{"http://[::ffff:127.0.0.1]/", "127.0.0.1:80", true},
		{"http://name.example.:8080/", "name.example:8080", true}, // the HostKey drops a trailing dot
		{"http://Name.Example/", "name.example.:80", true},
		{"", "a.test:80", true},
	} {
		if got := answeredBy(tc.final, tc.key); got != tc.want {
			t.Errorf("answeredBy(%q, %q) = %v, want %v", tc.final, tc.key, got, tc.want)
		}
	}
}

func TestRates(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		rate, per float64
		hosts     int
	}{
		{"global", 40, 0, 4},
		{"per-host", 0, 20, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFake(func(ctx context.Context, tg fetch.Target, n int) fetch.Result { return fetch.Result{Status: 200} })
			var ts []fetch.Target
			for i := range 21 {
				ts = append(ts, target(i, fmt.Sprintf("h%d", i%tc.hosts)))
			}
			c := testConfig()
			c.Limits.Rate, c.Limits.HostRate = tc.rate, tc.per
			start := time.Now()
			collect(t, mustEngine(t, c, f).Start(context.Background(), SliceSource(ts)))
			// 21 starts at 40/s overall, or ~10 per host at 20/s: >= 0.45 s.
			if el := time.Since(start); el < 450*time.Millisecond {
				t.Errorf("21 targets finished in %v; the rate limit allows no less than 450ms", el)
			}
			var all []time.Time
			for _, s := range f.starts {
				all = append(all, s...)
			}
			sort.Slice(all, func(i, j int) bool { return all[i].Before(all[j]) })
			if len(all) != 21 {
				t.Errorf("attempts = %d, want 21", len(all))
			}
		})
	}
}

func TestDrainFinishesInFlightAndCancelsTheRest(t *testing.T) {
	t.Parallel()
	started := make(chan struct{}, 100)
	f := newFake(func(ctx context.Context, tg fetch.Target, n int) fetch.Result {
		started <- struct{}{}
		return sleep(ctx, tg, 200*time.Millisecond, 200)
	})
	var ts []fetch.Target
	for i := range 500 {
		ts = append(ts, target(i, fmt.Sprintf("h%d", i%50)))
	}
	c := testConfig()
	c.Limits.Concurrency = 10
	r := mustEngine(t, c, f).Start(context.Background(), SliceSource(ts))
	for range 10 {
		<-started
	}
	r.Drain()
	got := collect(t, r)
	if int64(len(got)) != r.Stats().Read {
		t.Fatalf("results %d != targets read %d", len(got), r.Stats().Read)
	}
	ok, canceled := 0, 0
	for _, res := range got {
		switch {
		case res.Status == 200 && res.Error == nil:
			ok++
		case res.Error != nil && res.Error.Kind == fetch.KindCanceled && res.Attempts == 0:
			canceled++
		default:
			t.Errorf("unexpected result %+v", res)
		}
	}
	if ok != 10 {
		t.Errorf("in-flight targets that finished = %d, want 10", ok)
	}
	if canceled != len(got)-10 {
		t.Errorf("canceled = %d, want %d", canceled, len(got)-10)
	}
}

func TestCancelAbortsEverything(t *testing.T) {
	t.Parallel()
	f := newFake(func(ctx context.Context, tg fetch.Target, n int) fetch.Result {
		return sleep(ctx, tg, time.Minute, 200)
	})
	var ts []fetch.Target
	for i := range 300 {
		ts = append(ts, target(i, fmt.Sprintf("h%d", i%20)))
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := mustEngine(t, testConfig(), f).Start(ctx, SliceSource(ts))
	time.AfterFunc(50*time.Millisecond, cancel)
	start := time.Now()
	got := collect(t, r)
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("cancel took %v", el)
	}
	if int64(len(got)) != r.Stats().Read {
		t.Fatalf("results %d != targets read %d", len(got), r.Stats().Read)
	}
	for _, res := range got {
		if res.Error == nil || res.Error.Kind != fetch.KindCanceled {
			t.Fatalf("result %d: %+v, want canceled", res.Seq, res.Error)
		}
	}
}

func TestSourceErrorIsReported(t *testing.T) {
	t.Parallel()
	n := 0
	src := FuncSource(func() (fetch.Target, error) {
		if n == 5 {
			return fetch.Target{}, fmt.Errorf("input.txt: disk on fire")
		}
		n++
		return target(n-1, "a"), nil
	})
	f := newFake(func(ctx context.Context, tg fetch.Target, n int) fetch.Result { return fetch.Result{Status: 200} })
	r := mustEngine(t, testConfig(), f).Start(context.Background(), src)
	if got := collect(t, r); len(got) != 5 {
		t.Errorf("results = %d, want 5", len(got))
	}
	if r.Err() == nil {
		t.Error("Err() = nil, want the source's error")
	}
}

// Err may be asked while the run goes on (a progress display, or the
// function Stream returns, called early): it answers nil until the run has
// ended, and the source's error after, without a data race on the field the
// run's goroutine sets at its end (go test -race reports one otherwise).
func TestErrWhileRunning(t *testing.T) {
	t.Parallel()
	n := 0
	src := FuncSource(func() (fetch.Target, error) {
		if n == 20 {
			return fetch.Target{}, fmt.Errorf("input.txt: disk on fire")
		}
		n++
		time.Sleep(time.Millisecond)
		return target(n-1, "a"), nil
	})
	f := newFake(func(ctx context.Context, tg fetch.Target, n int) fetch.Result { return fetch.Result{Status: 200} })
	results, errf := mustEngine(t, testConfig(), f).Stream(context.Background(), src)
	stop, polled := make(chan struct{}), make(chan struct{})
	go func() { // not synchronised with the run in any way
		defer close(polled)
		for {
			select {
			case <-stop:
				return
			default:
			}
			_ = errf()
			time.Sleep(100 * time.Microsecond)
		}
	}()
	got := 0
	for range results {
		got++
	}
	close(stop)
	<-polled
	if got != 20 {
		t.Errorf("results = %d, want 20", got)
	}
	if err := errf(); err == nil || !strings.Contains(err.Error(), "disk on fire") {
		t.Errorf("Err() after the end = %v, want the source's error", err)
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	c := DefaultConfig()
	c.Limits.Concurrency, c.Limits.PerHost, c.Retry.Max, c.Limits.MaxHostErrors = 0, -1, -2, -1
	err := c.Validate()
	if err == nil {
		t.Fatal("Validate() = nil, want errors")
	}
	for _, flag := range []string{"Limits.Concurrency", "Limits.PerHost", "Retry.Max", "Limits.MaxHostErrors"} {
		if !strings.Contains(err.Error(), flag) {
			t.Errorf("error %q does not name %s", err, flag)
		}
	}
}

// TestValidateNoRetries: Retry{} (no retries) needs no backoff, and a
// backoff is still checked when there are retries to shape.
func TestValidateNoRetries(t *testing.T) {
	t.Parallel()
	c := DefaultConfig()
	c.Retry = Retry{}
	if err := c.Validate(); err != nil {
		t.Errorf("Validate() with Retry{} = %v, want nil", err)
	}
	c.Retry.Max = 1
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "backoff") {
		t.Errorf("Validate() with retries and no backoff = %v, want a backoff error", err)
	}
}

// A host that answers 429 above 2 requests at once gets fewer: after the
// first 429s the engine halves that host's concurrency, and every target
// ends accepted within its retries.
func TestTooManyRequestsLowersHostConcurrency(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	inflight := 0
	f := newFake(func(ctx context.Context, tg fetch.Target, n int) fetch.Result {
		mu.Lock()
		inflight++
		over := inflight > 2
		mu.Unlock()
		defer func() { mu.Lock(); inflight--; mu.Unlock() }()
		if over {
			return fetch.Result{Status: 429, RetryAfter: 20 * time.Millisecond}
		}
		return sleep(ctx, tg, 5*time.Millisecond, 200)
	})
	var ts []fetch.Target
	for i := range 200 {
		ts = append(ts, target(i, "busy"))
	}
	c := testConfig()
	c.Limits.PerHost = 8
	c.Retry.Max = 3
	got := collect(t, mustEngine(t, c, f).Start(context.Background(), SliceSource(ts)))
	tooMany := 0
	for _, r := range got {
		if r.Status != 200 {
			tooMany++
		}
	}
	if tooMany > 0 {
		t.Errorf("%d of %d targets still ended with 429; the host's concurrency should have come down", tooMany, len(ts))
	}
	if n := len(got); n != len(ts) {
		t.Errorf("results = %d, want %d", n, len(ts))
	}
}

// TestDropQueued: targets DropQueued picks get its result at once, while
// every slot is taken and without an attempt; the others still run, and
// every target has exactly one result.
func TestDropQueued(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	var fetchedB atomic.Int64
	f := newFake(func(ctx context.Context, tg fetch.Target, n int) fetch.Result {
		if tg.HostKey == "b:80" {
			fetchedB.Add(1)
		} else {
			<-release
		}
		return fetch.Result{Seq: tg.Seq, Status: 200}
	})
	ts := []fetch.Target{target(0, "a"), target(1, "a")}
	for i := 2; i < 52; i++ {
		ts = append(ts, target(i, "b"))
	}
	c := testConfig()
	c.Limits.Concurrency, c.Limits.PerHost = 1, 1 // target 0 holds the only slot
	r := mustEngine(t, c, f).Start(context.Background(), SliceSource(ts))
	waitRead(t, r, int64(len(ts)))
	r.DropQueued(func(tg *fetch.Target) (fetch.Result, bool) {
		return fetch.Result{Error: &fetch.Error{Kind: fetch.KindCanceled, Message: "dropped"}}, tg.HostKey == "b:80"
	})
	for i := range 50 {
		select {
		case res := <-r.Results():
			if res.Error == nil || res.Error.Message != "dropped" || res.Attempts != 0 || res.Seq < 2 {
				t.Fatalf("result %d while target 0 holds the slot: %+v, want a dropped b", i, res)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%d of 50 dropped results after 10 s", i)
		}
	}
	close(release)
	got := collect(t, r)
	if len(got) != 2 || fetchedB.Load() != 0 {
		t.Fatalf("after the drop: %d more results (want 2, host a's), %d attempts at b (want 0)", len(got), fetchedB.Load())
	}
	r.DropQueued(func(*fetch.Target) (fetch.Result, bool) { return fetch.Result{}, true }) // an ended run: returns at once
}

// A target built by hand without a HostKey gets the one input.Parse would
// give it, so that --per-host is per host, not one limit for them all.
func TestHostKeyFromURL(t *testing.T) {
	t.Parallel()
	f := newFake(func(ctx context.Context, tg fetch.Target, n int) fetch.Result {
		return sleep(ctx, tg, 50*time.Millisecond, 200)
	})
	var ts []fetch.Target
	for i := range 10 {
		u := fmt.Sprintf("http://h%d.test/%d", i%5, i)
		ts = append(ts, fetch.Target{Seq: uint64(i), Input: u, URL: u})
	}
	c := testConfig()
	c.Limits.PerHost = 1
	collect(t, mustEngine(t, c, f).Start(context.Background(), SliceSource(ts)))
	if f.maxTotal < 3 {
		t.Errorf("5 hosts at --per-host 1 ran at most %d at once: the hosts shared one queue", f.maxTotal)
	}
}

// A nil Source is the caller's slip: Start panics in the caller's
// goroutine, where it can be recovered, not in the run's.
func TestStartNilSourcePanics(t *testing.T) {
	t.Parallel()
	e := mustEngine(t, testConfig(), newFake(func(ctx context.Context, tg fetch.Target, n int) fetch.Result { return fetch.Result{} }))
	for _, src := range []Source{nil, FuncSource(nil)} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Start(ctx, %#v) did not panic", src)
				}
			}()
			e.Start(context.Background(), src)
		}()
	}
}

// An Engine not made by New or NewWithFetcher (its zero value, or a nil
// pointer) has no fetcher and no limits: a run on it would admit targets and
// never start one, and its Results would never close. Start says so at once.
func TestStartOnUnbuiltEnginePanics(t *testing.T) {
	t.Parallel()
	src := SliceSource([]fetch.Target{target(0, "a")})
	for name, e := range map[string]*Engine{"zero": {}, "new": new(Engine), "nil": nil} {
		t.Run(name, func(t *testing.T) {
			var p any
			func() {
				defer func() { p = recover() }()
				e.Start(context.Background(), src)
			}()
			msg, _ := p.(string)
			if !strings.Contains(msg, "engine.New") {
				t.Errorf("Start on an unbuilt Engine: recovered %v, want a panic naming engine.New", p)
			}
		})
	}
}

// A source that fails while a drained run finishes its attempts in flight
// is not the run's error: the run stopped reading it (as before the reader
// handed over the target it held after a stop, when it depended on timing).
func TestSourceErrorAfterDrainIsNotTheRunsError(t *testing.T) {
	t.Parallel()
	f := newFake(func(ctx context.Context, tg fetch.Target, n int) fetch.Result {
		return sleep(ctx, tg, 200*time.Millisecond, 200)
	})
	c := testConfig()
	c.Limits.Concurrency, c.Limits.Window = 1, 1
	release := make(chan struct{})
	var calls atomic.Int32
	src := FuncSource(func() (fetch.Target, error) {
		if calls.Add(1) == 1 {
			return target(0, "a"), nil
		}
		<-release // in Next when the drain comes; fails after it
		return fetch.Target{}, errors.New("feed broke")
	})
	run := mustEngine(t, c, f).Start(context.Background(), src)
	time.AfterFunc(50*time.Millisecond, func() {
		run.Drain()
		time.AfterFunc(20*time.Millisecond, func() { close(release) })
	})
	collect(t, run)
	if err := run.Err(); err != nil {
		t.Errorf("Err after a drain = %v, want nil (the source failed after the run stopped reading it)", err)
	}
}

// Every target the engine takes from its Source gets its result, also the
// one the reader holds when the run is cancelled or drained (it waited for
// room in a full window, and was dropped).
func TestStopKeepsTheTargetInHand(t *testing.T) {
	t.Parallel()
	for _, how := range []string{"cancel", "drain"} {
		t.Run(how, func(t *testing.T) {
			t.Parallel()
			f := newFake(func(ctx context.Context, tg fetch.Target, n int) fetch.Result {
				return sleep(ctx, tg, 300*time.Millisecond, 200)
			})
			c := testConfig()
			c.Limits.Concurrency, c.Limits.Window = 1, 2
			var handed atomic.Int64
			src := FuncSource(func() (fetch.Target, error) {
				i := int(handed.Add(1) - 1)
				return target(i, "a"), nil // endless
			})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			run := mustEngine(t, c, f).Start(ctx, src)
			time.AfterFunc(100*time.Millisecond, func() {
				if how == "cancel" {
					cancel()
				} else {
					run.Drain()
				}
			})
			got := collect(t, run)
			if n := handed.Load(); int64(len(got)) != n {
				t.Errorf("the source handed over %d targets, %d results came back", n, len(got))
			}
			for seq := range uint64(handed.Load()) {
				if _, ok := got[seq]; !ok {
					t.Errorf("target %d has no result", seq)
				}
			}
		})
	}
}

// A cancel after a drain (the CLI's second Ctrl-C) ends the run too.
func TestCancelAfterDrain(t *testing.T) {
	t.Parallel()
	f := newFake(func(ctx context.Context, tg fetch.Target, n int) fetch.Result {
		return sleep(ctx, tg, time.Minute, 200)
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	run := mustEngine(t, testConfig(), f).Start(ctx, SliceSource([]fetch.Target{target(0, "a"), target(1, "b")}))
	time.AfterFunc(50*time.Millisecond, func() {
		run.Drain()
		time.AfterFunc(50*time.Millisecond, cancel)
	})
	got := collect(t, run)
	for seq := range uint64(2) {
		if r := got[seq]; r.Error == nil || r.Error.Kind != fetch.KindCanceled {
			t.Errorf("target %d: %+v, want canceled", seq, r.Error)
		}
	}
}

// A Fetcher or Source a user plugs in may panic: the target fails (kind
// other) or the run ends with the source's error, and the program goes on.
func TestPanicsInUserCode(t *testing.T) {
	t.Parallel()
	t.Run("fetcher", func(t *testing.T) {
		f := newFake(func(ctx context.Context, tg fetch.Target, n int) fetch.Result {
			if tg.Seq == 1 {
				panic("boom")
			}
			return fetch.Result{Status: 200}
		})
		c := testConfig()
		c.Retry.Max = 0
		got := collect(t, mustEngine(t, c, f).Start(context.Background(), SliceSource([]fetch.Target{target(0, "a"), target(1, "a"), target(2, "b")})))
		if len(got) != 3 || got[1].Error == nil || got[1].Error.Kind != fetch.KindOther || !strings.Contains(got[1].Error.Message, "boom") || got[0].Status != 200 {
			t.Errorf("results %+v; want target 1 failed with the panic, the others fetched", got)
		}
	})
	t.Run("source", func(t *testing.T) {
		f := newFake(func(ctx context.Context, tg fetch.Target, n int) fetch.Result { return fetch.Result{Status: 200} })
		var i int
		src := FuncSource(func() (fetch.Target, error) {
			if i++; i == 3 {
				panic("source boom")
			}
			return target(i, "a"), nil
		})
		run := mustEngine(t, testConfig(), f).Start(context.Background(), src)
		got := collect(t, run)
		if len(got) != 2 || run.Err() == nil || !strings.Contains(run.Err().Error(), "source boom") {
			t.Errorf("%d results, Err %v; want 2 and the panic as the source's error", len(got), run.Err())
		}
	})
	// DropQueued's func runs on the run's goroutine, where a panic (or a
	// nil func) killed the program. A nil func drops nothing; a panic comes
	// back to the caller of DropQueued, and the run goes on with every
	// target still queued, in order.
	t.Run("drop", func(t *testing.T) {
		release := make(chan struct{})
		var mu sync.Mutex
		var order []uint64
		f := newFake(func(ctx context.Context, tg fetch.Target, n int) fetch.Result {
			if tg.Seq == 0 {
				<-release
			}
			mu.Lock()
			order = append(order, tg.Seq)
			mu.Unlock()
			return fetch.Result{Status: 200}
		})
		ts := []fetch.Target{target(0, "a")}
		for i := 1; i < 6; i++ {
			ts = append(ts, target(i, "b"))
		}
		c := testConfig()
		c.Limits.Concurrency, c.Limits.PerHost = 1, 1 // target 0 holds the only slot
		r := mustEngine(t, c, f).Start(context.Background(), SliceSource(ts))
		waitRead(t, r, int64(len(ts)))
		r.DropQueued(nil)
		var asked int
		p := func() (p any) {
			defer func() { p = recover() }()
			r.DropQueued(func(tg *fetch.Target) (fetch.Result, bool) {
				if asked++; asked == 2 {
					panic("drop boom")
				}
				return fetch.Result{}, false
			})
			return nil
		}()
		if s, _ := p.(string); !strings.Contains(s, "drop boom") {
			t.Errorf("DropQueued with a panicking func: recovered %v, want its panic", p)
		}
		close(release)
		got := collect(t, r)
		if len(got) != len(ts) {
			t.Fatalf("%d results, want %d", len(got), len(ts))
		}
		for seq, res := range got {
			if res.Status != 200 || res.Error != nil {
				t.Errorf("target %d: %+v, want it fetched", seq, res)
			}
		}
		mu.Lock()
		defer mu.Unlock()
		if fmt.Sprint(order) != "[0 1 2 3 4 5]" {
			t.Errorf("fetched in the order %v, want the queue's [0 1 2 3 4 5]", order)
		}
	})
}

// TestStopDiscardsTheResults: a caller that stops reading, as a library
// user who found what they wanted would, calls Stop; the run's goroutines
// end without anyone reading the results, and the attempts in flight are
// cancelled rather than left to run out their time.
func TestStopDiscardsTheResults(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	f := newFake(func(ctx context.Context, tg fetch.Target, n int) fetch.Result {
		if tg.Seq == 0 {
			return fetch.Result{Status: 200}
		}
		return sleep(ctx, tg, time.Minute, 200)
	})
	var ts []fetch.Target
	for i := range 500 {
		ts = append(ts, target(i, fmt.Sprintf("h%d", i%20)))
	}
	cfg := testConfig()
	cfg.Limits.Concurrency = 50
	r := mustEngine(t, cfg, f).Start(context.Background(), SliceSource(ts))
	if res := <-r.Results(); res.Status != 200 {
		t.Fatalf("first result %+v, want the quick one", res)
	}
	start := time.Now()
	r.Stop()
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("Stop took %v", el)
	}
	if _, open := <-r.Results(); open {
		t.Error("Results still open after Stop")
	}
	if err := r.Err(); err != nil {
		t.Errorf("Err after Stop: %v", err)
	}
	r.Stop() // a second Stop is harmless
}

// A host whose --host-rate is so small that its next token is centuries
// away keeps its limiter while idle: the wait overflowed time.Duration,
// came out negative, and the idle host was forgotten at once, so a later
// target to it started on a fresh limiter, at once.
func TestTinyHostRateOutlivesIdleHost(t *testing.T) {
	t.Parallel()
	var started atomic.Int64
	f := newFake(func(ctx context.Context, tg fetch.Target, n int) fetch.Result {
		started.Add(1)
		return fetch.Result{Status: 200}
	})
	c := testConfig()
	c.Limits.HostRate = 1e-12
	next := make(chan struct{})
	i := 0
	src := FuncSource(func() (fetch.Target, error) {
		if i == 1 {
			<-next // the second target comes once the host is idle
		}
		if i == 2 {
			return fetch.Target{}, io.EOF
		}
		i++
		return target(i-1, "a"), nil
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	run := mustEngine(t, c, f).Start(ctx, src)
	<-run.Results()
	time.Sleep(50 * time.Millisecond) // the host goes idle
	close(next)
	time.Sleep(300 * time.Millisecond)
	if n := started.Load(); n != 1 {
		t.Errorf("%d attempts at a host with --host-rate 1e-12, want 1", n)
	}
	cancel()
	for range run.Results() {
	}
}

// waitRead waits until run r has read n targets from its source, failing
// the test after 10 s.
func waitRead(t *testing.T, r *Run, n int64) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); r.Stats().Read < n; {
		if time.Now().After(deadline) {
			t.Fatalf("read %d targets of %d", r.Stats().Read, n)
		}
		time.Sleep(time.Millisecond)
	}
}
