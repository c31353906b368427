package engine

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fanout/fanout/fetch"
)

// TestMaxHostErrors: after --max-host-errors attempts in a row fail at a
// host itself, its other targets are not fetched: each still gets its one
// result, of kind skipped (or, waiting for a retry, its last attempt's).
// Answers of any kind, and failures that say nothing of the host, do not
// lead there.
func TestMaxHostErrors(t *testing.T) {
	t.Parallel()
	fail := func(kind fetch.ErrorKind) func(int) fetch.Result {
		return func(int) fetch.Result { return fetch.Result{Error: &fetch.Error{Kind: kind, Message: "x"}} }
	}
	const deadTargets, limit = 40, 5
	for _, tc := range []struct {
		name      string
		answer    func(call int) fetch.Result // host dead's call-th attempt (from 1)
		retries   int
		max       int
		wantCalls int // attempts at host dead
	}{
		{"timeouts", fail(fetch.KindTimeout), 0, limit, limit},
		{"refused, retried", fail(fetch.KindRefused), 2, limit, limit},
		{"connect timeouts", fail(fetch.KindConnectTimeout), 0, limit, limit},
		{"resets", fail(fetch.KindReset), 0, limit, limit},
		{"429s", func(int) fetch.Result { return fetch.Result{Status: 429} }, 0, limit, limit},
		{"429s, retried", func(int) fetch.Result { return fetch.Result{Status: 429} }, 2, limit, limit},
		{"503s with Retry-After", func(int) fetch.Result { return fetch.Result{Status: 503, RetryAfter: time.Second} }, 0, limit, limit},
		// Asking for longer than --max-retry-wait, the first answer is
		// honoured for the rest: none is sent before the hour is up.
		{"a 503 with Retry-After beyond --max-retry-wait", func(int) fetch.Result { return fetch.Result{Status: 503, RetryAfter: time.Hour} }, 2, limit, 1},
		{"a 429 with Retry-After beyond --max-retry-wait", func(int) fetch.Result { return fetch.Result{Status: 429, RetryAfter: time.Hour} }, 0, limit, 1},
		{"0 never skips, even for a Retry-After", func(int) fetch.Result { return fetch.Result{Status: 503, RetryAfter: time.Hour} }, 0, 0, deadTargets},
		{"503s without are answers", func(int) fetch.Result { return fetch.Result{Status: 503} }, 0, limit, deadTargets},
		{"dns lookups timing out", func(int) fetch.Result {
			return fetch.Result{Error: &fetch.Error{Kind: fetch.KindDNS, Message: "x", Transient: true}}
		}, 0, limit, limit},
		{"an answer starts the count again", func(call int) fetch.Result {
			if call%limit == 0 {
				return fetch.Result{Status: 500}
			}
			return fetch.Result{Error: &fetch.Error{Kind: fetch.KindTimeout}}
		}, 0, limit, deadTargets},
		{"0 never skips", fail(fetch.KindTimeout), 0, 0, deadTargets},
		{"no such host is an answer", fail(fetch.KindDNS), 0, limit, deadTargets},
		{"tls errors are answers", fail(fetch.KindTLS), 0, limit, deadTargets},
		{"local shortages say nothing", fail(fetch.KindLocal), 0, limit, deadTargets},
		// A tarpit: every URL answers, then sends its body a byte a
		// second past --timeout (found in review: 100 such targets held
		// the end of a run for 1m45s).
		{"timeouts reading the body", func(int) fetch.Result {
			return fetch.Result{Status: 200, Error: &fetch.Error{Kind: fetch.KindTimeout, Message: "reading the body"}}
		}, 0, limit, limit},
		{"a slow body among quick answers is not counted on", func(call int) fetch.Result {
			if call%2 == 0 {
				return fetch.Result{Status: 200}
			}
			return fetch.Result{Status: 200, Error: &fetch.Error{Kind: fetch.KindTimeout, Message: "reading the body"}}
		}, 0, limit, deadTargets},
		// A body without a --match string: the host answered, and would
		// answer the same again.
		{"mismatches are answers, not retried", func(int) fetch.Result {
			return fetch.Result{Status: 200, Error: &fetch.Error{Kind: fetch.KindMismatch, Message: "body lacks UP"}}
		}, 2, limit, deadTargets},
		{"a reset after the reply began is an answer", func(int) fetch.Result {
			return fetch.Result{Status: 200, Error: &fetch.Error{Kind: fetch.KindReset, Message: "mid-body"}}
		}, 0, limit, deadTargets},
		{"a proxy refusing fanout says nothing of the host", func(int) fetch.Result {
			return fetch.Result{Error: &fetch.Error{Kind: fetch.KindRefused, Message: "x", Permanent: true}}
		}, 0, limit, deadTargets},
		{"an unreachable proxy says nothing of the host", func(int) fetch.Result {
			return fetch.Result{Error: &fetch.Error{Kind: fetch.KindRefused, Message: "x", Proxy: true}}
		}, 0, limit, deadTargets},
		{"a later hop's failure is the host's answer", func(int) fetch.Result {
			return fetch.Result{Redirects: []fetch.Hop{{URL: "http://elsewhere/", Status: 302}},
				Error: &fetch.Error{Kind: fetch.KindTimeout}}
		}, 0, limit, deadTargets},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var calls atomic.Int64
			allRead := make(chan struct{})
			f := newFake(func(ctx context.Context, tg fetch.Target, n int) fetch.Result {
				if tg.HostKey == "live:80" {
					return fetch.Result{Status: 200}
				}
				// A host with nothing queued is forgotten, its count
				// with it (it held up nothing): the test's host has its
				// targets queued from its first answer on, as a dead
				// host's pile up in a real run.
				<-allRead
				return tc.answer(int(calls.Add(1)))
			})
			c := testConfig()
			c.Limits.PerHost = 1 // attempts at the dead host one by one: the count is exact
			c.Limits.MaxHostErrors = tc.max
			c.Retry.Max = tc.retries
			var ts []fetch.Target
			for i := range deadTargets {
				ts = append(ts, target(i, "dead"))
			}
			for i := range 10 {
				ts = append(ts, target(deadTargets+i, "live"))
			}
			src := SliceSource(ts)
			run := mustEngine(t, c, f).Start(context.Background(), FuncSource(func() (fetch.Target, error) {
				tg, err := src.Next()
				if err != nil {
					close(allRead)
				}
				return tg, err
			}))
			got := collect(t, run)
			if len(got) != len(ts) {
				t.Fatalf("%d results for %d targets", len(got), len(ts))
			}
			if n := calls.Load(); n != int64(tc.wantCalls) {
				t.Errorf("%d attempts at the dead host, want %d", n, tc.wantCalls)
			}
			skipped, tried := 0, 0
			for i := range deadTargets {
				r := got[uint64(i)]
				if r.Error != nil && r.Error.Kind == fetch.KindSkipped {
					skipped++
					if r.Attempts != 0 || r.Input != ts[i].Input || !strings.Contains(r.Error.Message, "--max-host-errors") {
						t.Errorf("skipped target %d: attempts %d, input %q, message %q", i, r.Attempts, r.Input, r.Error.Message)
					}
					continue
				}
				if r.Attempts == 0 {
					t.Errorf("target %d: %+v, neither attempted nor skipped", i, r)
				}
				tried++ // (one waiting to retry when the skip began keeps its last answer)
			}
			if tc.wantCalls < deadTargets && (skipped == 0 || tried > limit) {
				t.Errorf("%d targets skipped, %d tried; want the rest skipped after %d failed attempts", skipped, tried, limit)
			}
			if tc.wantCalls == deadTargets && skipped > 0 {
				t.Errorf("%d targets skipped, want none", skipped)
			}
			// A library user watching the run sees the skips too; the
			// tried ones (a target waiting to retry keeps its last
			// answer) are not among them.
			if st := run.Stats(); st.Skipped != int64(skipped) || st.Done != int64(len(ts)) {
				t.Errorf("Stats %+v: Skipped %d, Done %d; want %d skipped of %d done", st, st.Skipped, st.Done, skipped, len(ts))
			}
			for i := deadTargets; i < len(ts); i++ {
				if r := got[uint64(i)]; r.Status != 200 {
					t.Errorf("live target %d: %+v", i, r)
				}
			}
		})
	}
}

