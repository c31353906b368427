//go:build linux

package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/fanout/fanout/internal/simweb"
)

// memRun is one fanout run of a memory measurement.
type memRun struct {
	label string
	n     int // targets
	argv  string
	m     measure
	extra string // e.g. the spread of start times
}

// memResult is a memory section of the report.
type memResult struct {
	key, title string
	runs       []memRun
	lines      []string // figures and checks, already formatted
}

// runMem10k holds n requests in flight at once (each held 5 s by simweb,
// connections spread over 8 listeners) and reports fanout's peak RSS per
// in-flight request, total and above a 100-request baseline.
func runMem10k(b *bench) error {
	n := 10000
	if b.quick {
		n = 2000
	}
	sw, err := startSimweb(b, 8, time.Duration(b.runs+2)*b.jobTimeout)
	if err != nil {
		return err
	}
	defer sw.stop()
	res := &memResult{key: "mem10k", title: fmt.Sprintf("memory: %d real requests in flight at once", n)}
	base, err := memHoldRun(b, sw, "baseline", 100, 0)
	if err != nil {
		return err
	}
	res.runs = append(res.runs, base)
	var peak []measure
	for r := range b.runs {
		mr, err := memHoldRun(b, sw, "in-flight", n, r)
		if err != nil {
			return err
		}
		res.runs = append(res.runs, mr)
		peak = append(peak, mr.m)
	}
	// The floor: the bare net/http loop (bench __nethttp) with the same
	// requests in flight, since fanout's HTTP core is net/http.
	var floor []measure
	for r := range b.runs {
		urls := filepath.Join(b.out, fmt.Sprintf("hold-%d.urls", n))
		argv := []string{b.self, "__nethttp", "-c", strconv.Itoa(n), "-i", urls, "-timeout", "60s"}
		for _, e := range sw.resolveArgs() {
			if e != "--resolve" {
				argv = append(argv, "-resolve", e)
			}
		}
		m := runJob(b, job{name: fmt.Sprintf("hold-nethttp-%d-%d", n, r), argv: argv,
			stdout: filepath.Join(b.out, "out-hold-nethttp.txt"), timeout: b.jobTimeout})
		if m.Err != "" {
			return fmt.Errorf("net/http floor run: %s", m.Err)
		}
		res.runs = append(res.runs, memRun{label: "go-nethttp (floor)", n: n, argv: shellQuote(argv), m: m})
		floor = append(floor, m)
	}
	rss := median(peak, func(m measure) float64 { return float64(m.MaxRSSKB) * 1024 })
	floorRSS := median(floor, func(m measure) float64 { return float64(m.MaxRSSKB) * 1024 })
	per := rss / float64(n)
	growth := (rss - float64(base.m.MaxRSSKB)*1024) / float64(n-100)
	res.lines = append(res.lines,
		fmt.Sprintf("median peak RSS %.1f MiB for %d in flight: %.1f KB per in-flight request (total ÷ n); %.1f KB above the 100-request baseline",
			rss/(1<<20), n, per/1000, growth/1000),
		check("peak RSS ≤ 20 KB per in-flight request (total ÷ n)", per <= 20_000, fmt.Sprintf("%.1f KB", per/1000)),
		fmt.Sprintf("the floor: a bare net/http loop with the same %d requests in flight peaks at %.1f MiB, %.1f KB per request",
			n, floorRSS/(1<<20), floorRSS/float64(n)/1000))
	b.report.addMemory(res)
	return nil
}

