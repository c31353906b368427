//go:build linux

package main

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"time"
)

// report collects the sections of results.md in the order parts ran.
type report struct {
	b        *bench
	command  string
	header   []string
	sections []string
	failed   bool // a part failed to run (not a missed target)
}

func newReport(b *bench, command string) *report {
	r := &report{b: b, command: strings.TrimSpace(command)}
	r.header = machineInfo()
	return r
}

// machineInfo describes the machine, the toolchain and the load.
func machineInfo() []string {
	model, mem := "?", "?"
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.Lines(string(data)) {
			if v, ok := strings.CutPrefix(line, "model name"); ok {
				model = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	if kb := procMeminfo("MemTotal"); kb > 0 {
		mem = fmt.Sprintf("%.1f GiB", float64(kb)/(1<<20))
	}
	return []string{
		fmt.Sprintf("- CPU: %d × %s (`nproc` %s)", runtime.NumCPU(), model, cmdOut("nproc")),
		"- memory: " + mem,
		"- kernel: " + cmdOut("uname", "-sr"),
		"- code: " + codeVersion(),
		"- go: " + cmdOut("go", "version"),
		"- curl: " + firstLine(cmdOut("curl", "--version")),
		"- xargs: " + firstLine(cmdOut("xargs", "--version")),
		"- open files: " + cmdOut("sh", "-c", "echo soft $(ulimit -Sn) hard $(ulimit -Hn)"),
		"- load average at start: " + loadAvg(),
	}
}

// codeVersion names the commit measured and whether the working tree
// (which is what gets built) differs from it outside bench/.
func codeVersion() string {
	rev := cmdOut("git", "rev-parse", "--short", "HEAD")
	dirty := cmdOut("git", "status", "--short", "--untracked-files=no", "--", ".", ":!bench")
	var files []string
	for line := range strings.Lines(dirty) {
		if f := strings.Fields(line); len(f) > 0 && !strings.HasPrefix(dirty, "?") {
			files = append(files, f[len(f)-1])
		}
	}
	if len(files) > 0 {
		return rev + " plus uncommitted changes to " + strings.Join(files, " ")
	}
	return rev
}

func procMeminfo(field string) int64 {
	data, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(data)) {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			var kb int64
			fmt.Sscan(strings.TrimSpace(v), &kb)
			return kb
		}
	}
	return 0
}