// TestJudge follows one host's count through the rules: N failures in a
// row; fewer over N times HostFailingPer (a host whose every answer is a
// 429 with Retry-After: 30 took 15 minutes to reach 30); an answer
// starting again;
// failures of attempts in flight while the host is skipped adding nothing;
// and after SkipFor, probation, the first failure skipping it again.
func TestJudge(t *testing.T) {
	t.Parallel()
	c := testConfig()
	c.Limits.MaxHostErrors = 30 // 3 over a minute
	c.Limits.SkipFor = time.Minute
	s := newScheduler(context.Background(), c, nil, &Run{})
	h := &host{key: "a:80", limit: 1}
	fail := outcome{says: hostFailed, why: "429 Too Many Requests"}
	t0 := time.Now()
	at := func(d time.Duration) time.Time { return t0.Add(d) }

	for i, d := range []time.Duration{0, 30 * time.Second} {
		if s.judge(h, fail, at(d)); h.skipUntil != (time.Time{}) {
			t.Fatalf("skipped after %d failures over %s", i+1, d)
		}
	}
	s.judge(h, outcome{says: hostAnswered}, at(40*time.Second))
	s.judge(h, fail, at(50*time.Second))
	s.judge(h, fail, at(80*time.Second))
	if s.judge(h, fail, at(100*time.Second)); h.skipUntil != (time.Time{}) {
		t.Fatal("skipped after 3 failures over 50s, the count started again by an answer at 40s")
	}
	s.judge(h, fail, at(110*time.Second)) // the 4th over 60s
	if want := at(110 * time.Second).Add(time.Minute); !h.skipUntil.Equal(want) {
		t.Fatalf("skip until %v, want %v (4 failures over a minute)", h.skipUntil, want)
	}
	if !strings.Contains(h.skipWhy, "4 attempts in a row failed at this host over 1m00s (the last: 429 Too Many Requests)") {
		t.Errorf("why %q", h.skipWhy)
	}
	why := h.skipWhy
	s.judge(h, fail, at(120*time.Second)) // in flight when the skip began
	if h.skipWhy != why || h.failures != 0 {
		t.Errorf("a failure during the skip changed it: why %q, failures %d", h.skipWhy, h.failures)
	}
	if h.skipping(at(170*time.Second)) || !h.probing(at(170*time.Second)) {
		t.Fatal("after SkipFor: still skipping, or not on probation")
	}
	s.judge(h, fail, at(175*time.Second))
	if !h.skipping(at(175*time.Second)) || !strings.Contains(h.skipWhy, "failed again when tried after a skip") {
		t.Fatalf("on probation, a failure did not skip the host again: why %q", h.skipWhy)
	}
	if !h.probing(at(240 * time.Second)) {
		t.Fatal("not on probation after the second skip")
	}
	if s.judge(h, outcome{says: hostAnswered}, at(241*time.Second)); h.probing(at(241 * time.Second)) {
		t.Fatal("an answer did not end the probation")
	}
	for i := range 29 {
		if s.judge(h, fail, at(242*time.Second+time.Duration(i)*time.Second)); h.skipUntil != (time.Time{}) {
			t.Fatalf("an answer after the skip kept the probation: skipped at the %d-th failure", i+1)
		}
	}
	if s.judge(h, fail, at(272*time.Second)); h.skipUntil == (time.Time{}) {
		t.Fatal("not skipped at the 30th failure in a row")
	}

	// A patient --max-host-errors is patient in time too: 1000 allows
	// 2000 s of failures, not one minute's.
	c.Limits.MaxHostErrors = 1000
	s = newScheduler(context.Background(), c, nil, &Run{})
	h = &host{key: "b:80", limit: 1}
	for i := range 5 {
		s.judge(h, fail, at(time.Duration(i)*time.Minute))
	}
	if h.skipUntil != (time.Time{}) {
		t.Errorf("--max-host-errors 1000 skipped after 5 failures over 4 minutes")
	}
}

