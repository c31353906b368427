package engine

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/fanout/fanout/fetch"
)

// A host's Retry-After on its last attempt pauses the host when the
// attempt ends, not when a slow consumer takes the result: attempts that
// finished before it and wait for the consumer too would otherwise free
// their slots first, and the engine start more attempts at the host that
// asked to be left alone.
func TestRetryAfterPausesBeforeTheConsumerTakesTheResult(t *testing.T) {
	t.Parallel()
	var (
		mu      sync.Mutex
		said    time.Time // when target 6 answered Retry-After
		early   []uint64  // targets started within the pause
		quickWG sync.WaitGroup
	)
	quickWG.Add(2)
	f := newFake(func(ctx context.Context, tg fetch.Target, n int) fetch.Result {
		mu.Lock()
		if !said.IsZero() && time.Since(said) < 900*time.Millisecond {
			early = append(early, tg.Seq)
		}
		mu.Unlock()
		switch tg.Seq {
		case 4, 5: // done while the results channel is full: wait for the consumer
			defer quickWG.Done()
		case 6:
			quickWG.Wait()
			time.Sleep(50 * time.Millisecond) // 4 and 5 wait in deliver
			mu.Lock()
			said = time.Now()
			mu.Unlock()
			return fetch.Result{Status: 503, RetryAfter: time.Second}
		case 7:
			return sleep(ctx, tg, 300*time.Millisecond, 200)
		}
		return fetch.Result{Status: 200}
	})
	c := testConfig()
	c.Limits.Concurrency, c.Limits.PerHost = 4, 4
	c.Retry.Max = 0
	var ts []fetch.Target
	for i := range 10 {
		ts = append(ts, target(i, "a"))
	}
	run := mustEngine(t, c, f).Start(context.Background(), SliceSource(ts))
	// A slow consumer: busy elsewhere, then taking one result (which lets
	// target 4, first in line, hand over its own), then busy again.
	time.Sleep(200 * time.Millisecond)
	<-run.Results()
	time.Sleep(100 * time.Millisecond)
	if got := collect(t, run); len(got) != len(ts)-1 {
		t.Errorf("%d results, want %d", len(got)+1, len(ts))
	}
	mu.Lock()
	defer mu.Unlock()
	if len(early) > 0 {
		t.Errorf("targets %v started while their host's Retry-After of 1s ran", early)
	}
}
