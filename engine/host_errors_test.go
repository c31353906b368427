package engine

import (
	"context"
	"fmt"
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
		{"503s with Retry-After", func(int) fetch.Result { return fetch.Result{Status: 503, RetryAfter: time.Hour} }, 2, limit, limit},
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
			got := collect(t, mustEngine(t, c, f).Start(context.Background(), FuncSource(func() (fetch.Target, error) {
				tg, err := src.Next()
				if err != nil {
					close(allRead)
				}
				return tg, err
			})))
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
			for i := deadTargets; i < len(ts); i++ {
				if r := got[uint64(i)]; r.Status != 200 {
					t.Errorf("live target %d: %+v", i, r)
				}
			}
		})
	}
}

// TestSkipEnds: a skip lasts HostSkipFor; then the host's next target is
// fetched, its failures counted afresh.
func TestSkipEnds(t *testing.T) {
	now := time.Now()
	h := &host{skipUntil: now.Add(HostSkipFor), skipWhy: "x", failures: 3}
	if !h.skipping(now) || !h.skipping(now.Add(HostSkipFor-time.Millisecond)) {
		t.Fatal("not skipping within HostSkipFor")
	}
	if h.skipping(now.Add(HostSkipFor)) || h.failures != 0 || h.skipWhy != "" {
		t.Fatalf("after HostSkipFor: skipping, or failures %d, why %q kept", h.failures, h.skipWhy)
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