// TestJudgeHoldOff: a host asking with Retry-After for longer than
// --max-retry-wait is skipped at once, for as long as it asked; an answer
// in flight asking for longer still extends it; after it, the host is on
// probation as after any skip.
func TestJudgeHoldOff(t *testing.T) {
	t.Parallel()
	c := testConfig()
	c.Retry.MaxWait = 30 * time.Second
	s := newScheduler(context.Background(), c, nil, &Run{})
	h := &host{key: "a:80", limit: 1}
	t0 := time.Now()
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	hold := func(d time.Duration) outcome {
		return outcome{says: hostFailed, why: "503 with Retry-After " + d.String(), holdOff: d}
	}

	s.judge(h, hold(2*time.Hour), t0)
	if want := at(2 * time.Hour); !h.skipUntil.Equal(want) {
		t.Fatalf("skip until %v, want %v: the first such answer skips for what it asked", h.skipUntil, want)
	}
	for _, part := range []string{"asked to be left alone (503 with Retry-After 2h0m0s)", "longer than --max-retry-wait 30.0s", "skipped for 2h00m"} {
		if !strings.Contains(h.skipWhy, part) {
			t.Errorf("why %q lacks %q", h.skipWhy, part)
		}
	}
	s.judge(h, hold(time.Hour), at(time.Minute)) // in flight, asking for less
	if want := at(2 * time.Hour); !h.skipUntil.Equal(want) {
		t.Errorf("a shorter ask in flight moved the skip's end to %v", h.skipUntil)
	}
	s.judge(h, hold(3*time.Hour), at(time.Minute))
	if want := at(time.Minute + 3*time.Hour); !h.skipUntil.Equal(want) {
		t.Errorf("skip until %v, want %v: a longer ask extends it", h.skipUntil, want)
	}
	if !h.probing(at(4 * time.Hour)) {
		t.Error("not on probation after the skip")
	}

	c.Limits.MaxHostErrors = 0
	s = newScheduler(context.Background(), c, nil, &Run{})
	h = &host{key: "b:80", limit: 1}
	if s.judge(h, hold(time.Hour), t0); h.skipUntil != (time.Time{}) {
		t.Error("--max-host-errors 0 skipped a host")
	}
}

