//go:build unix

package cli

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestInputFIFOWithoutWriterStopsOnInterrupt: an -i named pipe that no
// process opens for writing held fanout in open(2), where the first Ctrl-C
// or SIGTERM did nothing; it now ends the wait with exit 130.
func TestInputFIFOWithoutWriterStopsOnInterrupt(t *testing.T) {
	dir := t.TempDir()
	list := filepath.Join(dir, "urls.txt")
	if err := os.WriteFile(list, []byte("ftp://a.example/\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args func(fifo string) []string
	}{
		{"fifo alone", func(fifo string) []string { return []string{"-i", fifo} }},
		{"file then fifo", func(fifo string) []string { return []string{"-i", list, "-i", fifo} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fifo := filepath.Join(t.TempDir(), "pipe")
			if err := syscall.Mkfifo(fifo, 0o600); err != nil {
				t.Skipf("mkfifo: %v", err)
			}
			// Whatever happens, let a reader still waiting in open(2) go.
			release := func() {
				if w, err := os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
					w.Close()
				}
			}
			interrupt := make(chan struct{})
			var stderr strings.Builder
			env := Env{Stdin: strings.NewReader(""), Stdout: new(strings.Builder), Stderr: &stderr, Interrupt: interrupt}
			args := append(tc.args(fifo), "-q", "-f", "jsonl", "-o", filepath.Join(t.TempDir(), "out.jsonl"))
			done := make(chan int, 1)
			go func() { done <- Main(t.Context(), env, args) }()
			time.Sleep(200 * time.Millisecond)
			close(interrupt)
			select {
			case code := <-done:
				release()
				if code != ExitInterrupted {
					t.Errorf("exit %d, want %d: %s", code, ExitInterrupted, stderr.String())
				}
				if !strings.Contains(stderr.String(), "--input "+fifo) {
					t.Errorf("stderr %q: want it to name the pipe", stderr.String())
				}
			case <-time.After(10 * time.Second):
				release() // let the open return, so that the run ends
				select {
				case <-done:
				case <-time.After(10 * time.Second):
				}
				t.Fatal("still waiting for a writer 10s after the interrupt")
			}
		})
	}
}
