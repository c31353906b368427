//go:build linux

package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fanout/fanout/engine"
	"github.com/fanout/fanout/fetch"
	"github.com/fanout/fanout/input"
)

// holdFetcher is an in-memory transport: every Fetch waits hold (on a
// timer, as a real request waits on its socket) and succeeds.
type holdFetcher struct {
	hold     time.Duration
	inflight atomic.Int64
}

func (f *holdFetcher) Fetch(ctx context.Context, t *fetch.Target, r *fetch.Result) {
	f.inflight.Add(1)
	timer := time.NewTimer(f.hold)
	select {
	case <-timer.C:
	case <-ctx.Done():
		timer.Stop()
	}
	f.inflight.Add(-1)
	r.URL, r.FinalURL, r.Status = t.URL, t.URL, 200
}

// engineReport is what the __engine subcommand prints as JSON.
type engineReport struct {
	N            int     `json:"n"`
	PeakInFlight int64   `json:"peak_in_flight"`
	Results      int64   `json:"results"`
	Wall         float64 `json:"wall_s"`
	BaseHeap     uint64  `json:"base_heap_stack"`
	PeakHeap     uint64  `json:"peak_heap_stack"` // HeapInuse+StackInuse at the peak sample
	PeakSys      uint64  `json:"peak_sys"`        // runtime Sys at the peak sample
	BaseRSS      int64   `json:"base_rss"`
	PeakRSS      int64   `json:"peak_rss"` // VmRSS at the peak sample
	HWM          int64   `json:"vm_hwm"`   // VmHWM at the end
}

// engineMain is the "__engine" subcommand: n targets from a generated list,
// read through input.Reader (dedupe on, as the CLI does), run by the engine
// with concurrency = window = n over an in-memory transport that holds each
// for -hold. It samples memory while the most targets are in flight.
func engineMain(args []string) int {
	fs := flag.NewFlagSet("__engine", flag.ContinueOnError)
	n := fs.Int("n", 1_000_000, "targets, all in flight at once")
	hold := fs.Duration("hold", 5*time.Second, "how long each in-memory fetch takes")
	hosts := fs.Int("hosts", 1000, "distinct host names")
	heap := fs.String("heapprofile", "", "write a heap profile to `file` once all targets are in flight")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	rep := engineReport{N: *n}
	runtime.GC()
	rep.BaseHeap, _ = heapStack()
	rep.BaseRSS = procStatus("VmRSS")

	cfg := engine.DefaultConfig()
	cfg.Limits = engine.Limits{Concurrency: *n, PerHost: *n, Window: *n}
	cfg.Retry.Max = 0
	f := &holdFetcher{hold: *hold}
	eng, err := engine.NewWithFetcher(cfg, f)
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		return 1
	}
	start := time.Now()
	src := input.NewReader(input.Options{Dedupe: true}, input.Source{Name: "generated", R: genList(*n, *hosts)})
	run := eng.Start(context.Background(), src)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); sampleEngine(f, &rep, stop, *heap) }()
	for range run.Results() {
		rep.Results++
	}
	close(stop)
	wg.Wait()
	rep.Wall = time.Since(start).Seconds()
	rep.HWM = procStatus("VmHWM")
	json.NewEncoder(os.Stdout).Encode(rep)
	return 0
}

// sampleEngine records memory whenever in-flight reaches a new high.
// With a heap profile path, it writes the profile (after the sample) the
// first time every target is in flight.
func sampleEngine(f *holdFetcher, rep *engineReport, stop <-chan struct{}, heap string) {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	start := time.Now()
	for i := 0; ; i++ {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		in := f.inflight.Load()
		if i%10 == 0 {
			fmt.Fprintf(os.Stderr, "engine: %5.1fs in flight %d\n", time.Since(start).Seconds(), in)
		}
		if in > rep.PeakInFlight {
			rep.PeakInFlight = in
			rep.PeakHeap, rep.PeakSys = heapStack()
			rep.PeakRSS = procStatus("VmRSS")
			if heap != "" && in == int64(rep.N) {
				writeHeapProfile(heap)
				heap = ""
			}
		}
	}
}

func heapStack() (inuse, sys uint64) {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse + ms.StackInuse, ms.Sys
}

// procStatus returns a /proc/self/status field in bytes (0 if missing).
func procStatus(field string) int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(data)) {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb * 1024
		}
	}
	return 0
}

// genList streams n distinct URL lines over hosts host names.
func genList(n, hosts int) io.Reader {
	pr, pw := io.Pipe()
	go func() {
		bw := bufio.NewWriterSize(pw, 64<<10)
		var buf []byte
		for i := range n {
			buf = append(buf[:0], "http://h"...)
			buf = strconv.AppendInt(buf, int64(i%hosts), 10)
			buf = append(buf, ".sim:8080/ok?n="...)
			buf = strconv.AppendInt(buf, int64(i), 10)
			buf = append(buf, '\n')
			if _, err := bw.Write(buf); err != nil {
				return
			}
		}
		pw.CloseWithError(bw.Flush())
	}()
	return pr
}
