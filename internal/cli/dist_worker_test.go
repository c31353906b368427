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
// fails at once with --exit-when-done (it used to wait forever, logging
// "no such run" four times a second), and without it waits for the run,
// saying so once.
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
	}{
		{"--exit-when-done", true, ExitUsage, `run "nosuch": no such run: check the name with fanout status`},
		{"waiting", false, -1, "run nosuch: no such run; waiting for it to be submitted"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{"worker", "--nats", url, "--run", "nosuch", "--id", "w1"}
			if tc.exitWhenDone {
				args = append(args, "--exit-when-done")
			}
			interrupt := make(chan struct{})
			var stderr syncBuffer
			env := Env{Stdin: strings.NewReader(""), Stdout: new(strings.Builder), Stderr: &stderr, Interrupt: interrupt}
			done := make(chan int, 1)
			go func() { done <- Main(t.Context(), env, args) }()
			code := -1
			select {
			case code = <-done:
			case <-time.After(2 * time.Second): // eight looks for the run
				close(interrupt)
				select {
				case <-done:
				case <-time.After(30 * time.Second):
					t.Fatal("worker still running 30s after the interrupt")
				}
			}
			if code != tc.code {
				t.Errorf("exit %d, want %d (-1: still running after 2s): %s", code, tc.code, stderr.String())
			}
			if n := strings.Count(stderr.String(), tc.stderr); n != 1 {
				t.Errorf("stderr says %q %d times, want once:\n%s", tc.stderr, n, stderr.String())
			}
			if n := strings.Count(stderr.String(), "no such run"); n != 1 {
				t.Errorf("stderr says \"no such run\" %d times, want once:\n%s", n, stderr.String())
			}
		})
	}
}