func loadAvg() string {
	data, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

func cmdOut(name string, args ...string) string {
	out, err := exec.Command(name, args...).Output()
	if err != nil {
		return "? (" + err.Error() + ")"
	}
	return strings.TrimSpace(string(out))
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// median of f over ms (0 for none).
func median[T any](ms []T, f func(T) float64) float64 {
	if len(ms) == 0 {
		return 0
	}
	v := make([]float64, len(ms))
	for i, m := range ms {
		v[i] = f(m)
	}
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

// check formats one target with its verdict.
func check(what string, ok bool, got string) string {
	verdict := "**PASS**"
	if !ok {
		verdict = "**FAIL**"
	}
	return fmt.Sprintf("%s — %s: %s", verdict, what, got)
}

// stats are a tool's medians on one workload.
type stats struct {
	wall, cpu, rssMiB, lines, minLines float64
	n                                  int
	failed                             int // runs with an error
}

func (s stats) rps() float64   { return float64(s.n) / s.wall }
func (s stats) usPer() float64 { return s.cpu / float64(s.n) * 1e6 }

func statsOf(tr *toolRuns) stats {
	var ok []measure
	s := stats{n: tr.n, minLines: -1}
	for _, m := range tr.runs {
		if m.Err != "" {
			s.failed++
			continue
		}
		ok = append(ok, m)
		if s.minLines < 0 || float64(m.Lines) < s.minLines {
			s.minLines = float64(m.Lines)
		}
	}
	s.wall = median(ok, func(m measure) float64 { return m.Wall })
	s.cpu = median(ok, func(m measure) float64 { return m.CPU() })
	s.rssMiB = median(ok, func(m measure) float64 { return float64(m.MaxRSSKB) / 1024 })
	s.lines = median(ok, func(m measure) float64 { return float64(m.Lines) })
	return s
}

func (r *report) addFailure(part string, err error) {
	r.failed = true
	r.sections = append(r.sections, fmt.Sprintf("### %s\n\n**did not run**: %v\n", part, err))
}

// addCompare renders a head-to-head workload.
func (r *report) addCompare(res *compareResult) {
	w := res.w
	var sb strings.Builder
	fmt.Fprintf(&sb, "### %s: %d URLs, %d host(s), c=%d", w.key, w.spec.N, max(w.spec.Hosts, 1), w.c)
	if w.timeout > 0 {
		fmt.Fprintf(&sb, ", timeout %s", w.timeout)
	}
	fmt.Fprintf(&sb, "\n\nMedians of %d alternated runs per tool.\n\n", r.b.runs)
	sb.WriteString("| tool | URLs | wall s | CPU s (user+sys) | CPU µs/req | peak RSS MiB | result lines (min) | req/s |")
	if w.delay > 0 {
		sb.WriteString(" wall ÷ ideal |")
	}
	sb.WriteString("\n|---|---:|---:|---:|---:|---:|---:|---:|")
	if w.delay > 0 {
		sb.WriteString("---:|")
	}
	sb.WriteString("\n")
	all := map[string]stats{}
	for _, tr := range res.tools {
		s := statsOf(tr)
		all[tr.tool] = s
		fmt.Fprintf(&sb, "| %s | %d | %.2f | %.2f | %.1f | %.1f | %.0f (%.0f) | %.0f |", tr.tool, s.n, s.wall, s.cpu,
			s.usPer(), s.rssMiB, s.lines, s.minLines, s.rps())
		if w.delay > 0 {
			fmt.Fprintf(&sb, " %.3f |", s.wall/idealWall(s.n, w.c, w.delay))
		}
		if s.failed > 0 {
			fmt.Fprintf(&sb, " (%d runs failed)", s.failed)
		}
		sb.WriteString("\n")
	}
	sb.WriteString("\n")
	f := all["fanout"]
	for _, peer := range []string{"curl-parallel", "xargs-curl", "go-nethttp"} {
		p, ok := all[peer]
		if !ok || p.wall == 0 || f.wall == 0 {
			continue
		}
		fmt.Fprintf(&sb, "- fanout vs %s: req/s ×%.2f, CPU per request ×%.2f, peak RSS ×%.2f", peer,
			f.rps()/p.rps(), f.usPer()/p.usPer(), f.rssMiB/p.rssMiB)
		if p.n == f.n {
			fmt.Fprintf(&sb, ", wall ×%.2f", f.wall/p.wall)
		}
		sb.WriteString("\n")
	}
	for _, c := range compareChecks(w, all, pairedRatio(res, "fanout-db", "fanout")) {
		sb.WriteString("- " + c + "\n")
	}
	sb.WriteString("\nCommands (file names under bench/out):\n\n```\n")
	for _, tr := range res.tools {
		sb.WriteString(strings.ReplaceAll(tr.argv, r.b.out+"/", "") + "\n")
	}
	sb.WriteString("```\n")
	r.sections = append(r.sections, sb.String())
}

// pairedRatio is the median over rounds of a's req/s ÷ b's in the same
// round (each round runs every tool once, a and b next to each other):
// drift in the machine's load between rounds cancels out of each ratio.
func pairedRatio(res *compareResult, a, b string) float64 {
	var ta, tb *toolRuns
	for _, tr := range res.tools {
		switch tr.tool {
		case a:
			ta = tr
		case b:
			tb = tr
		}
	}
	if ta == nil || tb == nil {
		return 0
	}
	var ratios []float64
	for i := range min(len(ta.runs), len(tb.runs)) {
		ma, mb := ta.runs[i], tb.runs[i]
		if ma.Err != "" || mb.Err != "" || ma.Wall == 0 {
			continue
		}
		ratios = append(ratios, (float64(ta.n)/ma.Wall)/(float64(tb.n)/mb.Wall))
	}
	return median(ratios, func(r float64) float64 { return r })
}

func idealWall(n, c int, d time.Duration) float64 {
	return float64(n) / float64(c) * d.Seconds()
}

// compareChecks are the targets for a workload.
func compareChecks(w workload, all map[string]stats, dbRatio float64) []string {
	f, curl := all["fanout"], all["curl-parallel"]
	var out []string
	switch w.key {
	case "ok":
		out = append(out,
			check("req/s ≥ 1.5 × curl --parallel's", f.rps() >= 1.5*curl.rps(), fmt.Sprintf("×%.2f", f.rps()/curl.rps())),
			check("client CPU ≤ 45 µs per request", f.usPer() <= 45, fmt.Sprintf("%.1f µs", f.usPer())))
		if g := all["go-nethttp"]; g.n > 0 {
			out = append(out, fmt.Sprintf("the floor: a bare net/http loop (go-nethttp) needs %.1f µs per request and reaches ×%.2f curl's req/s in this run",
				g.usPer(), g.rps()/curl.rps()))
		}
		if d := all["fanout-db"]; d.n > 0 {
			out = append(out, check("with --db, ≥ 90% of fanout's req/s", dbRatio >= 0.9,
				fmt.Sprintf("%.0f%% (median of each round's ratio; %.0f%% of the medians)", 100*dbRatio, 100*d.rps()/f.rps())))
		}
	case "delay100":
		ratio := f.wall / idealWall(f.n, w.c, w.delay)
		out = append(out, check("wall ÷ ideal ≤ 1.08", ratio <= 1.08, fmt.Sprintf("%.3f", ratio)))
	case "delay100-c5000":
		ratio := f.wall / idealWall(f.n, w.c, w.delay)
		out = append(out, check("wall ÷ ideal ≤ 1.15", ratio <= 1.15, fmt.Sprintf("%.3f", ratio)),
			fmt.Sprintf("curl caps --parallel-max at %d, so its ideal is %.2f s, not %.2f s",
				curlParallelMax, idealWall(curl.n, min(w.c, curlParallelMax), w.delay), idealWall(curl.n, w.c, w.delay)))
	case "mixed":
		out = append(out,
			check("result lines == input lines (every run)", f.minLines == float64(f.n), fmt.Sprintf("%.0f of %d", f.minLines, f.n)),
			check("wall ≤ 1.2 × curl --parallel's", f.wall <= 1.2*curl.wall, fmt.Sprintf("×%.2f", f.wall/curl.wall)))
	}
	return out
}

// addMemory renders a memory section.
func (r *report) addMemory(res *memResult) {
	var sb strings.Builder
	fmt.Fprintf(&sb, "### %s\n\n", res.title)
	sb.WriteString("| run | targets | wall s | CPU s | peak RSS MiB | result lines | notes |\n|---|---:|---:|---:|---:|---:|---|\n")
	for _, mr := range res.runs {
		fmt.Fprintf(&sb, "| %s | %d | %.2f | %.2f | %.1f | %d | %s |\n", mr.label, mr.n, mr.m.Wall, mr.m.CPU(),
			float64(mr.m.MaxRSSKB)/1024, mr.m.Lines, mr.extra)
	}
	sb.WriteString("\n")
	for _, l := range res.lines {
		sb.WriteString("- " + l + "\n")
	}
	sb.WriteString("\nCommands:\n\n```\n")
	seen := map[string]bool{}
	for _, mr := range res.runs {
		if a := strings.ReplaceAll(mr.argv, r.b.out+"/", ""); !seen[a] {
			seen[a] = true
			sb.WriteString(a + "\n")
		}
	}
	sb.WriteString("```\n")
	r.sections = append(r.sections, sb.String())
}

// addMicro renders the Go benchmarks.
func (r *report) addMicro(command string, lines []string) {
	r.sections = append(r.sections, fmt.Sprintf("### Go micro-benchmarks\n\n`%s`\n\n```\n%s\n```\n",
		command, strings.Join(lines, "\n")))
}

// markdown is the generated part of BENCHMARKS.md.
func (r *report) markdown() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "## Latest figures (%s)\n\n", time.Now().UTC().Format("2006-01-02 15:04 UTC"))
	fmt.Fprintf(&sb, "Command: `%s` (took %s)\n\n", r.command, time.Since(r.b.started).Round(time.Second))
	sb.WriteString(strings.Join(r.header, "\n"))
	fmt.Fprintf(&sb, "\n- load average at end: %s\n\n", loadAvg())
	sb.WriteString(strings.Join(r.sections, "\n"))
	return sb.String()
}

// Markers delimit the generated part of BENCHMARKS.md; text outside them is
// kept.
const (
	beginMarker = "<!-- bench:begin (generated by go run ./bench -write; edits inside are lost) -->"
	endMarker   = "<!-- bench:end -->"
)

// writeBenchmarksMD replaces the generated part of path, creating the file
// if needed.
func writeBenchmarksMD(path, md string) error {
	old, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	s := string(old)
	i, j := strings.Index(s, beginMarker), strings.Index(s, endMarker)
	gen := beginMarker + "\n" + md + "\n" + endMarker
	if i < 0 || j < i {
		s = "# Benchmarks\n\n" + gen + "\n"
	} else {
		s = s[:i] + gen + s[j+len(endMarker):]
	}
	return os.WriteFile(path, []byte(s), 0o644)
}
