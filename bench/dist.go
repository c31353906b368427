//go:build linux

package main

import (
	"bufio"
	"fmt"
	"iter"
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
	// small is the same kind of run on the list's first distSmall lines
	// (every host), in the same rounds. A distributed run pays a fixed
	// cost per run (four or five processes started, streams, consumers,
	// leases, each process's first touch of its memory); the small runs
	// measure it apart from the cost per target.
	small := s
	small.List = filepath.Join(b.out, "dist-small.urls")
	if err := writeDistLists(s.List, small.List, seq); err != nil {
		return err
	}

	names := []string{"local"}
	for _, k := range distWorkers {
		names = append(names, fmt.Sprintf("dist, %d worker(s)", k))
	}
	runs := make([][]distbench.Measure, len(names))
	smallRuns := make([][]distbench.Measure, len(names))
	distbench.Local(s) // warm simweb and the page cache
	for r := range b.runs {
		// Each round starts with a different one of the runs, so that no
		// kind always runs first (after the previous round's last) or last.
		for k := range names {
			i := (k + r) % len(names)
			for _, sz := range []struct {
				s    distbench.Setup
				runs [][]distbench.Measure
				tag  string
			}{{s, runs, ""}, {small, smallRuns, "s"}} {
				name := names[i]
				var m distbench.Measure
				if i == 0 {
					m, err = distbench.Local(sz.s)
				} else {
					m, err = distbench.Dist(sz.s, fmt.Sprintf("bench%d-%d%s", r, i, sz.tag), distWorkers[i-1])
				}
				if sz.tag != "" {
					name += fmt.Sprintf(", %d targets", distSmall)
				}
				if err != nil {
					return fmt.Errorf("%s, run %d: %w", name, r+1, err)
				}
				b.logf("dist %-18s run %d: wall %.2fs cpu %.2fs %s", name, r+1, m.Wall.Seconds(), m.CPU.Seconds(), procList(m))
				sz.runs[i] = append(sz.runs[i], m)
			}
		}
	}
	b.report.sections = append(b.report.sections, distSection(b, n, hosts, c, names, runs, smallRuns))
	return nil
}

// distSmall is the size of the small run that measures a run's fixed cost.
const distSmall = 200

// writeDistLists writes seq to list, and its first distSmall lines to small.
func writeDistLists(list, small string, seq iter.Seq[string]) error {
	f, err := os.Create(list)
	if err != nil {
		return err
	}
	defer f.Close()
	g, err := os.Create(small)
	if err != nil {
		return err
	}
	defer g.Close()
	w, ws := bufio.NewWriter(f), bufio.NewWriter(g)
	i := 0
	for u := range seq {
		fmt.Fprintln(w, u)
		if i < distSmall {
			fmt.Fprintln(ws, u)
		}
		i++
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if err := ws.Flush(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return g.Close()
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

func distSection(b *bench, n, hosts, c int, names []string, runs, smallRuns [][]distbench.Measure) string {
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
	// The fixed cost per run, and the cost per target beyond it: each
	// round's CPU less that of the same kind of run on distSmall targets.
	cpu := func(m distbench.Measure) time.Duration { return m.CPU }
	local0 := medianOf(smallRuns[0], cpu)
	for i := 1; i < len(names); i++ {
		fixed := medianOf(smallRuns[i], cpu)
		sb.WriteString(fmt.Sprintf("- %s: a run of the list's first %d targets costs %.2f s of CPU against the local run's %.2f s (+%.2f s a run); "+
			"beyond that, per target, ×%.2f the local run (the median of the rounds' (CPU − CPU of the small run) ÷ the local run's same difference)\n",
			names[i], distSmall, fixed, local0, fixed-local0, pairedMarginalRatio(runs[i], smallRuns[i], runs[0], smallRuns[0])))
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

// pairedMarginalRatio is the median over rounds of (a − a0) ÷ (b − b0),
// each the CPU of that round's run: the cost per target of a beyond its
// fixed cost, against b's, when a0 and b0 are small runs of the same
// kinds.
func pairedMarginalRatio(a, a0, b, b0 []distbench.Measure) float64 {
	var ratios []float64
	for r := range min(len(a), len(a0), len(b), len(b0)) {
		if d := b[r].CPU - b0[r].CPU; d > 0 {
			ratios = append(ratios, (a[r].CPU-a0[r].CPU).Seconds()/d.Seconds())
		}
	}
	return median(ratios, func(r float64) float64 { return r })
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
