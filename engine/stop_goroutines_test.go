package engine

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/fanout/fanout/fetch"
)

// TestDrainOfAFullWindowStartsNoGoroutinePerTarget: a drain (Ctrl-C) with
// a large window queued and a consumer that is not reading gives every
// queued target its canceled result through one goroutine, not one each:
// with --window 200000 one each took the process from 121 MB to 657 MB at
// the moment of the Ctrl-C. Not parallel: it counts the process's
// goroutines.
func TestDrainOfAFullWindowStartsNoGoroutinePerTarget(t *testing.T) {
	const n = 20_000
	release := make(chan struct{})
	f := newFake(func(ctx context.Context, tg fetch.Target, _ int) fetch.Result {
		<-release
		return fetch.Result{URL: tg.URL, Status: 200}
	})
	var ts []fetch.Target
	for i := range n {
		ts = append(ts, target(i, "one"))
	}
	c := testConfig()
	c.Limits.Concurrency, c.Limits.PerHost, c.Limits.Window = 1, 1, n
	r := mustEngine(t, c, f).Start(context.Background(), SliceSource(ts))
	waitRead(t, r, int64(n))
	before := runtime.NumGoroutine()
	r.Drain()
	time.Sleep(200 * time.Millisecond) // nobody reads Results meanwhile
	grown := runtime.NumGoroutine() - before
	close(release)
	got := collect(t, r)
	if len(got) != n {
		t.Fatalf("%d results for %d targets", len(got), n)
	}
	canceled := 0
	for _, res := range got {
		if res.Error != nil && res.Error.Kind == fetch.KindCanceled {
			canceled++
		}
	}
	if canceled != n-1 {
		t.Errorf("canceled = %d, want %d", canceled, n-1)
	}
	if grown > 100 {
		t.Fatalf("the drain started %d goroutines for %d queued targets", grown, n-1)
	}
}
