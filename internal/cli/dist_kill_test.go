//go:build !race

package cli

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fanout/fanout/dist"
	"github.com/fanout/fanout/internal/simweb"
)

// TestDistSIGKILLWorker runs the scenario with real processes:
// 20,000 targets, three worker processes, one SIGKILLed mid-run and
// restarted; collect --follow writes each target exactly once. A polite
// host (429 above K requests at once) sees at most K at once from the
// three workers together.
func TestDistSIGKILLWorker(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a NATS server and five fanout processes")
	}
	const n, k = 20_000, 2
	sim, err := simweb.Start(simweb.Config{MaxLifetime: 5 * time.Minute,
		HostLimits: map[string]simweb.Limit{"polite.sim": {Concurrent: k}}})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	dir := t.TempDir()
	var sb strings.Builder
	for i := range n {
		host := fmt.Sprintf("h%d.sim", i%500)
		if i%20 == 0 {
			host = "polite.sim"
		}
		fmt.Fprintln(&sb, sim.URL(host, fmt.Sprintf("/delay/%dms?n=%d", 1+i%5, i)))
	}
	list := filepath.Join(dir, "targets.txt")
	if err := os.WriteFile(list, []byte(sb.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	url := startNATSProcess(t, ctx, dir)
	nats := []string{"--nats", url}
	run := func(args ...string) {
		t.Helper()
		out, err := exec.CommandContext(ctx, binary, append(args, nats...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("fanout %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	run("submit", "--run", "kill", "-i", list, "-q", "--lease-ttl", "3s", "--ack-wait", "5s", "--partitions", "32")

	workerArgs := append([]string{"worker", "--run", "kill", "--exit-when-done", "-q", "-c", "32", "--per-host", fmt.Sprint(k)}, nats...)
	for _, r := range sim.ResolveArgs() {
		workerArgs = append(workerArgs, "--resolve", r)
	}
	startWorker := func() *exec.Cmd {
		cmd := exec.CommandContext(ctx, binary, workerArgs...)
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	workers := []*exec.Cmd{startWorker(), startWorker(), startWorker()}

	out := filepath.Join(dir, "out.jsonl")
	collect := exec.CommandContext(ctx, binary, append([]string{"collect", "--run", "kill", "--follow", "-q", "-f", "jsonl", "-o", out}, nats...)...)
	collect.Stderr = os.Stderr
	if err := collect.Start(); err != nil {
		t.Fatal(err)
	}

	// SIGKILL the first worker once a fifth of the run is done; restart it.
	c, err := dist.Connect(ctx, dist.Options{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	for {
		st, err := dist.RunStatus(ctx, c, "kill")
		if err == nil && st.Done >= n/5 {
			break
		}
		if ctx.Err() != nil {
			t.Fatal("run did not progress")
		}
		time.Sleep(20 * time.Millisecond)
	}
	c.Close()
	workers[0].Process.Signal(syscall.SIGKILL)
	workers[0].Wait()
	workers[0] = startWorker()

	if err := collect.Wait(); err != nil {
		t.Fatalf("collect --follow: %v", err)
	}
	for i, w := range workers {
		if err := w.Wait(); err != nil {
			t.Errorf("worker %d: %v", i, err)
		}
	}

	checkEachOnce200(t, out, n)
	if got := sim.MaxConcurrent("polite.sim"); got > k {
		t.Errorf("polite.sim saw %d requests at once from three workers, want at most %d", got, k)
	}
	if got := sim.TooMany("polite.sim"); got != 0 {
		t.Errorf("polite.sim refused %d requests (429)", got)
	}
}

// startNATSProcess runs `fanout nats` on a free loopback port.
func startNATSProcess(t *testing.T, ctx context.Context, dir string) string {
	t.Helper()
	addr := "127.0.0.1:" + closedPort(t)
	cmd := exec.CommandContext(ctx, binary, "nats", "--listen", addr, "--store", filepath.Join(dir, "js"))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() })
	for range 200 {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return "nats://" + addr
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Fatal("fanout nats did not listen")
	return ""
}

// TestDistSIGTERMWorker checks what README promises for SIGTERM on a
// worker: attempts in flight finish (no target is requested twice, none
// fails), queued targets go straight back to the stream, leases and the
// heartbeat are deleted, and the worker exits 0 within --timeout plus a
// margin. A second worker with the same flags then finishes the run long
// before --ack-wait or --lease-ttl could have expired anything, which it
// could not if a target or a lease had been left to expire; collect writes
// each target once.
func TestDistSIGTERMWorker(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a NATS server and four fanout processes")
	}
	const n, hosts, conc, timeout = 240, 24, 8, 5 * time.Second
	const leaseTTL, ackWait, bound = 90 * time.Second, 120 * time.Second, 60 * time.Second
	sim, err := simweb.Start(simweb.Config{MaxLifetime: 5 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	dir := t.TempDir()
	var sb strings.Builder
	for i := range n {
		fmt.Fprintln(&sb, sim.URL(fmt.Sprintf("h%d.sim", i%hosts), fmt.Sprintf("/delay/500ms?n=%d", i)))
	}
	list := filepath.Join(dir, "targets.txt")
	if err := os.WriteFile(list, []byte(sb.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	url := startNATSProcess(t, ctx, dir)
	nats := []string{"--nats", url}
	if out, err := exec.CommandContext(ctx, binary, append([]string{"submit", "--run", "term", "-i", list, "-q",
		"--partitions", "16", "--batch", "5", "--lease-ttl", leaseTTL.String(), "--ack-wait", ackWait.String()}, nats...)...).CombinedOutput(); err != nil {
		t.Fatalf("submit: %v\n%s", err, out)
	}
	// Both workers take the same flags, so the second one's consumers are
	// the first one's, unchanged: only a negative acknowledgement (or
	// --ack-wait) makes JetStream deliver a handed-back target again.
	worker := func(id string, extra ...string) *exec.Cmd {
		args := append([]string{"worker", "--run", "term", "--id", id, "-c", fmt.Sprint(conc), "--per-host", "1",
			"--timeout", timeout.String(), "--retries", "0"}, nats...)
		for _, r := range sim.ResolveArgs() {
			args = append(args, "--resolve", r)
		}
		cmd := exec.CommandContext(ctx, binary, append(args, extra...)...)
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	out := filepath.Join(dir, "out.jsonl")
	collect := exec.CommandContext(ctx, binary, append([]string{"collect", "--run", "term", "--follow", "-q", "-f", "jsonl", "-o", out}, nats...)...)
	collect.Stderr = os.Stderr
	if err := collect.Start(); err != nil {
		t.Fatal(err)
	}

	a := worker("term-a")
	c, err := dist.Connect(ctx, dist.Options{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// Batches of 5: a batch's results are published once all its targets
	// are done, and one engine serves every partition at once, so with
	// batches of ~15 (240 targets over 16 partitions) nothing would be
	// done until near the end.
	// SIGTERM once some results are in and more than a slot's worth of
	// targets has not been requested yet: every slot is then busy with a
	// 500 ms request, and queued targets are left to hand back. (Status's
	// in-flight count comes from heartbeats, every quarter of the 90 s
	// lease TTL: too rare to wait for in a 15 s run.)
	for {
		st, err := dist.RunStatus(ctx, c, "term")
		if err == nil && st.Done >= 2*conc && sim.Stats().Requests < n-2*conc {
			break
		}
		if ctx.Err() != nil || sim.Stats().Requests >= n-2*conc {
			t.Fatalf("the run did not reach %d results while more than %d targets were unrequested (%d requested)",
				2*conc, 2*conc, sim.Stats().Requests)
		}
		time.Sleep(20 * time.Millisecond)
	}
	sent := time.Now()
	a.Process.Signal(syscall.SIGTERM)
	if err := a.Wait(); err != nil {
		t.Errorf("worker after SIGTERM: %v, want exit 0", err)
	}
	if d := time.Since(sent); d > timeout+10*time.Second {
		t.Errorf("worker took %v to exit after SIGTERM, want at most --timeout %v plus 10s", d, timeout)
	}
	st, err := dist.RunStatus(ctx, c, "term")
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Leases) != 0 || len(st.Workers) != 0 {
		t.Errorf("after SIGTERM: leases %v, workers %v; want none", st.Leases, st.Workers)
	}
	// JetStream counts a negatively acknowledged target as pending an ack
	// until it is delivered again, so InFlight says nothing here.
	if st.Done == 0 || st.Done+st.Pending != n {
		t.Errorf("after SIGTERM: done %d + pending %d, want %d with some done", st.Done, st.Pending, n)
	}
	t.Logf("SIGTERM: exited after %v with %d done, %d handed back", time.Since(sent).Round(time.Millisecond), st.Done, st.Pending)

	restart := time.Now()
	b := worker("term-b", "--exit-when-done")
	collected := make(chan error, 1)
	go func() { collected <- collect.Wait() }()
	select {
	case err := <-collected:
		if err != nil {
			t.Fatalf("collect --follow: %v", err)
		}
	case <-time.After(bound):
		t.Fatalf("the second worker had not finished the run %v after it started (--ack-wait %v, --lease-ttl %v): "+
			"targets or leases were left to expire", bound, ackWait, leaseTTL)
	}
	t.Logf("the second worker finished the run in %v", time.Since(restart).Round(time.Millisecond))
	// It notices that the run is done on its next tick, a quarter of the TTL.
	if err := b.Wait(); err != nil {
		t.Errorf("second worker: %v", err)
	}

	checkEachOnce200(t, out, n)
	if got := sim.Stats().Requests; got != n {
		t.Errorf("simweb received %d requests for %d targets: attempts in flight at SIGTERM were not finished", got, n)
	}
}
