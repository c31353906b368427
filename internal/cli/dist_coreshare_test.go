//go:build unix

package cli

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/fanout/fanout/internal/coreshare"
)

// TestWorkerSharesCores: a worker busy while another busy worker runs on
// the machine takes half its Ps, says so, and has them all again when it
// stops; a worker alone on the machine keeps its Ps.
func TestWorkerSharesCores(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir()) // the workers' directory is under it
	shareEvery, shareLinger = 20*time.Millisecond, 100*time.Millisecond
	defer func() { shareEvery, shareLinger = time.Second, 3*time.Second }()
	url := startSecureNATS(t, func(*server.Options) {})
	for _, tc := range []struct {
		name  string
		other bool // another busy worker on the machine
		want  int  // Ps while busy
	}{
		{"alone", false, 4},
		{"with another", true, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.other {
				ctx, cancel := context.WithCancel(context.Background())
				done := make(chan struct{})
				go func() {
					defer close(done)
					coreshare.Run(ctx, coreshare.Config{Dir: coreshare.Dir("workers"), Base: 4,
						Busy: func() bool { return true }, Every: 10 * time.Millisecond, Set: func(int) {}})
				}()
				defer func() { cancel(); <-done }()
			}
			// Requests are held until the test has seen the worker's Ps.
			srv, free := heldServer(t)
			run := "share-" + strings.ReplaceAll(tc.name, " ", "-")
			if code, _, errOut := runCLI(t, "", "submit", "--nats", url, "--run", run, "-q", srv.URL+"/a", srv.URL+"/b"); code != ExitOK {
				t.Fatalf("submit: exit %d: %s", code, errOut)
			}
			var mu sync.Mutex
			procs := 4
			var sets []int
			env := Env{Stdin: strings.NewReader(""), Stdout: new(strings.Builder), Stderr: new(syncBuffer),
				Interrupt: make(chan struct{}), Procs: func(n int) int {
					mu.Lock()
					defer mu.Unlock()
					if n >= 1 {
						procs = n
						sets = append(sets, n)
					}
					return procs
				}}
			stderr := env.Stderr.(*syncBuffer)
			done := make(chan int, 1)
			go func() {
				done <- Main(t.Context(), env, []string{"worker", "--nats", url, "--run", run, "--exit-when-done", "--id", "w1"})
			}()
			// Busy for well over the linger and many counts.
			deadline := time.Now().Add(30 * time.Second)
			for !strings.Contains(stderr.String(), "serving run") && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			time.Sleep(500 * time.Millisecond)
			if tc.want != 4 {
				for time.Now().Before(deadline) {
					mu.Lock()
					p := procs
					mu.Unlock()
					if p == tc.want {
						break
					}
					time.Sleep(10 * time.Millisecond)
				}
			}
			mu.Lock()
			busyProcs := procs
			mu.Unlock()
			free()
			waitWorkerOK(t, done, stderr)
			mu.Lock()
			defer mu.Unlock()
			if busyProcs != tc.want {
				t.Errorf("Ps while busy %d, want %d (set %v):\n%s", busyProcs, tc.want, sets, stderr.String())
			}
			if procs != 4 {
				t.Errorf("Ps after the worker stopped %d, want 4 again (set %v)", procs, sets)
			}
			said := strings.Contains(stderr.String(), "2 busy workers on this machine: GOMAXPROCS 2 of 4")
			if said != tc.other {
				t.Errorf("stderr tells of the sharing: %v, want %v:\n%s", said, tc.other, stderr.String())
			}
		})
	}
}

// TestWorkerHostingServerCountsForOthers: a worker that started the
// embedded server keeps its Ps, but counts while busy, so that a worker
// beside it (the README quick start's second) takes half, not all.
func TestWorkerHostingServerCountsForOthers(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	shareEvery, shareLinger = 20*time.Millisecond, 100*time.Millisecond
	defer func() { shareEvery, shareLinger = time.Second, 3*time.Second }()
	ctx, cancel := context.WithCancel(context.Background())
	peerSet := make(chan int, 100)
	peerDone := make(chan struct{})
	go func() {
		defer close(peerDone)
		coreshare.Run(ctx, coreshare.Config{Dir: coreshare.Dir("workers"), Base: 4,
			Busy: func() bool { return true }, Every: 10 * time.Millisecond, Set: func(n int) { peerSet <- n }})
	}()
	defer func() { cancel(); <-peerDone }()

	srv, free := heldServer(t)

	addr := "127.0.0.1:" + closedPort(t)
	var mu sync.Mutex
	var sets []int
	stderr := new(syncBuffer)
	env := Env{Stdin: strings.NewReader(""), Stdout: new(strings.Builder), Stderr: stderr,
		Interrupt: make(chan struct{}), Procs: func(n int) int {
			mu.Lock()
			defer mu.Unlock()
			if n >= 1 {
				sets = append(sets, n)
			}
			return 4
		}}
	done := make(chan int, 1)
	go func() {
		done <- Main(t.Context(), env, []string{"worker", "--nats", "embedded", "--nats-listen", addr,
			"--nats-store", filepath.Join(t.TempDir(), "js"), "--run", "hosted", "--exit-when-done", "--id", "host"})
	}()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(stderr.String(), "started the embedded NATS server") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if code, _, errOut := runCLI(t, "", "submit", "--nats", "nats://"+addr, "--run", "hosted", "-q", srv.URL+"/a", srv.URL+"/b"); code != ExitOK {
		t.Fatalf("submit: exit %d: %s\nworker: %s", code, errOut, stderr.String())
	}
	select {
	case n := <-peerSet:
		if n != 2 {
			t.Errorf("the neighbour took %d Ps, want 2", n)
		}
	case <-time.After(30 * time.Second):
		t.Errorf("the neighbour never took half its Ps while the hosting worker was busy:\n%s", stderr.String())
	}
	free()
	waitWorkerOK(t, done, stderr)
	mu.Lock()
	defer mu.Unlock()
	if len(sets) != 0 {
		t.Errorf("the worker hosting the server set its Ps: %v, want none", sets)
	}
}

// heldServer answers every request once free is called (or at the test's
// end), so that a worker stays busy until the test has seen its Ps.
func heldServer(t *testing.T) (*httptest.Server, func()) {
	release := make(chan struct{})
	var once sync.Once
	free := func() { once.Do(func() { close(release) }) }
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
		fmt.Fprint(w, "ok")
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(free) // runs before Close: held requests end first
	return srv, free
}

// waitWorkerOK waits for a worker's exit, which must be 0, once its
// targets are answered.
func waitWorkerOK(t *testing.T, done <-chan int, stderr *syncBuffer) {
	t.Helper()
	select {
	case code := <-done:
		if code != ExitOK {
			t.Fatalf("worker: exit %d:\n%s", code, stderr.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("worker still running 60s after its targets were answered:\n%s", stderr.String())
	}
}
