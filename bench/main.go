//go:build linux

// Command bench measures fanout against the tools a user would otherwise
// pick (curl --parallel and xargs -P curl) on workloads served by simweb,
// measures fanout's memory with many requests in flight and with very long
// lists, and runs the packages' Go micro-benchmarks. Run it from the module
// root:
//
//	go run ./bench                     # everything, full sizes
//	go run ./bench -quick              # smaller sizes, for development
//	go run ./bench -workloads ok,mixed -runs 5
//	go run ./bench -write              # also refresh the figures in BENCHMARKS.md
//
// Every child runs in its own process group and is killed at its deadline;
// simweb runs as its own process with a maximum lifetime. Results go to
// bench/out/results.md (and the raw files beside it).
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// bench is one invocation's settings and state.
type bench struct {
	self, out      string // this binary; bench/out
	fanout, simweb string // binaries under test
	runs           int
	quick          bool
	jobTimeout     time.Duration
	xargsLimit     int // URLs given to xargs-curl per run
	xargsMaxP      int // -P for xargs-curl at most
	listN          int // lines of the long-list run
	distN          int // targets of the dist workload
	listEndpoint   string
	listModes      []bool // dedupe on, off
	engineHold     time.Duration
	started        time.Time
	report         *report
}

func (b *bench) logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "[%6.1fs] %s\n", time.Since(b.started).Seconds(), fmt.Sprintf(format, args...))
}

// allParts are the -workloads names, in the order they run.
var allParts = []string{"micro", "ok", "delay100", "delay100-c5000", "manyhosts", "mixed", "chaos", "mem10k", "engine1m", "list10m", "dist"}

func main() {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "__wrap":
			os.Exit(wrapMain(os.Args[2:]))
		case "__engine":
			os.Exit(engineMain(os.Args[2:]))
		case "__fanout":
			os.Exit(fanoutMain(os.Args[2:]))
		case "__nethttp":
			os.Exit(netHTTPMain(os.Args[2:]))
		}
	}
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	b := &bench{started: time.Now()}
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	parts := fs.String("workloads", strings.Join(allParts, ","), "comma-separated parts to run: "+strings.Join(allParts, ","))
	fs.IntVar(&b.runs, "runs", 3, "runs of each tool per workload (alternated)")
	fs.BoolVar(&b.quick, "quick", false, "smaller sizes for development (the 10M list becomes 1M lines)")
	fs.DurationVar(&b.jobTimeout, "job-timeout", 10*time.Minute, "kill any one measured command after this long")
	fs.IntVar(&b.xargsLimit, "xargs-limit", 2000, "URLs (a prefix of the same list) given to xargs -P curl, which forks one curl per URL; 0 skips it")
	fs.IntVar(&b.xargsMaxP, "xargs-max-p", 500, "-P for xargs at most (one curl process per slot)")
	fs.IntVar(&b.listN, "list-lines", 0, "lines of the long list (0: 10,000,000, or 1,000,000 with -quick)")
	fs.IntVar(&b.distN, "dist-targets", 0, "targets of the dist workload (0: 20,000, or 5,000 with -quick)")
	fs.StringVar(&b.listEndpoint, "list-endpoint", "/status/204", "path every long-list URL asks simweb for")
	fs.DurationVar(&b.engineHold, "engine-hold", 60*time.Second, "how long the in-memory transport holds each engine target (raise it if dispatching them all takes longer)")
	modes := fs.String("list-modes", "dedupe,no-dedupe", "long-list runs to make: dedupe, no-dedupe or both")
	write := fs.Bool("write", false, "also replace the generated section of BENCHMARKS.md")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	want := strings.Split(*parts, ",")
	for _, p := range want {
		if !slices.Contains(allParts, p) {
			fmt.Fprintf(os.Stderr, "bench: unknown part %q in -workloads (want %s)\n", p, strings.Join(allParts, ","))
			return 2
		}
	}
	for _, m := range strings.Split(*modes, ",") {
		switch m {
		case "dedupe":
			b.listModes = append(b.listModes, true)
		case "no-dedupe":
			b.listModes = append(b.listModes, false)
		default:
			fmt.Fprintf(os.Stderr, "bench: -list-modes: unknown mode %q (want dedupe, no-dedupe)\n", m)
			return 2
		}
	}
	if b.listN == 0 {
		b.listN = 10_000_000
		if b.quick {
			b.listN = 1_000_000
		}
	}
	if err := b.setup(); err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		return 1
	}
	b.report = newReport(b, "go run ./bench "+strings.Join(args, " "))
	for _, p := range allParts {
		if slices.Contains(want, p) {
			b.runPart(p)
		}
	}
	return b.finish(*write)
}

// setup checks the working directory, installs curl if missing and builds
// the binaries under test.
func (b *bench) setup() error {
	if _, err := os.Stat("go.mod"); err != nil {
		return errors.New("run from the module root: go run ./bench")
	}
	var err error
	if b.self, err = os.Executable(); err != nil {
		return err
	}
	b.out, _ = filepath.Abs(filepath.Join("bench", "out"))
	if err := os.MkdirAll(b.out, 0o755); err != nil {
		return err
	}
	if err := ensurePeers(b); err != nil {
		return err
	}
	b.fanout = filepath.Join(b.out, "fanout")
	b.simweb = filepath.Join(b.out, "simweb")
	for bin, pkg := range map[string]string{b.fanout: "./cmd/fanout", b.simweb: "./cmd/simweb"} {
		b.logf("go build -o %s %s", bin, pkg)
		cmd := exec.Command("go", "build", "-o", bin, pkg)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("build %s: %w", pkg, err)
		}
	}
	return nil
}

// ensurePeers installs Debian's curl when it is not on PATH (xargs comes
// with findutils).
func ensurePeers(b *bench) error {
	if _, err := exec.LookPath("curl"); err == nil {
		return nil
	}
	b.logf("curl not found: apt-get update && apt-get install -y curl")
	for _, argv := range [][]string{{"apt-get", "update"}, {"apt-get", "install", "-y", "curl"}} {
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("%s: %w", strings.Join(argv, " "), err)
		}
	}
	_, err := exec.LookPath("curl")
	return err
}

// runPart runs one named part and adds its section to the report; a failed
// part is reported and the others still run.
func (b *bench) runPart(p string) {
	b.logf("== %s", p)
	var err error
	switch p {
	case "micro":
		err = runMicro(b)
	case "chaos":
		err = runChaos(b)
	case "mem10k":
		err = runMem10k(b)
	case "engine1m":
		err = runEngine1M(b)
	case "list10m":
		err = runList(b)
	case "dist":
		err = runDist(b)
	default:
		for _, w := range compareWorkloads(b.quick) {
			if w.key == p {
				var res *compareResult
				if res, err = runCompare(b, w); err == nil {
					b.report.addCompare(res)
				}
			}
		}
	}
	if err != nil {
		b.logf("%s failed: %v", p, err)
		b.report.addFailure(p, err)
	}
}

// finish writes bench/out/results.md and, with -write, BENCHMARKS.md.
func (b *bench) finish(write bool) int {
	md := b.report.markdown()
	path := filepath.Join(b.out, "results.md")
	if err := os.WriteFile(path, []byte(md), 0o644); err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		return 1
	}
	fmt.Print(md)
	b.logf("wrote %s", path)
	if write {
		if err := writeBenchmarksMD("BENCHMARKS.md", md); err != nil {
			fmt.Fprintf(os.Stderr, "bench: %v\n", err)
			return 1
		}
		b.logf("updated BENCHMARKS.md")
	}
	if b.report.failed {
		return 1
	}
	return 0
}