// TestJudgeHostWhy: the failure a skip's results name says what the host
// asked for, a 429's Retry-After included (the hold-off's message quotes
// it).
func TestJudgeHostWhy(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		r    fetch.Result
		want string
	}{
		{fetch.Result{Status: 429, RetryAfter: time.Hour}, "429 with Retry-After 1h00m"},
		{fetch.Result{Status: 503, RetryAfter: 2 * time.Minute}, "503 with Retry-After 2m00s"},
		{fetch.Result{Status: 429}, "429 Too Many Requests"},
	} {
		if v, why := judgeHost(&tc.r, true); v != hostFailed || why != tc.want {
			t.Errorf("%d, Retry-After %s: %v %q, want hostFailed %q", tc.r.Status, tc.r.RetryAfter, v, why, tc.want)
		}
	}
}

// TestHoldOffOutlivesAnswersSentBefore: a rate limiter answers a burst
// with some 200s and a 429 asking for an hour; a 200 to a request sent
// before the 429 does not lift the hold-off, or every later target would
// be sent at once. (Found in review: the answer cleared the skip.)
func TestHoldOffOutlivesAnswersSentBefore(t *testing.T) {
	t.Parallel()
	var later atomic.Int64
	first, secondDone := make(chan struct{}), make(chan struct{})
	f := newFake(func(ctx context.Context, tg fetch.Target, n int) fetch.Result {
		switch tg.Seq {
		case 0:
			defer close(first)
			return fetch.Result{Status: 429, RetryAfter: time.Hour}
		case 1:
			<-first
			time.Sleep(100 * time.Millisecond) // sent before the 429, answered after it
			defer close(secondDone)
			return fetch.Result{Status: 200}
		}
		later.Add(1)
		return fetch.Result{Status: 200}
	})
	c := testConfig()
	c.Limits.PerHost = 2
	c.Retry.MaxWait = time.Second
	var ts []fetch.Target
	for i := range 10 {
		ts = append(ts, target(i, "rl"))
	}
	src := SliceSource(ts)
	got := collect(t, mustEngine(t, c, f).Start(context.Background(), FuncSource(func() (fetch.Target, error) {
		tg, err := src.Next()
		if err == nil && tg.Seq == 2 {
			<-secondDone
			time.Sleep(100 * time.Millisecond) // the 200 judged first
		}
		return tg, err
	})))
	if len(got) != len(ts) {
		t.Fatalf("%d results for %d targets", len(got), len(ts))
	}
	if n := later.Load(); n > 0 {
		t.Errorf("the host asked for an hour off, yet %d later targets were sent", n)
	}
}

