// Command bench compares a distributed run (fanout nats, submit, workers,
// collect, all as processes on this machine) with the plain local run on
// simweb's "ok" workload: CPU per target (all fanout processes, the NATS
// server included) and throughput.
//
//	go run ./dist/bench -n 20000 -hosts 64 -workers 1,2
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/fanout/fanout/internal/simweb"
)

func main() {
	n := flag.Int("n", 20000, "targets")
	hosts := flag.Int("hosts", 64, "host names (a partition serves whole hosts, so one host uses one worker)")
	workers := flag.String("workers", "1,2", "worker counts to measure, comma-separated")
	conc := flag.Int("c", 64, "--concurrency of the local run and of each worker")
	flag.IntVar(&partitions, "partitions", 64, "submit --partitions")
	flag.Parse()
	if err := run(*n, *hosts, *conc, *workers); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

var partitions int

type measure struct {
	wall time.Duration
	cpu  time.Duration
}

func (m measure) String(n int) string {
	return fmt.Sprintf("wall %6.2fs  %7.0f targets/s  CPU %6.2fs  %6.1f µs/target",
		m.wall.Seconds(), float64(n)/m.wall.Seconds(), m.cpu.Seconds(), float64(m.cpu.Microseconds())/float64(n))
}

func cpuOf(p *os.ProcessState) time.Duration { return p.UserTime() + p.SystemTime() }

func run(n, hosts, conc int, workerList string) error {
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
	list := filepath.Join(dir, "targets.txt")
	if err := os.WriteFile(list, []byte(sb.String()), 0o644); err != nil {
		return err
	}
	engine := []string{"-c", strconv.Itoa(conc), "-q"}
	for _, r := range sim.ResolveArgs() {
		engine = append(engine, "--resolve", r)
	}
	fmt.Printf("ok workload: %d targets over %d hosts, -c %d, %s\n", n, hosts, conc, time.Now().Format(time.DateTime))

	// Warm up the server and the page cache, then the local run.
	exec.Command(bin, append([]string{"-i", list, "-o", os.DevNull}, engine...)...).Run()
	local := exec.Command(bin, append([]string{"-i", list, "-f", "jsonl", "-o", os.DevNull}, engine...)...)
	t0 := time.Now()
	if out, err := local.CombinedOutput(); err != nil && local.ProcessState.ExitCode() != 1 {
		return fmt.Errorf("local run: %v\n%s", err, out)
	}
	lm := measure{time.Since(t0), cpuOf(local.ProcessState)}
	fmt.Printf("local              %s\n", lm.String(n))

	for i, ws := range strings.Split(workerList, ",") {
		w, err := strconv.Atoi(ws)
		if err != nil || w < 1 {
			return fmt.Errorf("-workers %q: want counts like 1,2", workerList)
		}
		m, err := distRun(bin, filepath.Join(dir, fmt.Sprint("js", i)), list, fmt.Sprint("bench", i), w, engine)
		if err != nil {
			return err
		}
		fmt.Printf("dist, %d worker(s)  %s  (CPU %+.0f%% per target vs local)\n", w, m.String(n),
			100*(float64(m.cpu)/float64(lm.cpu)-1))
	}
	return nil
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// distRun times submit → workers → collect --follow and sums the CPU of
// every process, the NATS server's included.
func distRun(bin, store, list, name string, workers int, engine []string) (measure, error) {
	var m measure
	addr, err := freeAddr()
	if err != nil {
		return m, err
	}
	srv := exec.Command(bin, "nats", "--listen", addr, "--store", store)
	if err := srv.Start(); err != nil {
		return m, err
	}
	for i := 0; ; i++ {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			break
		}
		if i == 400 {
			srv.Process.Kill()
			return m, fmt.Errorf("nats server did not start")
		}
		time.Sleep(10 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	nats := []string{"--nats", "nats://" + addr}
	t0 := time.Now()
	procs := []*exec.Cmd{}
	start := func(args ...string) error {
		c := exec.CommandContext(ctx, bin, append(args, nats...)...)
		c.Stderr = os.Stderr
		procs = append(procs, c)
		return c.Start()
	}
	if err := start("submit", "--run", name, "-i", list, "-q", "--partitions", strconv.Itoa(partitions)); err != nil {
		return m, err
	}
	for range workers {
		if err := start(append([]string{"worker", "--run", name, "--exit-when-done"}, engine...)...); err != nil {
			return m, err
		}
	}
	if err := start("collect", "--run", name, "--follow", "-q", "-f", "jsonl", "-o", os.DevNull); err != nil {
		return m, err
	}
	var collectAt time.Duration
	for i := len(procs) - 1; i >= 0; i-- {
		p := procs[i]
		err := p.Wait()
		if i == len(procs)-1 {
			collectAt = time.Since(t0)
		}
		if err != nil && p.ProcessState.ExitCode() != 1 {
			return m, fmt.Errorf("%v: %v", p.Args[1], err)
		}
	}
	// The run is done when collect has every result; workers notice the
	// end on their next lease tick, which costs them no CPU meanwhile.
	m.wall = collectAt
	srv.Process.Signal(syscall.SIGTERM)
	srv.Wait()
	var parts []string
	for _, p := range append(procs, srv) {
		m.cpu += cpuOf(p.ProcessState)
		parts = append(parts, fmt.Sprintf("%s %.2fs", p.Args[1], cpuOf(p.ProcessState).Seconds()))
	}
	fmt.Fprintf(os.Stderr, "  CPU by process: %s; collect done at %.2fs\n", strings.Join(parts, ", "), collectAt.Seconds())
	return m, nil
}
