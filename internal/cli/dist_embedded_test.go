package cli

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// embeddedEnv is the environment of commands that use the embedded
// server on addr with its store in store, and a home directory of their
// own, so that nothing reaches ~/.local or port 4222.
func embeddedEnv(t *testing.T, home, addr, store string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "FANOUT_NATS") && !strings.HasPrefix(kv, "HOME=") && !strings.HasPrefix(kv, "XDG_STATE_HOME=") {
			env = append(env, kv)
		}
	}
	return append(env, "HOME="+home, "XDG_STATE_HOME="+filepath.Join(home, "state"),
		"FANOUT_NATS_LISTEN="+addr, "FANOUT_NATS_STORE="+store)
}

// lineWaiter reads a process's stderr and hands over the lines.
func lineWaiter(r io.Reader) <-chan string {
	lines := make(chan string, 100)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	return lines
}

// TestDistEmbeddedServer: with no --nats, two workers started at once on
// one box agree on one embedded server (one starts it, with JetStream
// storing files in --nats-store, the other connects to it); submit and
// collect reach it; after SIGTERM the server is gone with its host, and the
// next command starts a new one that finds the run on disk.
func TestDistEmbeddedServer(t *testing.T) {
	if testing.Short() {
		t.Skip("starts fanout processes")
	}
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") }))
	defer web.Close()
	addr := "127.0.0.1:" + closedPort(t)
	store := filepath.Join(t.TempDir(), "js")
	home := t.TempDir()
	env := embeddedEnv(t, home, addr, store)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	command := func(args ...string) *exec.Cmd {
		cmd := exec.CommandContext(ctx, binary, args...)
		cmd.Env = env
		return cmd
	}

	type worker struct {
		cmd   *exec.Cmd
		lines <-chan string
		host  bool
	}
	workers := make([]*worker, 2)
	for i := range workers {
		cmd := command("worker", "--run", "emb", "-c", "4")
		stderr, err := cmd.StderrPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		workers[i] = &worker{cmd: cmd, lines: lineWaiter(stderr)}
	}
	defer func() {
		for _, w := range workers {
			w.cmd.Process.Kill()
			w.cmd.Wait()
		}
	}()
	hosts := 0
	for i, w := range workers {
		select {
		case line := <-w.lines:
			switch {
			case strings.Contains(line, "started the embedded NATS server on nats://"+addr):
				w.host = true
				hosts++
			case strings.Contains(line, "connected to nats://"+addr):
			default:
				t.Fatalf("worker %d: %q, want it to start or connect to the server on %s", i, line, addr)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("worker %d did not connect", i)
		}
	}
	if hosts != 1 {
		t.Fatalf("%d workers started the embedded server, want 1", hosts)
	}

	targets := []string{web.URL + "/a", web.URL + "/b", web.URL + "/c", web.URL + "/d"}
	if out, err := command(append([]string{"submit", "--run", "emb", "-q"}, targets...)...).CombinedOutput(); err != nil {
		t.Fatalf("submit: %v\n%s", err, out)
	}
	collect := command("collect", "--run", "emb", "--follow", "-q", "-f", "jsonl")
	out, err := collect.Output()
	if err != nil {
		t.Fatalf("collect: %v", err)
	}
	if got := decodeLines(t, string(out)); len(got) != len(targets) {
		t.Errorf("collect wrote %d results, want %d", len(got), len(targets))
	}
	if m, _ := filepath.Glob(filepath.Join(store, "jetstream", "*", "streams", "FANOUT_T_emb")); len(m) != 1 {
		t.Errorf("no FANOUT_T_emb stream stored as files under %s", store)
	}

	// The server lives in its host's process: stop the other worker first.
	for _, host := range []bool{false, true} {
		for _, w := range workers {
			if w.host != host {
				continue
			}
			w.cmd.Process.Signal(syscall.SIGTERM)
			done := make(chan error, 1)
			go func() { done <- w.cmd.Wait() }()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("worker (host %v) after SIGTERM: %v", host, err)
				}
			case <-time.After(20 * time.Second):
				t.Fatalf("worker (host %v) still running 20s after SIGTERM", host)
			}
		}
	}
	if c, err := net.Dial("tcp", addr); err == nil {
		c.Close()
		t.Errorf("%s still answers after the server's host exited", addr)
	}
	out, err = command("status").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "emb\t4 targets") {
		t.Errorf("status with a fresh embedded server on the same store: %v\n%s", err, out)
	}
	for _, d := range []string{".local", "state"} {
		if _, err := os.Stat(filepath.Join(home, d)); err == nil {
			t.Errorf("a command wrote to %s in its home directory, not only to $FANOUT_NATS_STORE", d)
		}
	}
}
