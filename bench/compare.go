//go:build linux

package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/fanout/fanout/internal/simweb"
)

// curlParallelMax is the largest --parallel-max curl accepts; it silently
// uses 300 for anything larger.
const curlParallelMax = 300

// curlWrite makes curl print one line per URL, like a result line.
const curlWrite = `%{http_code} %{time_total}\n`

// workload is one head-to-head comparison of fanout with its peers.
type workload struct {
	key     string // name in -workloads and file names
	spec    simweb.WorkloadSpec
	c       int           // concurrency for every tool
	timeout time.Duration // per-request timeout for every tool; 0: tool default
	delay   time.Duration // per-request server delay, for wall ÷ ideal
	ports   int           // simweb listeners
}

// compareWorkloads returns the comparison workloads, sized for quick or
// full runs.
func compareWorkloads(quick bool) []workload {
	size := func(full, q int) int {
		if quick {
			return q
		}
		return full
	}
	return []workload{
		{key: "ok", spec: simweb.WorkloadSpec{Name: "ok", N: size(20000, 5000), Hosts: 1}, c: 100, ports: 1},
		{key: "delay100", spec: simweb.WorkloadSpec{Name: "delay100", N: size(5000, 2000), Hosts: 1},
			c: 500, delay: 100 * time.Millisecond, ports: 1},
		{key: "delay100-c5000", spec: simweb.WorkloadSpec{Name: "delay100", N: size(50000, 10000), Hosts: 1},
			c: 5000, delay: 100 * time.Millisecond, ports: 1},
		{key: "manyhosts", spec: simweb.WorkloadSpec{Name: "manyhosts", N: size(20000, 5000), Hosts: size(2000, 500)},
			c: 100, ports: 8},
		{key: "mixed", spec: simweb.WorkloadSpec{Name: "mixed", N: size(5000, 1000), Hosts: 50},
			c: 100, timeout: 3 * time.Second, ports: 8},
	}
}

// toolRuns is every run of one tool on one workload.
type toolRuns struct {
	tool  string
	n     int      // URLs given to the tool
	argv  string   // the command, for the report
	argvs []string // the command to run
	prep  func()   // run before each run of the command, unmeasured; may be nil
	runs  []measure
}

// compareResult is a workload's outcome.
type compareResult struct {
	w     workload
	tools []*toolRuns
}

// tool builds one peer's command for a workload.
type tool struct {
	name  string
	build func(b *bench, w workload, f files, sw *simwebProc) (argv []string, n int)
	only  string // run on this workload only ("" for all)
	// prep, if set, returns what to do before each run, outside the
	// measurement.
	prep func(b *bench, w workload) func()
}

// files are a workload's inputs in each tool's format.
type files struct {
	urls      string // one URL a line
	curlCfg   string // url = / output = pairs for curl -K
	xargsURLs string // the first xargs-limit URLs
	n, xargsN int
}

// tools run in this order in each round (fanout and fanout-db swapped in
// every other round, see roundOrder); fanout-db next to fanout, so
// the pair the --db check compares ran under the same conditions.
var tools = []tool{
	{name: "fanout", build: fanoutCmd},
	{name: "fanout-db", build: fanoutDBCmd, only: "ok", prep: freshDB},
	{name: "curl-parallel", build: curlParallelCmd},
	{name: "xargs-curl", build: xargsCurlCmd},
	{name: "go-nethttp", build: netHTTPCmd},
}

// fanoutDBCmd is fanout recording the run with --db, in a fresh database
// for each run (freshDB): the store must keep >= 90% of fanout's
// throughput.
func fanoutDBCmd(b *bench, w workload, f files, sw *simwebProc) ([]string, int) {
	argv, n := fanoutCmd(b, w, f, sw)
	return append(argv, "--db", benchDB(b, w)), n
}

func benchDB(b *bench, w workload) string { return filepath.Join(b.out, w.key+".db") }

// freshDB removes the database of the last run, so that every run of
// fanout-db creates its own, as a first run does. (It used to be a shell
// around the command, whose start counted against fanout.)
func freshDB(b *bench, w workload) func() {
	db := benchDB(b, w)
	return func() {
		for _, suffix := range []string{"", "-wal", "-shm"} {
			os.Remove(db + suffix)
		}
	}
}

// netHTTPCmd runs the bare net/http loop (bench __nethttp): the floor under
// fanout's CPU per request, measured in the same run.
func netHTTPCmd(b *bench, w workload, f files, sw *simwebProc) ([]string, int) {
	argv := []string{b.self, "__nethttp", "-c", strconv.Itoa(w.c), "-i", f.urls}
	if w.timeout > 0 {
		argv = append(argv, "-timeout", w.timeout.String())
	}
	for _, r := range sw.resolveArgs() {
		if r != "--resolve" {
			argv = append(argv, "-resolve", r)
		}
	}
	return argv, f.n
}

func fanoutCmd(b *bench, w workload, f files, sw *simwebProc) ([]string, int) {
	c := strconv.Itoa(w.c)
	// curl fetches every URL: no --max-host-errors skips (none happen on
	// these workloads, whose faults are spread over their hosts, but the
	// settings are the same by construction, not by luck).
	argv := []string{b.fanout, "-q", "-f", "jsonl", "-c", c, "--per-host", c, "--retries", "0", "--max-host-errors", "0"}
	if w.timeout > 0 {
		argv = append(argv, "--timeout", w.timeout.String())
	}
	argv = append(argv, sw.resolveArgs()...)
	return append(argv, "-i", f.urls), f.n
}