// TestSkipProbation: a host still down when its skip ends is skipped again
// at its first failure, not after another --max-host-errors.
func TestSkipProbation(t *testing.T) {
	t.Parallel()
	var calls atomic.Int64
	firstRead, third := make(chan struct{}), make(chan struct{})
	f := newFake(func(ctx context.Context, tg fetch.Target, n int) fetch.Result {
		if tg.HostKey == "dead:80" {
			// As in TestMaxHostErrors: the first targets all queued
			// before the first answer, else a loaded machine lets the
			// host go idle between them, forgotten with its count.
			<-firstRead
			if calls.Add(1) == 3 {
				close(third)
			}
			return fetch.Result{Error: &fetch.Error{Kind: fetch.KindRefused, Message: "x"}}
		}
		return fetch.Result{Status: 200}
	})
	c := testConfig()
	c.Limits.PerHost = 1
	c.Limits.MaxHostErrors = 3
	c.Limits.SkipFor = 2 * time.Second // then on probation, idle, for as long
	c.Retry.Max = 0
	var ts []fetch.Target
	for i := range 20 {
		ts = append(ts, target(i, "dead"))
	}
	src := SliceSource(ts)
	later := 10 // from here the targets come after the skip ended
	got := collect(t, mustEngine(t, c, f).Start(context.Background(), FuncSource(func() (fetch.Target, error) {
		tg, err := src.Next()
		if err == nil && tg.Seq == uint64(later) {
			close(firstRead)
			// The skip begins at the third failure; the target comes
			// half-way through the probation that follows it (SkipFor
			// to 2 SkipFor after), whatever the machine's load.
			<-third
			time.Sleep(3 * c.Limits.SkipFor / 2)
		}
		return tg, err
	})))
	if len(got) != len(ts) {
		t.Fatalf("%d results for %d targets", len(got), len(ts))
	}
	if n := calls.Load(); n != 4 {
		t.Errorf("%d attempts at the dead host, want 3 and 1 on probation", n)
	}
}

// TestHostThatAlwaysSays429DoesNotStallTheRun is the case that made the
// limit: a host answering every request with 429 and Retry-After: 1 is
// polite to honour, one request a second, and with its targets filling the
// window the rest of the list waited behind it, a target a second. The run
// has a deadline; before the limit it ended with the other host's targets
// canceled.
func TestHostThatAlwaysSays429DoesNotStallTheRun(t *testing.T) {
	t.Parallel()
	var asked atomic.Int64
	busy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked.Add(1)
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(http.StatusTooManyRequests)
	}))
	defer busy.Close()
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer ok.Close()

	c := DefaultConfig()
	c.Retry.Max = 0
	c.Limits.Window = 100
	c.Limits.MaxHostErrors = 3
	e, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	var ts []fetch.Target
	for i := range 300 {
		base := busy.URL
		if i >= 250 {
			base = ok.URL
		}
		u := fmt.Sprintf("%s/%d", base, i)
		ts = append(ts, fetch.Target{Seq: uint64(i), Input: u, URL: u})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	got := collect(t, e.Start(ctx, SliceSource(ts)))
	if len(got) != len(ts) {
		t.Fatalf("%d results for %d targets", len(got), len(ts))
	}
	for i := 250; i < len(ts); i++ {
		if r := got[uint64(i)]; r.Status != 200 {
			t.Fatalf("target %d on the other host: status %d, error %v", i, r.Status, r.Error)
		}
	}
	// The 429s halve --per-host to 1, so one attempt is in flight at most
	// when the third fails, plus those in flight before the first 429.
	if n := asked.Load(); n > int64(c.Limits.MaxHostErrors+c.Limits.PerHost) {
		t.Errorf("the busy host was asked %d times, want at most %d", n, c.Limits.MaxHostErrors+c.Limits.PerHost)
	}
	skipped := 0
	for i := range 250 {
		if r := got[uint64(i)]; r.Error != nil && r.Error.Kind == fetch.KindSkipped {
			skipped++
		} else if r.Status != 429 {
			t.Errorf("target %d on the busy host: status %d, error %v", i, r.Status, r.Error)
		}
	}
	if skipped < 240 {
		t.Errorf("%d targets of the busy host skipped, want all but the few asked", skipped)
	}
}