// memHoldRun runs fanout over n URLs that simweb holds for 5 s, with
// concurrency n, and checks from the results that all were in flight at
// once (every request started before the first could finish).
func memHoldRun(b *bench, sw *simwebProc, label string, n, r int) (memRun, error) {
	spec := simweb.WorkloadSpec{Name: "hold", N: n, Hosts: 100, Hold: 5 * time.Second, Ports: sw.ports}
	urls := filepath.Join(b.out, fmt.Sprintf("hold-%d.urls", n))
	f, err := os.Create(urls)
	if err != nil {
		return memRun{}, err
	}
	_, err = simweb.WriteWorkload(f, spec)
	f.Close()
	if err != nil {
		return memRun{}, err
	}
	c := strconv.Itoa(n)
	argv := append([]string{b.fanout, "-q", "-f", "jsonl", "-c", c, "--per-host", c, "--retries", "0",
		"--timeout", "60s"}, sw.resolveArgs()...)
	argv = append(argv, "-i", urls)
	out := filepath.Join(b.out, fmt.Sprintf("out-hold-%d.jsonl", n))
	m := runJob(b, job{name: fmt.Sprintf("hold-%d-%d", n, r), argv: argv, stdout: out, timeout: b.jobTimeout})
	if m.Err != "" {
		return memRun{}, fmt.Errorf("hold run: %s", m.Err)
	}
	spread, errs := startSpread(out)
	b.logf("hold %d run %d: wall %.2fs rss %d KiB lines %d, starts spread over %.2fs, %d errors",
		n, r+1, m.Wall, m.MaxRSSKB, m.Lines, spread.Seconds(), errs)
	return memRun{label: label, n: n, argv: shellQuote(argv), m: m,
		extra: fmt.Sprintf("starts spread over %.2f s (< 5 s hold: all in flight at once), %d errors", spread.Seconds(), errs)}, nil
}

// startSpread returns the time between the first and the last started_at
// in a JSONL result file, and how many results carry an error.
func startSpread(path string) (time.Duration, int) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	var first, last time.Time
	errs := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var r struct {
			StartedAt time.Time       `json:"started_at"`
			Error     json.RawMessage `json:"error"`
		}
		if json.Unmarshal(sc.Bytes(), &r) != nil {
			continue
		}
		if !bytes.Equal(r.Error, []byte("null")) {
			errs++
		}
		if first.IsZero() || r.StartedAt.Before(first) {
			first = r.StartedAt
		}
		if r.StartedAt.After(last) {
			last = r.StartedAt
		}
	}
	return last.Sub(first), errs
}

// runEngine1M runs the __engine subcommand in its own process.
func runEngine1M(b *bench) error {
	n := 1_000_000
	if b.quick {
		n = 200_000
	}
	argv := []string{b.self, "__engine", "-n", strconv.Itoa(n), "-hold", b.engineHold.String()}
	out := filepath.Join(b.out, "engine1m.json")
	m := runJob(b, job{name: "engine1m", argv: argv, stdout: out, timeout: b.jobTimeout})
	if m.Err != "" {
		return fmt.Errorf("engine run: %s", m.Err)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		return err
	}
	var rep engineReport
	if err := json.Unmarshal(data, &rep); err != nil {
		return fmt.Errorf("engine report %q: %w", data, err)
	}
	b.logf("engine: %+v", rep)
	m.Lines = rep.Results // stdout held the JSON report, not results
	per := float64(rep.PeakHeap-rep.BaseHeap) / float64(rep.PeakInFlight)
	perRSS := float64(rep.PeakRSS-rep.BaseRSS) / float64(rep.PeakInFlight)
	res := &memResult{key: "engine1m", title: fmt.Sprintf("memory: %d targets in flight in the engine (in-memory transport)", n)}
	res.runs = append(res.runs, memRun{label: "engine", n: n, argv: "go run ./bench -workloads engine1m  (runs: bench __engine " + strings.Join(argv[2:], " ") + ")", m: m,
		extra: fmt.Sprintf("peak in flight %d of %d, %d results", rep.PeakInFlight, n, rep.Results)})
	res.lines = append(res.lines,
		fmt.Sprintf("at the peak sample: HeapInuse+StackInuse %.1f MiB above the start (%.0f B per in-flight target); VmRSS %.1f MiB above the start (%.0f B each); runtime Sys %.1f MiB; VmHWM %.1f MiB",
			float64(rep.PeakHeap-rep.BaseHeap)/(1<<20), per, float64(rep.PeakRSS-rep.BaseRSS)/(1<<20), perRSS,
			float64(rep.PeakSys)/(1<<20), float64(rep.HWM)/(1<<20)),
		check("all targets in flight at once", rep.PeakInFlight == int64(n), fmt.Sprintf("%d of %d", rep.PeakInFlight, n)),
		check("results == targets", rep.Results == int64(n), fmt.Sprintf("%d", rep.Results)),
		check("≤ 4 KB per in-flight target (heap+stacks)", per <= 4000, fmt.Sprintf("%.0f B", per)),
		check("≤ 4 KB per in-flight target (RSS)", perRSS <= 4000, fmt.Sprintf("%.0f B", perRSS)))
	b.report.addMemory(res)
	return nil
}
