// Command bench compares a distributed run (fanout nats, submit, workers,
// collect, all as processes on this machine) with the plain local run on
// simweb's "ok" workload: CPU per target (all fanout processes, the NATS
// server included) and throughput. It is a thin wrapper of
// internal/distbench, which go run ./bench -workloads dist also uses (with
// medians of several runs and a check).
//
//	go run ./dist/bench -n 20000 -hosts 64 -workers 1,2
//
// With -idle N it measures instead what N idle workers cost the NATS
// server beside a run that keeps two workers busy (6,000 targets of 100 ms
// on two hosts, two partitions): the server's CPU over 10 s, 20 s after
// the workers started, with N idle workers and with none, alternated.
//
//	go run ./dist/bench -idle 20 -rounds 2
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/fanout/fanout/internal/distbench"
	"github.com/fanout/fanout/internal/simweb"
)

func main() {
	n := flag.Int("n", 20000, "targets")
	hosts := flag.Int("hosts", 64, "host names (a partition serves whole hosts, so one host uses one worker)")
	workers := flag.String("workers", "1,2", "worker counts to measure, comma-separated")
	conc := flag.Int("c", 64, "--concurrency of the local run and of each worker")
	partitions := flag.Int("partitions", 0, "submit --partitions (0: submit's default)")
	idle := flag.Int("idle", 0, "measure what this many idle workers cost the NATS server instead")
	rounds := flag.Int("rounds", 2, "with -idle, alternated rounds")
	flag.Parse()
	if *idle > 0 {
		if err := runIdle(*idle, *rounds); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(*n, *hosts, *conc, *partitions, *workers); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func line(m distbench.Measure, n int) string {
	return fmt.Sprintf("wall %6.2fs  %7.0f targets/s  CPU %6.2fs  %6.1f µs/target",
		m.Wall.Seconds(), float64(n)/m.Wall.Seconds(), m.CPU.Seconds(), float64(m.CPU.Microseconds())/float64(n))
}

func run(n, hosts, conc, partitions int, workerList string) error {
	var counts []int
	for _, ws := range strings.Split(workerList, ",") {
		w, err := strconv.Atoi(ws)
		if err != nil || w < 1 {
			return fmt.Errorf("-workers %q: want counts like 1,2", workerList)
		}
		counts = append(counts, w)
	}
	s, done, err := prepare(4, simweb.WorkloadSpec{Name: "ok", N: n, Hosts: hosts}, "-c", strconv.Itoa(conc))
	if err != nil {
		return err
	}
	defer done()
	s.Partitions = partitions
	fmt.Printf("ok workload: %d targets over %d hosts, -c %d, %s\n", n, hosts, conc, time.Now().Format(time.DateTime))

	distbench.Local(s) // warm up the server and the page cache
	lm, err := distbench.Local(s)
	if err != nil {
		return err
	}
	fmt.Printf("local              %s\n", line(lm, n))
	for i, w := range counts {
		m, err := distbench.Dist(s, fmt.Sprint("bench", i), w)
		if err != nil {
			return err
		}
		fmt.Printf("dist, %d worker(s)  %s  (CPU %+.0f%% per target vs local)\n", w, line(m, n),
			100*(float64(m.CPU)/float64(lm.CPU)-1))
		var parts []string
		for _, p := range m.Procs {
			parts = append(parts, fmt.Sprintf("%s %.2fs", p.Name, p.CPU.Seconds()))
		}
		fmt.Fprintf(os.Stderr, "  CPU by process: %s (nats from submit to the end; its start and stop %.2fs more)\n",
			strings.Join(parts, ", "), m.ServerStartStop.Seconds())
	}
	return nil
}

// runIdle prints the NATS server's CPU over 10 s with idle idle workers
// and with none, rounds times alternated (see the package comment).
func runIdle(idle, rounds int) error {
	const warm, window = 20 * time.Second, 10 * time.Second
	s, done, err := prepare(1, simweb.WorkloadSpec{Name: "delay100", N: 6000, Hosts: 2}, "-c", "8", "--per-host", "4")
	if err != nil {
		return err
	}
	defer done()
	fmt.Printf("NATS server CPU over %v, %v after %d+2 or 2 workers started, %s\n", window, warm, idle, time.Now().Format(time.DateTime))
	for r := range rounds {
		for _, n := range []int{idle, 0} {
			cpu, err := distbench.IdleServerCPU(s, fmt.Sprintf("idle%d-%d", r, n), n, warm, window)
			if err != nil {
				return err
			}
			per := ""
			if n > 0 {
				per = fmt.Sprintf(" (%.2f ms a second per idle worker, the run's own share included)", float64(cpu.Microseconds())/1000/window.Seconds()/float64(n))
			}
			fmt.Printf("round %d, %2d idle workers: %4.0f ms%s\n", r+1, n, float64(cpu.Milliseconds()), per)
		}
	}
	return nil
}

// prepare builds fanout into a scratch directory, starts simweb with ports
// plain listeners, writes spec's workload there, and returns the Setup
// with engine flags and simweb's --resolve entries; done stops simweb and
// removes the directory.
func prepare(ports int, spec simweb.WorkloadSpec, engine ...string) (s distbench.Setup, done func(), err error) {
	dir, err := os.MkdirTemp("", "fanout-dist-bench")
	if err != nil {
		return s, nil, err
	}
	fail := func(err error) (distbench.Setup, func(), error) {
		os.RemoveAll(dir)
		return distbench.Setup{}, nil, err
	}
	bin := filepath.Join(dir, "fanout")
	if out, err := exec.Command("go", "build", "-o", bin, "./cmd/fanout").CombinedOutput(); err != nil {
		return fail(fmt.Errorf("build: %v\n%s", err, out))
	}
	sim, err := simweb.Start(simweb.Config{Ports: ports, MaxLifetime: 30 * time.Minute})
	if err != nil {
		return fail(err)
	}
	done = func() { sim.Close(); os.RemoveAll(dir) }
	urls, err := sim.Workload(spec)
	if err != nil {
		done()
		return distbench.Setup{}, nil, err
	}
	var sb strings.Builder
	for u := range urls {
		sb.WriteString(u + "\n")
	}
	s = distbench.Setup{Fanout: bin, Dir: dir, List: filepath.Join(dir, "targets.txt"), Engine: engine}
	if err := os.WriteFile(s.List, []byte(sb.String()), 0o644); err != nil {
		done()
		return distbench.Setup{}, nil, err
	}
	for _, r := range sim.ResolveArgs() {
		s.Engine = append(s.Engine, "--resolve", r)
	}
	return s, done, nil
}
