package report

import (
	"io"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fanout/fanout/fetch"
)

// TestLargeRun renders a report for FANOUT_REPORT_N generated results (for
// example 1000000) over FANOUT_REPORT_N/5 hosts, so the host cap is reached,
// and reports the time, the peak heap and the size of the page:
//
//	FANOUT_REPORT_N=1000000 go test -run TestLargeRun -v ./report/
//
// The time to generate the results is measured in a separate pass and
// subtracted, so the figure is what building and writing the report cost.
func TestLargeRun(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("FANOUT_REPORT_N"))
	if n <= 0 {
		t.Skip("set FANOUT_REPORT_N (e.g. 1000000) to render a report for that many results")
	}
	hosts := max(n/5, 1)

	t0 := time.Now()
	for r := range synth(n, hosts, 7) {
		_ = r
	}
	gen := time.Since(t0)

	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	peak := sampleHeap()

	t1 := time.Now()
	a := NewAggregator(Options{})
	for r := range synth(n, hosts, 7) {
		a.Add(r)
	}
	rep := a.Report(RunInfo{ID: "large"})
	built := time.Since(t1)
	peakHeap := peak() - base.HeapAlloc
	runtime.GC()
	var live runtime.MemStats
	runtime.ReadMemStats(&live)
	runtime.KeepAlive(a)
	liveHeap := live.HeapAlloc - base.HeapAlloc
	var size countWriter
	t2 := time.Now()
	if err := rep.WriteHTML(&size); err != nil {
		t.Fatal(err)
	}
	written := time.Since(t2)

	aggregate := max(built-gen, 0)
	t.Logf("%d results over %d hosts (%d tracked, capped %v): generating %v; aggregating %v (%.0f ns/result); writing HTML %v; page %d KB; heap above baseline: peak %d MB (garbage from generation included), live after GC %d MB",
		n, hosts, rep.HostsSeen, rep.HostsCapped, gen.Round(time.Millisecond), aggregate.Round(time.Millisecond),
		float64(aggregate.Nanoseconds())/float64(n), written.Round(time.Millisecond), size.n/1024, peakHeap>>20, liveHeap>>20)
	t.Logf("report time (aggregate + write, generation excluded): %v", (aggregate + written).Round(time.Millisecond))

	if rep.Total != int64(n) {
		t.Errorf("report counts %d results, want %d", rep.Total, n)
	}
	if size.n > 2<<20 {
		t.Errorf("page is %d bytes, want under 2 MB whatever the run's length", size.n)
	}
	if d := aggregate + written; d > 2*time.Minute {
		t.Errorf("report took %v: a report must take seconds, not minutes", d)
	}
	// 100,000 hosts at ~300 B each plus map overhead; generous bound.
	if liveHeap > 200<<20 {
		t.Errorf("aggregator holds %d MB, want bounded (< 200 MB)", liveHeap>>20)
	}
}

// sampleHeap samples HeapAlloc every few milliseconds until the returned
// function is called, which returns the highest value seen.
func sampleHeap() func() uint64 {
	var peak atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		var m runtime.MemStats
		for {
			runtime.ReadMemStats(&m)
			if m.HeapAlloc > peak.Load() {
				peak.Store(m.HeapAlloc)
			}
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	})
	return func() uint64 {
		close(stop)
		wg.Wait()
		return peak.Load()
	}
}

type countWriter struct{ n int }

func (w *countWriter) Write(p []byte) (int, error) { w.n += len(p); return len(p), nil }

var _ io.Writer = (*countWriter)(nil)

// BenchmarkAdd measures the aggregation cost of one result.
func BenchmarkAdd(b *testing.B) {
	a := NewAggregator(Options{})
	next, stop := iterPull(b.N)
	defer stop()
	b.ResetTimer()
	for range b.N {
		a.Add(next())
	}
}

// iterPull pre-generates results so the benchmark times Add alone.
func iterPull(n int) (func() *fetch.Result, func()) {
	rs := make([]fetch.Result, 0, min(n, 100_000))
	for r := range synth(cap(rs), 20_000, 3) {
		rs = append(rs, *r)
	}
	i := 0
	return func() *fetch.Result {
		r := &rs[i%len(rs)]
		i++
		return r
	}, func() {}
}
