package engine

import (
	"context"
	"sort"
	"testing"
	"time"

	"github.com/fanout/fanout/fetch"
)

// hostStarts records when each attempt to a host began.
func hostStarts(f *fakeFetcher) []time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	var all []time.Time
	for _, s := range f.starts {
		all = append(all, s...)
	}
	sort.Slice(all, func(i, j int) bool { return all[i].Before(all[j]) })
	return all
}

func TestHostRateHoldsWhenARetryOvertakesAPrepaidTarget(t *testing.T) {
	t.Parallel()
	f := newFake(func(ctx context.Context, tg fetch.Target, n int) fetch.Result {
		if tg.Seq == 0 && n == 1 {
			return fetch.Result{Status: 503} // retried after ~1-5 ms
		}
		return fetch.Result{Status: 200}
	})
	c := testConfig()
	c.Limits.HostRate = 5 // one start per 200 ms, burst 1
	ts := []fetch.Target{target(0, "h"), target(1, "h"), target(2, "h")}
	collect(t, mustEngine(t, c, f).Start(context.Background(), SliceSource(ts)))
	all := hostStarts(f)
	if len(all) != 4 {
		t.Fatalf("attempts = %d, want 4", len(all))
	}
	for i := 1; i < len(all); i++ {
		if gap := all[i].Sub(all[i-1]); gap < 150*time.Millisecond {
			t.Errorf("attempts %d and %d to one host %v apart; --host-rate 5 allows one per 200ms", i-1, i, gap)
		}
	}
}

func TestHostRateHoldsUnderTheGlobalRate(t *testing.T) {
	t.Parallel()
	f := newFake(func(ctx context.Context, tg fetch.Target, n int) fetch.Result { return fetch.Result{Status: 200} })
	c := testConfig()
	c.Limits.Rate = 20    // one start per 50 ms overall
	c.Limits.HostRate = 5 // one per 200 ms per host
	var ts []fetch.Target
	hosts := []string{"a", "b", "c", "d", "e"}
	for i := range 30 {
		ts = append(ts, target(i, hosts[i%len(hosts)]))
	}
	collect(t, mustEngine(t, c, f).Start(context.Background(), SliceSource(ts)))
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, h := range hosts {
		var starts []time.Time
		for seq, s := range f.starts {
			if ts[seq].HostKey == h+":80" {
				starts = append(starts, s...)
			}
		}
		sort.Slice(starts, func(i, j int) bool { return starts[i].Before(starts[j]) })
		for i := 1; i < len(starts); i++ {
			if gap := starts[i].Sub(starts[i-1]); gap < 150*time.Millisecond {
				t.Errorf("host %s: attempts %v apart; --host-rate 5 allows one per 200ms", h, gap)
			}
		}
	}
}
