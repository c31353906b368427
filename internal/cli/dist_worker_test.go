package cli

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// syncBuffer is a strings.Builder that a command may write while the test
// reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestWorkerRunNotSubmitted: a worker for a --run that does not exist
// fails after --run-wait with --exit-when-done (it used to wait forever,
// logging "no such run" four times a second), and without it waits for
// the run, saying so once. TestWorkerStartedBeforeSubmit is the other
// side: failing at once broke workers started with their submit.
func TestWorkerRunNotSubmitted(t *testing.T) {
	url := startSecureNATS(t, func(*server.Options) {})
	// Another run exists, so the runs bucket does too.
	if code, _, errOut := runCLI(t, "", "submit", "--nats", url, "--run", "other", "-q", "http://127.0.0.1:9/a"); code != ExitOK {
		t.Fatalf("submit: exit %d: %s", code, errOut)
	}
	for _, tc := range []struct {
		name         string
		exitWhenDone bool
		code         int // -1: still running after wait
		stderr       string
		noSuch       int // lines saying "no such run": the wait's, and the error's
	}{
		{"--exit-when-done", true, ExitUsage, `run "nosuch": no such run (waited 1s for it to be submitted): check the name with fanout status`, 2},
		{"waiting", false, -1, "run nosuch: no such run; waiting for it to be submitted", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{"worker", "--nats", url, "--run", "nosuch", "--id", "w1"}
			if tc.exitWhenDone {
				args = append(args, "--exit-when-done", "--run-wait", "1s")
			}
			interrupt := make(chan struct{})
			var stderr syncBuffer
			env := Env{Stdin: strings.NewReader(""), Stdout: new(strings.Builder), Stderr: &stderr, Interrupt: interrupt}
			done := make(chan int, 1)
			go func() { done <- Main(t.Context(), env, args) }()
			// Still running 3 s after it said it waits, past its next look
			// for the run (every 2 s, as it watches the runs bucket), which
			// must not say it again. A fixed 3 s from the start held the
			// connection, the wait of --run-wait 1s and the exit (2 s on an
			// idle machine), on a loaded machine not always.
			wait := time.After(30 * time.Second)
			if !tc.exitWhenDone {
				for deadline := time.Now().Add(30 * time.Second); !strings.Contains(stderr.String(), tc.stderr) && time.Now().Before(deadline); {
					time.Sleep(20 * time.Millisecond)
				}
				wait = time.After(3 * time.Second)
			}
			code := -1
			select {
			case code = <-done:
			case <-wait:
				close(interrupt)
				select {
				case <-done:
				case <-time.After(30 * time.Second):
					t.Fatal("worker still running 30s after the interrupt")
				}
			}
			if code != tc.code {
				t.Errorf("exit %d, want %d (-1: still running 3s after it said it waits, or 30s after the start): %s", code, tc.code, stderr.String())
			}
			if n := strings.Count(stderr.String(), tc.stderr); n != 1 {
				t.Errorf("stderr says %q %d times, want once:\n%s", tc.stderr, n, stderr.String())
			}
			if n := strings.Count(stderr.String(), "no such run"); n != tc.noSuch {
				t.Errorf("stderr says \"no such run\" %d times, want %d:\n%s", n, tc.noSuch, stderr.String())
			}
		})
	}
}

// TestWorkerStartedBeforeSubmit: a worker started with --run and
// --exit-when-done before its submit (as the benchmark and scripts start
// them, all at once) waits for the run, serves it and exits 0.
func TestWorkerStartedBeforeSubmit(t *testing.T) {
	url := startSecureNATS(t, func(*server.Options) {})
	s := newSite(t)
	var stderr syncBuffer
	env := Env{Stdin: strings.NewReader(""), Stdout: new(strings.Builder), Stderr: &stderr, Interrupt: make(chan struct{})}
	done := make(chan int, 1)
	go func() {
		done <- Main(t.Context(), env, []string{"worker", "--nats", url, "--run", "late", "--exit-when-done", "--id", "w1"})
	}()
	time.Sleep(1500 * time.Millisecond) // six looks for the run
	if code, _, errOut := runCLI(t, "", "submit", "--nats", url, "--run", "late", "-q", s.URL+"/ok/1", s.URL+"/ok/2"); code != ExitOK {
		t.Fatalf("submit: exit %d: %s", code, errOut)
	}
	select {
	case code := <-done:
		if code != ExitOK {
			t.Errorf("worker: exit %d:\n%s", code, stderr.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("worker still running 60s after the submit:\n%s", stderr.String())
	}
	if !strings.Contains(stderr.String(), "serving run late") {
		t.Errorf("the worker did not serve the run:\n%s", stderr.String())
	}
}

// TestWorkerNegativeMaxPartitions: a negative --max-partitions is a usage
// error named before any connection is tried (it counted against the fair
// share of the other workers).
func TestWorkerNegativeMaxPartitions(t *testing.T) {
	code, _, errOut := runCLI(t, "", "worker", "--max-partitions", "-1", "--nats", "nats://127.0.0.1:1")
	if want := "--max-partitions must be 0 (a fair share) or more, got -1"; code != ExitUsage || !strings.Contains(errOut, want) {
		t.Errorf("exit %d, stderr %q; want exit %d and %q", code, errOut, ExitUsage, want)
	}
}
