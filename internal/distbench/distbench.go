// Package distbench measures a distributed fanout run (fanout nats,
// submit, workers and collect --follow, each a process on this machine)
// against the plain local run of the same list: wall time, and the CPU of
// every process, the NATS server's included (from submit to the end; its
// start and stop are reported apart). go run ./bench -workloads
// dist and go run ./dist/bench both use it.
package distbench

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Setup is what both kinds of run share.
type Setup struct {
	Fanout     string   // the fanout binary
	Dir        string   // scratch directory for the NATS stores
	List       string   // the targets, one per line
	Engine     []string // flags of the local run and of each worker (-c, --resolve...)
	Partitions int      // submit --partitions; 0: submit's default
	Timeout    time.Duration
}

// Proc is one process's CPU time (user + system).
type Proc struct {
	Name string
	CPU  time.Duration
}

// Measure is one run: wall time until the last result was written, and
// the CPU of each process and in total. For the NATS server, a long-lived
// service in any real deployment, CPU counts only what it spent from the
// submit's start to the last process's exit; what it spent starting and
// stopping (JetStream's store, its own runtime) is ServerStartStop, kept
// out of CPU and reported beside it.
type Measure struct {
	Wall, CPU       time.Duration
	Procs           []Proc
	ServerStartStop time.Duration
}

// ByName sums the CPU of the processes named name (the workers).
func (m Measure) ByName(name string) time.Duration {
	var d time.Duration
	for _, p := range m.Procs {
		if p.Name == name {
			d += p.CPU
		}
	}
	return d
}

func cpuOf(p *os.ProcessState) time.Duration { return p.UserTime() + p.SystemTime() }

// okExit accepts exit 1: some target failed, which is data, not a failed run.
func okExit(err error, p *os.ProcessState) bool { return err == nil || p != nil && p.ExitCode() == 1 }

// Local runs fanout on the list with jsonl output to /dev/null.
func Local(s Setup) (Measure, error) {
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout())
	defer cancel()
	cmd := exec.CommandContext(ctx, s.Fanout, append([]string{"-i", s.List, "-f", "jsonl", "-o", os.DevNull, "-q"}, s.Engine...)...)
	t0 := time.Now()
	out, err := cmd.CombinedOutput()
	if !okExit(err, cmd.ProcessState) {
		return Measure{}, fmt.Errorf("local run: %v\n%s", err, out)
	}
	cpu := cpuOf(cmd.ProcessState)
	return Measure{Wall: time.Since(t0), CPU: cpu, Procs: []Proc{{"fanout", cpu}}}, nil
}

func (s Setup) timeout() time.Duration {
	if s.Timeout > 0 {
		return s.Timeout
	}
	return 20 * time.Minute
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// Dist starts fanout nats with a fresh store, then submit, workers and
// collect --follow at once, and times them until collect has every
// result. Workers notice the end on their next lease tick, which costs
// them no CPU meanwhile, so the wall time ends with collect.
func Dist(s Setup, name string, workers int) (Measure, error) {
	var m Measure
	srv, addr, stopServer, err := startServer(s, name)
	if err != nil {
		return m, err
	}
	defer stopServer()
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout())
	defer cancel()
	srvBefore, errBefore := procCPU(srv.Process.Pid)
	nats := []string{"--nats", "nats://" + addr}
	var procs []*exec.Cmd
	var logs []string // each process's stderr, in s.Dir
	start := func(args ...string) error {
		c := exec.CommandContext(ctx, s.Fanout, append(args, nats...)...)
		// Kept, not discarded: a process that fails says why there, and
		// the measurement's error quotes it (a submit that once exited 3
		// in a bench left nothing to go on).
		log := filepath.Join(s.Dir, fmt.Sprintf("stderr-%s-%d-%s.txt", name, len(procs), args[0]))
		f, err := os.Create(log)
		if err != nil {
			return err
		}
		defer f.Close() // the child has its own copy once started
		c.Stderr = f
		procs = append(procs, c)
		logs = append(logs, log)
		return c.Start()
	}
	t0 := time.Now()
	submit := []string{"submit", "--run", name, "-i", s.List, "-q"}
	if s.Partitions > 0 {
		submit = append(submit, "--partitions", strconv.Itoa(s.Partitions))
	}
	if err := start(submit...); err != nil {
		return m, err
	}
	for range workers {
		if err := start(append([]string{"worker", "--run", name, "--exit-when-done", "-q"}, s.Engine...)...); err != nil {
			return m, err
		}
	}
	if err := start("collect", "--run", name, "--follow", "-q", "-f", "jsonl", "-o", os.DevNull); err != nil {
		return m, err
	}
	// Wait for all at once: a process that fails (a worker that exits 2)
	// ends the measurement at once, where collect --follow would wait for
	// its results until the job timeout.
	type exit struct {
		i   int
		err error
	}
	exits := make(chan exit, len(procs))
	for i, p := range procs {
		go func() { exits <- exit{i, p.Wait()} }()
	}
	var failed error
	for range procs {
		e := <-exits
		p := procs[e.i]
		if e.i == len(procs)-1 {
			m.Wall = time.Since(t0)
		}
		if !okExit(e.err, p.ProcessState) && failed == nil {
			failed = fmt.Errorf("fanout %s: %v%s", p.Args[1], e.err, tail(logs[e.i]))
			cancel() // kills the others (exec.CommandContext)
		}
	}
	if failed != nil {
		return m, failed
	}
	srvAfter, errAfter := procCPU(srv.Process.Pid)
	srv.Process.Signal(syscall.SIGTERM)
	srv.Wait()
	for _, p := range procs {
		c := cpuOf(p.ProcessState)
		m.CPU += c
		m.Procs = append(m.Procs, Proc{p.Args[1], c})
	}
	total := cpuOf(srv.ProcessState)
	during := total
	if errBefore == nil && errAfter == nil {
		during = srvAfter - srvBefore
	}
	m.CPU += during
	m.Procs = append(m.Procs, Proc{"nats", during})
	m.ServerStartStop = total - during
	return m, nil
}

