package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// TestCollectFollowStopsOnFirstInterrupt: collect has nothing to drain, so
// the first Ctrl-C (or SIGTERM) ends it with exit 130, whether it waits for
// a run not submitted yet (it says so) or follows one that workers have not
// finished (what it collected is written). It used to wait for the run to
// end, and for a run that never came, forever.
func TestCollectFollowStopsOnFirstInterrupt(t *testing.T) {
	url := startSecureNATS(t, func(*server.Options) {})
	dir := t.TempDir()
	list := filepath.Join(dir, "urls.txt")
	// Submitted, never fetched: there is no worker.
	if err := os.WriteFile(list, []byte("http://127.0.0.1:9/a\nhttp://127.0.0.1:9/b\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := runCLI(t, "", "submit", "--nats", url, "--run", "held", "-q", "-i", list); code != ExitOK {
		t.Fatalf("submit: exit %d: %s", code, errOut)
	}
	for _, tc := range []struct {
		name, run, stderr string
	}{
		{"run not submitted", "nosuch", "waiting for it to be submitted"},
		{"run not finished", "held", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			interrupt := make(chan struct{})
			var stderr strings.Builder
			env := Env{Stdin: strings.NewReader(""), Stdout: new(strings.Builder), Stderr: &stderr, Interrupt: interrupt}
			time.AfterFunc(500*time.Millisecond, func() { close(interrupt) })
			done := make(chan int, 1)
			start := time.Now()
			go func() {
				done <- Main(t.Context(), env, []string{"collect", "--nats", url, "--run", tc.run, "--follow",
					"-f", "jsonl", "-o", filepath.Join(dir, tc.run+".jsonl")})
			}()
			select {
			case code := <-done:
				if code != ExitInterrupted {
					t.Errorf("exit %d, want %d: %s", code, ExitInterrupted, stderr.String())
				}
				if d := time.Since(start); d > 10*time.Second {
					t.Errorf("took %v to stop after the interrupt", d)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("collect --follow did not stop within 30s of the interrupt")
			}
			if !strings.Contains(stderr.String(), tc.stderr) {
				t.Errorf("stderr %q, want it to say %q", stderr.String(), tc.stderr)
			}
		})
	}
}