// curlCommon are the options every curl gets: quiet, follow redirects as
// fanout does (at most 10), one line per URL.
func curlCommon(w workload, sw *simwebProc) []string {
	argv := []string{"-s", "-L", "--max-redirs", "10", "-w", curlWrite}
	if w.timeout > 0 {
		argv = append(argv, "--max-time", strconv.FormatFloat(w.timeout.Seconds(), 'f', -1, 64))
	}
	return append(argv, sw.resolveArgs()...)
}

func curlParallelCmd(b *bench, w workload, f files, sw *simwebProc) ([]string, int) {
	argv := []string{"curl", "--parallel", "--parallel-max", strconv.Itoa(min(w.c, curlParallelMax))}
	argv = append(argv, curlCommon(w, sw)...)
	return append(argv, "-K", f.curlCfg), f.n
}

func xargsCurlCmd(b *bench, w workload, f files, sw *simwebProc) ([]string, int) {
	argv := []string{"xargs", "-P", strconv.Itoa(min(w.c, b.xargsMaxP)), "-n", "1", "-a", f.xargsURLs,
		"curl", "-o", "/dev/null"}
	return append(argv, curlCommon(w, sw)...), f.xargsN
}

// writeInputs writes the workload's URL list in each tool's format.
func writeInputs(b *bench, w workload, sw *simwebProc) (files, error) {
	spec := w.spec
	spec.Ports = sw.ports
	seq, err := simweb.Workload(spec)
	if err != nil {
		return files{}, err
	}
	f := files{
		urls:      filepath.Join(b.out, w.key+".urls"),
		curlCfg:   filepath.Join(b.out, w.key+".curl"),
		xargsURLs: filepath.Join(b.out, w.key+".xargs.urls"),
	}
	var ws [3]*bufio.Writer
	for i, p := range []string{f.urls, f.curlCfg, f.xargsURLs} {
		fh, err := os.Create(p)
		if err != nil {
			return f, err
		}
		defer fh.Close()
		ws[i] = bufio.NewWriter(fh)
	}
	for u := range seq {
		fmt.Fprintf(ws[0], "%s\n", u)
		fmt.Fprintf(ws[1], "url = %q\noutput = \"/dev/null\"\n", u)
		if f.xargsN < b.xargsLimit {
			fmt.Fprintf(ws[2], "%s\n", u)
			f.xargsN++
		}
		f.n++
	}
	for _, bw := range ws {
		if err := bw.Flush(); err != nil {
			return f, err
		}
	}
	return f, nil
}

// roundOrder is the order in which round r runs tools: as listed, but
// with fanout and fanout-db swapped in every other round, so that neither
// of the pair the --db check compares always runs second (after the other
// has left its connections and the server's garbage behind it).
func roundOrder(tools []*toolRuns, r int) []int {
	order := make([]int, len(tools))
	for i := range order {
		order[i] = i
	}
	if r%2 == 1 {
		a := slices.IndexFunc(tools, func(t *toolRuns) bool { return t.tool == "fanout" })
		d := slices.IndexFunc(tools, func(t *toolRuns) bool { return t.tool == "fanout-db" })
		if a >= 0 && d >= 0 {
			order[a], order[d] = order[d], order[a]
		}
	}
	return order
}

// runCompare runs every tool on w, alternating them, b.runs times each.
func runCompare(b *bench, w workload) (*compareResult, error) {
	lifetime := time.Duration(b.runs*len(tools))*b.jobTimeout + time.Minute
	sw, err := startSimweb(b, w.ports, lifetime)
	if err != nil {
		return nil, err
	}
	defer sw.stop()
	f, err := writeInputs(b, w, sw)
	if err != nil {
		return nil, fmt.Errorf("workload %s: %w", w.key, err)
	}
	res := &compareResult{w: w}
	for _, t := range tools {
		if t.name == "xargs-curl" && b.xargsLimit == 0 || t.only != "" && t.only != w.key {
			continue
		}
		argv, n := t.build(b, w, f, sw)
		tr := &toolRuns{tool: t.name, n: n, argv: shellQuote(argv), argvs: argv}
		if t.prep != nil {
			tr.prep = t.prep(b, w)
		}
		res.tools = append(res.tools, tr)
	}
	for r := range b.runs {
		for _, i := range roundOrder(res.tools, r) {
			tr := res.tools[i]
			name := fmt.Sprintf("%s-%s-%d", w.key, tr.tool, r)
			if tr.prep != nil {
				tr.prep()
			}
			m := runJob(b, job{name: name, argv: tr.argvs, stdout: filepath.Join(b.out, "out-"+w.key+"-"+tr.tool+".txt"),
				timeout: b.jobTimeout})
			b.logf("%-15s %-14s run %d: wall %.2fs cpu %.2fs rss %d KiB lines %d/%d %s",
				w.key, tr.tool, r+1, m.Wall, m.CPU(), m.MaxRSSKB, m.Lines, tr.n, m.Err)
			res.tools[i].runs = append(res.tools[i].runs, m)
		}
	}
	return res, nil
}
