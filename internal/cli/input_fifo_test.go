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

// mkfifo makes a named pipe in a temporary directory, or skips the test.
func mkfifo(t *testing.T) string {
	t.Helper()
	fifo := filepath.Join(t.TempDir(), "pipe")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	return fifo
}

// interruptAtPipe runs fanout with args, which make it open fifo, a named
// pipe whose other end nobody opens (otherEnd is that end's open mode),
// interrupts it 200 ms later and returns its exit status and stderr. It
// fails the test if the run is still waiting 10 s after the interrupt.
func interruptAtPipe(t *testing.T, fifo string, otherEnd int, args ...string) (int, string) {
	t.Helper()
	// Whatever happens, let an open(2) still waiting for the other end go.
	release := func() {
		if f, err := os.OpenFile(fifo, otherEnd|syscall.O_NONBLOCK, 0); err == nil {
			f.Close()
		}
	}
	interrupt := make(chan struct{})
	var stderr strings.Builder
	env := Env{Stdin: strings.NewReader(""), Stdout: new(strings.Builder), Stderr: &stderr, Interrupt: interrupt}
	done := make(chan int, 1)
	go func() { done <- Main(t.Context(), env, args) }()
	time.Sleep(200 * time.Millisecond)
	close(interrupt)
	select {
	case code := <-done:
		release()
		return code, stderr.String()
	case <-time.After(10 * time.Second):
		release() // let the open return, so that the run ends
		select {
		case <-done:
		case <-time.After(10 * time.Second):
		}
		t.Fatal("still waiting at the pipe 10s after the interrupt")
		return 0, ""
	}
}

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
			fifo := mkfifo(t)
			args := append(tc.args(fifo), "-q", "-f", "jsonl", "-o", filepath.Join(t.TempDir(), "out.jsonl"))
			code, stderr := interruptAtPipe(t, fifo, os.O_WRONLY, args...)
			if code != ExitInterrupted {
				t.Errorf("exit %d, want %d: %s", code, ExitInterrupted, stderr)
			}
			if !strings.Contains(stderr, "--input "+fifo) {
				t.Errorf("stderr %q: want it to name the pipe", stderr)
			}
		})
	}
}

// TestOutputFIFO: -o naming a named pipe waits for its reader, as writing
// to a pipe does, and the first interrupt ends that wait (exit 130). The
// output was opened read-write, which does not wait: the results went into
// the pipe's buffer, lost at exit with no reader, and a run with more than
// the buffer's worth blocked.
func TestOutputFIFO(t *testing.T) {
	for _, tc := range []struct {
		name string
		args func(fifo string) []string
	}{
		{"run", func(fifo string) []string { return []string{"-q", "-f", "jsonl", "-o", fifo, "ftp://a.example/"} }},
		{"run recording", func(fifo string) []string {
			return []string{"-q", "-f", "jsonl", "-o", fifo, "--db", filepath.Join(filepath.Dir(fifo), "r.db"), "ftp://a.example/"}
		}},
	} {
		t.Run(tc.name+", no reader", func(t *testing.T) {
			fifo := mkfifo(t)
			code, stderr := interruptAtPipe(t, fifo, os.O_RDONLY, tc.args(fifo)...)
			if code != ExitInterrupted || !strings.Contains(stderr, "--output "+fifo+": stopped while waiting for a reader") {
				t.Errorf("exit %d, stderr %q; want %d and the pipe named", code, stderr, ExitInterrupted)
			}
		})
		t.Run(tc.name+", a reader", func(t *testing.T) {
			fifo := mkfifo(t)
			read := make(chan string, 1)
			go func() {
				time.Sleep(300 * time.Millisecond) // fanout opens first, and waits
				b, _ := os.ReadFile(fifo)
				read <- string(b)
			}()
			var stderr strings.Builder
			env := Env{Stdin: strings.NewReader(""), Stdout: new(strings.Builder), Stderr: &stderr}
			code := Main(t.Context(), env, tc.args(fifo))
			select {
			case got := <-read:
				if code != ExitFailures || strings.Count(got, "\n") != 1 || !strings.Contains(got, `"invalid_url"`) {
					t.Errorf("exit %d, the reader got %q; want %d and one invalid_url line (stderr %q)", code, got, ExitFailures, stderr.String())
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("exit %d, and the reader got nothing in 10s (stderr %q)", code, stderr.String())
			}
		})
	}
}

// TestReportFromFIFOWithoutWriterStopsOnInterrupt: report --from naming a
// named pipe that no process opens for writing waits in open(2), as -i
// does; the first interrupt ends that wait (exit 130) as it does for -i.
// It did nothing, and only a second one, 5 s later, ended fanout.
func TestReportFromFIFOWithoutWriterStopsOnInterrupt(t *testing.T) {
	fifo := mkfifo(t)
	code, stderr := interruptAtPipe(t, fifo, os.O_WRONLY, "report", "--from", fifo, "-o", filepath.Join(t.TempDir(), "r.html"))
	if code != ExitInterrupted || !strings.Contains(stderr, "--from "+fifo+": stopped while waiting for a writer") {
		t.Errorf("exit %d, stderr %q; want %d and the pipe named", code, stderr, ExitInterrupted)
	}
}
