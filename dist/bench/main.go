// Command bench compares a distributed run (fanout nats, submit, workers,
// collect, all as processes on this machine) with the plain local run on
// simweb's "ok" workload: CPU per target (all fanout processes, the NATS
// server included) and throughput. It is a thin wrapper of
// internal/distbench, which go run ./bench -workloads dist also uses (with
// medians of several runs and a check).
//
//	go run ./dist/bench -n 20000 -hosts 64 -workers 1,2
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
	flag.Parse()
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
	dir, err := os.MkdirTemp("", "fanout-dist-bench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "fanout")
	if out, err := exec.Command("go", "build", "-o", bin, "./cmd/fanout").CombinedOutput(); err != nil {
		return fmt.Errorf("build: %v\n%s", err, out)
	}
	sim, err := simweb.Start(simweb.Config{Ports: 4, MaxLifetime: 30 * time.Minute})
	if err != nil {
		return err
	}
	defer sim.Close()
	urls, err := sim.Workload(simweb.WorkloadSpec{Name: "ok", N: n, Hosts: hosts})
	if err != nil {
		return err
	}
	var sb strings.Builder
	for u := range urls {
		sb.WriteString(u + "\n")
	}
	s := distbench.Setup{Fanout: bin, Dir: dir, List: filepath.Join(dir, "targets.txt"),
		Engine: []string{"-c", strconv.Itoa(conc)}, Partitions: partitions}
	if err := os.WriteFile(s.List, []byte(sb.String()), 0o644); err != nil {
		return err
	}
	for _, r := range sim.ResolveArgs() {
		s.Engine = append(s.Engine, "--resolve", r)
	}
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
