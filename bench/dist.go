//go:build linux

package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/fanout/fanout/internal/distbench"
	"github.com/fanout/fanout/internal/simweb"
)

// distLimit is the target: a distributed run (NATS server,
// submit, workers, collect) costs at most this much CPU per target more
// than the local run of the same list.
const distLimit = 1.15

// distWorkers are the worker counts measured beside the local run.
var distWorkers = []int{1, 2}

// runDist measures the local run and the distributed run with 1 and 2
// workers on simweb's ok workload over 64 hosts, alternated, b.runs times.
func runDist(b *bench) error {
	n, hosts, c := 20000, 64, 64
	if b.quick {
		n = 5000
	}
	if b.distN > 0 {
		// A distributed run pays a fixed cost per run, ~0.3-0.5 s of CPU
		// for one worker and ~0.5-0.7 s for two on the bench's machine
		// (four or five processes started, streams, consumers, leases,
		// each process's first touch of its memory): a third of a
		// 20,000-target local run, under a hundredth of a
		// 1,000,000-target one. Larger runs show the cost per target.
		n = b.distN
	}
	sw, err := startSimweb(b, 4, time.Duration(b.runs*3)*b.jobTimeout+time.Minute)
	if err != nil {
		return err
	}
	defer sw.stop()
	seq, err := simweb.Workload(simweb.WorkloadSpec{Name: "ok", N: n, Hosts: hosts, Ports: sw.ports})
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp(b.out, "dist-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	s := distbench.Setup{Fanout: b.fanout, Dir: dir, List: filepath.Join(b.out, "dist.urls"),
		Engine: append([]string{"-c", strconv.Itoa(c)}, sw.resolveArgs()...), Timeout: b.jobTimeout}
	f, err := os.Create(s.List)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	for u := range seq {
		fmt.Fprintln(w, u)
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	f.Close()

	names := []string{"local"}
	for _, k := range distWorkers {
		names = append(names, fmt.Sprintf("dist, %d worker(s)", k))
	}
	runs := make([][]distbench.Measure, len(names))
	distbench.Local(s) // warm simweb and the page cache
	for r := range b.runs {
		// Each round starts with a different one of the runs, so that no
		// kind always runs first (after the previous round's last) or last.
		for k := range names {
			i := (k + r) % len(names)
			name := names[i]
			var m distbench.Measure
			if i == 0 {
				m, err = distbench.Local(s)
			} else {
				m, err = distbench.Dist(s, fmt.Sprintf("bench%d-%d", r, i), distWorkers[i-1])
			}
			if err != nil {
				return fmt.Errorf("%s, run %d: %w", name, r+1, err)
			}
			b.logf("dist %-18s run %d: wall %.2fs cpu %.2fs %s", name, r+1, m.Wall.Seconds(), m.CPU.Seconds(), procList(m))
			runs[i] = append(runs[i], m)
		}
	}
	b.report.sections = append(b.report.sections, distSection(b, n, hosts, c, names, runs))
	return nil
}

func procList(m distbench.Measure) string {
	var parts []string
	for _, p := range m.Procs {
		parts = append(parts, fmt.Sprintf("%s %.2fs", p.Name, p.CPU.Seconds()))
	}
	return strings.Join(parts, ", ")
}

// medianOf is the median of f over ms, in seconds.
func medianOf(ms []distbench.Measure, f func(distbench.Measure) time.Duration) float64 {
	return median(ms, func(m distbench.Measure) float64 { return f(m).Seconds() })
}

func distSection(b *bench, n, hosts, c int, names []string, runs [][]distbench.Measure) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "### dist: %d URLs (ok), %d hosts, c=%d per process\n\n", n, hosts, c)
	fmt.Fprintf(&sb, "Medians of %d alternated rounds (each starting with a different kind of run): the local run, and `fanout nats` + `submit` + workers + "+
		"`collect --follow` started together (wall until collect has every result; CPU of every process, "+
		"the NATS server's included from the submit's start to the last process's exit; the server's own "+
		"start and stop, which a long-lived NATS service does not pay per run, are in the last column "+
		"and out of the CPU total).\n\n", b.runs)
	sb.WriteString("| run | wall s | targets/s | CPU s | CPU µs/target | CPU by process, s | NATS start+stop s |\n|---|---:|---:|---:|---:|---|---:|\n")
	perTarget, withServer := make([]float64, len(names)), make([]float64, len(names))
	for i, name := range names {
		ms := runs[i]
		wall := medianOf(ms, func(m distbench.Measure) time.Duration { return m.Wall })
		cpu := medianOf(ms, func(m distbench.Measure) time.Duration { return m.CPU })
		perTarget[i] = cpu / float64(n) * 1e6
		var procs []string
		for _, p := range []string{"fanout", "nats", "submit", "worker", "collect"} {
			if v := medianOf(ms, func(m distbench.Measure) time.Duration { return m.ByName(p) }); v > 0 {
				procs = append(procs, fmt.Sprintf("%s %.2f", p, v))
			}
		}
		startStop := medianOf(ms, func(m distbench.Measure) time.Duration { return m.ServerStartStop })
		withServer[i] = (cpu + startStop) / float64(n) * 1e6
		fmt.Fprintf(&sb, "| %s | %.2f | %.0f | %.2f | %.1f | %s | %.2f |\n", name, wall, float64(n)/wall, cpu, perTarget[i],
			strings.Join(procs, ", "), startStop)
	}
	sb.WriteString("\n")
	for i := 1; i < len(names); i++ {
		// The fanout processes alone (submit, workers, collect), for the
		// reading of the target that leaves the NATS service out.
		own := medianOf(runs[i], func(m distbench.Measure) time.Duration { return m.CPU - m.ByName("nats") })
		sb.WriteString(fmt.Sprintf("- %s: fanout's own processes (submit + workers + collect, the NATS server apart) %.1f µs per target, ×%.2f local\n",
			names[i], own/float64(n)*1e6, own/float64(n)*1e6/perTarget[0]))
	}
	for i := 1; i < len(names); i++ {
		ratio := pairedCPURatio(runs[i], runs[0])
		sb.WriteString("- " + check(fmt.Sprintf("dist CPU per target ≤ %.2f × local (%s)", distLimit, names[i]),
			ratio <= distLimit, fmt.Sprintf("×%.2f, the median of the %d rounds' ratios to the local run of the same round; "+
				"the medians above give %.1f µs vs %.1f µs, ×%.2f, and ×%.2f counting the NATS server's start and stop too",
				ratio, len(runs[i]), perTarget[i], perTarget[0], perTarget[i]/perTarget[0], withServer[i]/perTarget[0])) + "\n")
	}
	return sb.String()
}

// pairedCPURatio is the median over rounds of a's CPU ÷ b's in the same
// round (each round runs b first): the machine's drift between rounds, which
// moves the local run's CPU per target by ±15% here, cancels out of each
// ratio, as in the --db check.
func pairedCPURatio(a, b []distbench.Measure) float64 {
	var ratios []float64
	for r := range min(len(a), len(b)) {
		if b[r].CPU > 0 {
			ratios = append(ratios, a[r].CPU.Seconds()/b[r].CPU.Seconds())
		}
	}
	return median(ratios, func(r float64) float64 { return r })
}