// tail returns the end of the file log, as ": ..." to append to an error,
// or "" when it is empty or unreadable: the file goes with s.Dir.
func tail(log string) string {
	b, err := os.ReadFile(log)
	if b = bytes.TrimSpace(b); err != nil || len(b) == 0 {
		return ""
	}
	if len(b) > 600 {
		b = b[len(b)-600:]
	}
	return ": " + strings.ReplaceAll(string(b), "\n", " | ")
}

// startServer starts fanout nats on a free loopback port with a fresh
// store under s.Dir, and returns it once it listens; stop kills it if it
// still runs and removes the store.
func startServer(s Setup, name string) (srv *exec.Cmd, addr string, stop func(), err error) {
	if addr, err = freeAddr(); err != nil {
		return nil, "", nil, err
	}
	store := filepath.Join(s.Dir, "js-"+name)
	srv = exec.Command(s.Fanout, "nats", "--listen", addr, "--store", store)
	if err := srv.Start(); err != nil {
		return nil, "", nil, err
	}
	stop = func() {
		if srv.ProcessState == nil {
			srv.Process.Kill()
			srv.Wait()
		}
		os.RemoveAll(store)
	}
	for i := 0; ; i++ {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return srv, addr, stop, nil
		}
		if i == 400 {
			stop()
			return nil, "", nil, fmt.Errorf("fanout nats did not listen on %s", addr)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// IdleServerCPU measures what idle workers cost the NATS server: it
// starts fanout nats with a fresh store, submits s.List in two partitions
// as run name, starts 2+idle workers for it (two serve the partitions,
// the others hold nothing), and returns the server's CPU over window,
// from warm after the workers started. The list should keep two workers
// busy for warm+window (slow targets on two hosts).
func IdleServerCPU(s Setup, name string, idle int, warm, window time.Duration) (time.Duration, error) {
	srv, addr, stopServer, err := startServer(s, name)
	if err != nil {
		return 0, err
	}
	defer stopServer()
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout())
	defer cancel()
	nats := []string{"--nats", "nats://" + addr}
	sub := exec.CommandContext(ctx, s.Fanout, append([]string{"submit", "--run", name, "-i", s.List, "-q", "--partitions", "2"}, nats...)...)
	if out, err := sub.CombinedOutput(); err != nil {
		return 0, fmt.Errorf("fanout submit: %v\n%s", err, out)
	}
	var workers []*exec.Cmd
	defer func() {
		for _, w := range workers {
			w.Process.Signal(syscall.SIGTERM)
		}
		for _, w := range workers {
			w.Wait()
		}
	}()
	for i := range idle + 2 {
		args := append([]string{"worker", "--run", name, "-q", "--id", fmt.Sprint("w", i)}, s.Engine...)
		w := exec.CommandContext(ctx, s.Fanout, append(args, nats...)...)
		if err := w.Start(); err != nil {
			return 0, err
		}
		workers = append(workers, w)
	}
	time.Sleep(warm)
	before, err := procCPU(srv.Process.Pid)
	if err != nil {
		return 0, err
	}
	time.Sleep(window)
	after, err := procCPU(srv.Process.Pid)
	if err != nil {
		return 0, err
	}
	return after - before, nil
}

// procCPU reads a live process's user + system CPU time from
// /proc/PID/stat (Linux; elsewhere an error, and the server's whole CPU
// counts). The fields are in clock ticks, USER_HZ, which is 100 on Linux
// for every architecture fanout builds for.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The fields after the command name, which is in parentheses and
	// may hold spaces: state is field 3, utime 14, stime 15.
	i := bytes.LastIndexByte(b, ')')
	f := strings.Fields(string(b[i+1:]))
	if i < 0 || len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	return time.Duration(utime+stime) * (time.Second / 100), nil
}
