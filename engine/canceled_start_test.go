package engine

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fanout/fanout/fetch"
)

// heldSource hands over its targets, then blocks in Next until release is
// closed, and then ends. blocked is closed when Next first blocks.
type heldSource struct {
	ts      []fetch.Target
	calls   atomic.Int64
	blocked chan struct{}
	once    sync.Once
	release chan struct{}
}

func newHeldSource(ts ...fetch.Target) *heldSource {
	return &heldSource{ts: ts, blocked: make(chan struct{}), release: make(chan struct{})}
}

func (s *heldSource) Next() (fetch.Target, error) {
	if i := int(s.calls.Add(1) - 1); i < len(s.ts) {
		return s.ts[i], nil
	}
	s.once.Do(func() { close(s.blocked) })
	<-s.release
	return fetch.Target{}, io.EOF
}

// A run whose context ends before it read a target has no result to say
// so: Err returns the context's error, or an empty run would pass for an
// empty input. A context already done reads nothing at all (a canceled
// result for each target read would take a window of them from the
// source for nothing). Once a target was read its result tells, as in any
// cancel, and Err stays nil; so it does after Stop or Drain, which the
// caller asked for.
func TestContextEndedBeforeTheFirstTarget(t *testing.T) {
	t.Parallel()
	var requests atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
	}))
	defer srv.Close()
	tg := fetch.Target{Seq: 0, Input: srv.URL + "/a", URL: srv.URL + "/a"}

	for _, tc := range []struct {
		name string
		ts   []fetch.Target // what the source hands over before it blocks
		// end ends the run once the source blocks and every target
		// handed over has its result (nil: ctx is done before Start).
		end      func(run *Run, cancel context.CancelFunc)
		deadline bool // ctx's deadline has passed before Start
		wantErr  error
		wantN    int // results
	}{
		{name: "canceled before Start", wantErr: context.Canceled},
		{name: "deadline passed before Start", deadline: true, wantErr: context.DeadlineExceeded},
		{name: "canceled in the first Next", end: func(_ *Run, cancel context.CancelFunc) { cancel() }, wantErr: context.Canceled},
		{name: "canceled after a target", ts: []fetch.Target{tg}, end: func(_ *Run, cancel context.CancelFunc) { cancel() }, wantN: 1},
		{name: "stopped in the first Next", end: func(run *Run, _ context.CancelFunc) { run.Stop() }},
		{name: "drained in the first Next", end: func(run *Run, _ context.CancelFunc) { run.Drain() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			c.Retry.Max = 0
			e, err := New(c)
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tc.deadline {
				ctx, cancel = context.WithDeadline(ctx, time.Now().Add(-time.Second))
				defer cancel()
			} else if tc.end == nil {
				cancel()
			}
			src := newHeldSource(tc.ts...)
			defer close(src.release) // lets an abandoned Next return
			before := requests.Load()
			run := e.Start(ctx, src)
			results := make(chan int)
			go func() {
				n := 0
				for range run.Results() {
					n++
				}
				results <- n
			}()
			if tc.end != nil {
				select {
				case <-src.blocked:
				case <-time.After(10 * time.Second):
					t.Fatal("the source was not read to its end within 10s")
				}
				waitRead(t, run, int64(len(tc.ts)))
				for deadline := time.Now().Add(10 * time.Second); run.Stats().Done < int64(len(tc.ts)); {
					if time.Now().After(deadline) {
						t.Fatal("no result within 10s for the target read")
					}
					time.Sleep(time.Millisecond)
				}
				tc.end(run, cancel)
			}
			var n int
			select {
			case n = <-results:
			case <-time.After(10 * time.Second):
				t.Fatal("Results not closed within 10s")
			}
			if n != tc.wantN {
				t.Errorf("results = %d, want %d", n, tc.wantN)
			}
			if err := run.Err(); !errors.Is(err, tc.wantErr) || (err == nil) != (tc.wantErr == nil) {
				t.Errorf("Err() = %v, want %v", err, tc.wantErr)
			}
			if tc.end == nil {
				if got := src.calls.Load(); got != 0 {
					t.Errorf("Next called %d times on a run whose context was done", got)
				}
				if got := requests.Load() - before; got != 0 {
					t.Errorf("%d requests made by a run whose context was done", got)
				}
			}
		})
	}
}

// A run started with a context already done takes nothing from its
// source, not even the one target its reader could get before it sees the
// cancel: that target would be gone from the source without a result. One
// run seldom shows it (it depends on which goroutine runs first), so this
// starts many.
func TestDoneContextReadsNothing(t *testing.T) {
	t.Parallel()
	e := mustEngine(t, testConfig(), newFake(func(ctx context.Context, tg fetch.Target, n int) fetch.Result {
		return fetch.Result{Status: 200}
	}))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var calls atomic.Int64
	src := FuncSource(func() (fetch.Target, error) {
		return target(int(calls.Add(1)-1), "a"), nil // endless
	})
	for i := range 300 {
		run := e.Start(ctx, src)
		for range run.Results() {
			run.Stop()
			t.Fatalf("run %d: a result from a run whose context was done", i)
		}
		if !errors.Is(run.Err(), context.Canceled) {
			t.Fatalf("run %d: Err() = %v, want %v", i, run.Err(), context.Canceled)
		}
	}
	if n := calls.Load(); n != 0 {
		t.Errorf("300 runs with a done context called Next %d times, want 0", n)
	}
}