// TestSkipEndsRetryWaits: targets of a host waiting to retry when its
// skip begins get their last answers then, not after their waits (here up
// to an hour, which the run's deadline would cut short as canceled).
func TestSkipEndsRetryWaits(t *testing.T) {
	t.Parallel()
	f := newFake(func(ctx context.Context, tg fetch.Target, n int) fetch.Result {
		return fetch.Result{Error: &fetch.Error{Kind: fetch.KindTimeout, Message: "x"}}
	})
	c := testConfig()
	c.Limits.PerHost = 1
	c.Limits.MaxHostErrors = 2
	c.Retry.Base, c.Retry.Cap = time.Hour, time.Hour
	ts := []fetch.Target{target(0, "a"), target(1, "a"), target(2, "a"), target(3, "a")}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	got := collect(t, mustEngine(t, c, f).Start(ctx, SliceSource(ts)))
	for i := range ts {
		r := got[uint64(i)]
		if r.Error == nil || r.Error.Kind == fetch.KindCanceled {
			t.Errorf("target %d: %+v, want its timeout or skipped", i, r.Error)
		}
	}
}

// TestForgetPushesOneEvent: a skipped host goes idle once per target (each
// skipped at once), and each time forget looked when to look again: an
// event each, by the thousand for a list of one dead host, where one will
// do.
func TestForgetPushesOneEvent(t *testing.T) {
	t.Parallel()
	c := testConfig()
	c.Limits.MaxHostErrors = 30
	s := newScheduler(context.Background(), c, nil, &Run{})
	now := time.Now()
	h := &host{key: "a:80", limit: 1, skipUntil: now.Add(time.Minute)}
	s.hosts[h.key] = h
	for i := range 1000 {
		s.forget(h, now.Add(time.Duration(i)*time.Millisecond))
	}
	if len(s.events) != 1 {
		t.Errorf("%d events for one idle host, want 1", len(s.events))
	}
}

// TestRedirectIntoSkippedHost: a host being skipped gets no requests
// through other hosts' redirects either; each such target ends at its
// redirect, kind skipped, saying why. (Found in review: a host that asked
// to be left alone for an hour kept getting one request per target that
// linked to it.)
func TestRedirectIntoSkippedHost(t *testing.T) {
	t.Parallel()
	var atB atomic.Int64
	b := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		atB.Add(1)
		w.Header().Set("Retry-After", "3600")
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	// Another address than A's: a Retry-After from the same address is
	// taken for the redirecting host's own (a bare host's fallback port).
	ln, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Skipf("no 127.0.0.2 here: %v", err)
	}
	b.Listener.Close()
	b.Listener = ln
	b.Start()
	defer b.Close()
	a := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, b.URL+r.URL.Path, http.StatusFound)
	}))
	defer a.Close()
	tg := func(seq int, base string) fetch.Target {
		u := fmt.Sprintf("%s/%d", base, seq)
		return fetch.Target{Seq: uint64(seq), Input: u, URL: u, HostKey: fetch.HostKeyOf(u)}
	}
	ts := []fetch.Target{tg(0, b.URL), tg(1, b.URL)}
	const viaA = 10
	for i := range viaA {
		ts = append(ts, tg(2+i, a.URL))
	}
	c := testConfig()
	c.Limits.PerHost = 1 // B's second target waits in its queue, and is skipped
	c.Retry.Max = 0
	c.Request.Timeout = 5 * time.Second
	eng, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	skippedB := make(chan struct{}) // B's second target's result: the skip has begun
	i := 0
	run := eng.Start(context.Background(), FuncSource(func() (fetch.Target, error) {
		if i == len(ts) {
			return fetch.Target{}, io.EOF
		}
		if i == 2 {
			<-skippedB
		}
		i++
		return ts[i-1], nil
	}))
	got := map[uint64]fetch.Result{}
	for r := range run.Results() {
		got[r.Seq] = r
		if r.Seq == 1 {
			close(skippedB)
		}
	}
	if len(got) != len(ts) {
		t.Fatalf("%d results for %d targets", len(got), len(ts))
	}
	if r := got[1]; r.Error == nil || r.Error.Kind != fetch.KindSkipped {
		t.Fatalf("B's second target: %+v, want it skipped", r.Error)
	}
	if n := atB.Load(); n != 1 {
		t.Errorf("B got %d requests, want 1: redirects to it were followed while it was skipped", n)
	}
	for i := range viaA {
		r := got[uint64(2+i)]
		if r.Status != http.StatusFound || r.Error == nil || r.Error.Kind != fetch.KindSkipped ||
			!strings.Contains(r.Error.Message, "not followed") || !strings.Contains(r.Error.Message, "asked to be left alone") ||
			!strings.HasPrefix(r.Location, b.URL) {
			t.Fatalf("target via A: status %d location %q error %+v; want the 302, kind skipped, saying why", r.Status, r.Location, r.Error)
		}
	}
}
