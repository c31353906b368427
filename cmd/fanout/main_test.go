package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

func TestMain(m *testing.M) {
	if os.Getenv("FANOUT_MAIN_TEST") == "1" {
		os.Args = append([]string{"fanout"}, os.Args[1:]...)
		os.Exit(run())
	}
	os.Exit(m.Run())
}

// TestSecondSignalEndsARunWhoseOutputStalled: Ctrl-C twice ends the run
// although its stdout is a pipe nobody reads, where the writer is blocked
// in write(2) and neither the drain nor the abort reached it: fanout
// waited for the reader for as long as the reader liked.
func TestSecondSignalEndsARunWhoseOutputStalled(t *testing.T) {
	stderr := secondSignalOnStalledPipe(t, false)
	if !strings.Contains(stderr, "still running 5s after the second signal (is the output being read?)") {
		t.Errorf("stderr does not say why: %s", stderr)
	}
}

// TestSecondSignalEndsARunWhoseOutputAndStderrStalled: the same with
// stderr on the same unread pipe (fanout ... 2>&1 | less, paused): the
// message said before exiting must not hold the exit, since its write
// blocks as the results' did.
func TestSecondSignalEndsARunWhoseOutputAndStderrStalled(t *testing.T) {
	secondSignalOnStalledPipe(t, true)
}

// secondSignalOnStalledPipe runs fanout (this test binary, as fanout) over
// 3,000 targets with stdout on a pipe nobody reads (stderr too with
// stderrToo), sends SIGINT twice, and fails unless it exits 130 within 15 s.
// It returns stderr, when that was not on the pipe.
func secondSignalOnStalledPipe(t *testing.T, stderrToo bool) string {
	t.Helper()
	var requests atomic.Int32
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { requests.Add(1) }))
	defer ts.Close()
	var list strings.Builder
	for i := range 3000 {
		fmt.Fprintf(&list, "%s/%d\n", ts.URL, i)
	}
	in := filepath.Join(t.TempDir(), "urls")
	if err := os.WriteFile(in, []byte(list.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	pr, pw, err := os.Pipe() // never read until the end
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	cmd := exec.Command(os.Args[0], "-i", in, "-c", "20", "--per-host", "20")
	cmd.Env = append(os.Environ(), "FANOUT_MAIN_TEST=1")
	cmd.Stdout = pw
	var stderr lockedBuilder
	cmd.Stderr = &stderr
	if stderrToo {
		cmd.Stderr = pw
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	waitFor(t, "fanout's first request", func() bool { return requests.Load() > 0 }, cmd, done)
	time.Sleep(2 * time.Second) // the pipe is full long before
	cmd.Process.Signal(syscall.SIGINT)
	wait := 3 * sameSignal
	if stderrToo {
		// Nothing tells when the first was taken: wait long enough for
		// a process slow to take it (loaded, -race) to have taken it
		// more than sameSignal before the second.
		wait = 10 * sameSignal
	} else {
		// The second must come after the first was taken, and more than
		// sameSignal after it, or it is the same signal repeated (GNU
		// timeout's). Its acknowledgement says it was taken; with stderr
		// on the stalled pipe too, only the fixed wait below can.
		for deadline := time.Now().Add(10 * time.Second); !strings.Contains(stderr.String(), "interrupted: finishing"); {
			if time.Now().After(deadline) {
				cmd.Process.Kill()
				<-done
				t.Fatalf("the first SIGINT was not acknowledged within 10s: %q", stderr.String())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	time.Sleep(wait)
	cmd.Process.Signal(syscall.SIGINT)
	select {
	case err := <-done:
		if code := cmd.ProcessState.ExitCode(); code != 130 {
			t.Fatalf("exit %d (%v), want 130: %s", code, err, stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Errorf("still running %v after the second Ctrl-C with its output stalled (stderr too: %v)", 15*time.Second, stderrToo)
		pr.Close() // the writes fail, and the process ends
		<-done
	}
	return stderr.String()
}

// waitFor waits up to 30 s for cond, which says what, to hold; past that
// it kills cmd (done is its Wait) and fails the test. A signal sent before
// fanout's handlers are in place kills it: its first request says they
// are (signal.Notify comes before the CLI runs), where a fixed wait was
// too short on a loaded machine.
func waitFor(t *testing.T, what string, cond func() bool, cmd *exec.Cmd, done <-chan error) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			<-done
			t.Fatalf("no %s within 30s", what)
		}
	}
}

// lockedBuilder is a strings.Builder a process may write while the test
// reads it.
type lockedBuilder struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuilder) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuilder) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestNetHTTPLogSilenced: net/http logs some server misbehaviour through
// the standard logger ("Unsolicited response received on idle HTTP
// channel" after a 204 followed by bytes nobody asked for); fanout
// silences it, so stderr holds nothing beside what fanout says itself.
func TestNetHTTPLogSilenced(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(5 * time.Second))
				c.Read(make([]byte, 4096))
				io.WriteString(c, "HTTP/1.1 204 No Content\r\n\r\nGARBAGE")
				time.Sleep(time.Second) // idle, with the garbage unread
			}()
		}
	}()
	var args []string
	for i := range 3 {
		args = append(args, fmt.Sprintf("http://%s/%d", ln.Addr(), i))
	}
	cmd := exec.Command(os.Args[0], append([]string{"-q", "-c", "1", "-o", os.DevNull}, args...)...)
	cmd.Env = append(os.Environ(), "FANOUT_MAIN_TEST=1")
	out, err := cmd.CombinedOutput()
	// Exit 1 is fine: a request may take the connection before net/http
	// has seen the garbage, and read it as its (malformed) response.
	var exit *exec.ExitError
	if err != nil && !(errors.As(err, &exit) && exit.ExitCode() == 1) {
		t.Fatalf("fanout: %v\n%s", err, out)
	}
	if len(out) != 0 {
		t.Errorf("fanout -q wrote %q; want nothing", out)
	}
}

// TestSignals: SIGHUP (the terminal gone, a lost SSH session) drains the
// run as SIGTERM does, so the -o file keeps a line for every target read
// and the summary is said; killed by it, fanout lost the results in flight
// and those not yet flushed. A signal fanout was started ignoring (nohup's
// SIGHUP, the SIGINT a script's "fanout ... &" ignores) stays ignored.
func TestSignals(t *testing.T) {
	var arrived atomic.Int32
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived.Add(1)
		select {
		case <-time.After(300 * time.Millisecond):
		case <-r.Context().Done():
		}
	}))
	defer ts.Close()
	const targets = 40
	var list strings.Builder
	for i := range targets {
		fmt.Fprintf(&list, "%s/%d\n", ts.URL, i)
	}
	tests := []struct {
		name     string
		sig      syscall.Signal
		ignored  string // the signal the shell starting fanout ignores
		twice    bool   // sent twice within 20 ms, as GNU timeout sends it (to fanout, then its group)
		wantCode int
		wantOK   int // results without error; -1: some, not all
	}{
		{"SIGHUP drains", syscall.SIGHUP, "", false, 130, -1},
		{"SIGTERM drains", syscall.SIGTERM, "", false, 130, -1},
		{"SIGTERM twice in a moment drains", syscall.SIGTERM, "", true, 130, -1},
		{"SIGINT twice in a moment drains", syscall.SIGINT, "", true, 130, -1},
		{"nohup's SIGHUP stays ignored", syscall.SIGHUP, "HUP", false, 0, targets},
		{"a background job's SIGINT stays ignored", syscall.SIGINT, "INT", false, 0, targets},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			in, out := filepath.Join(dir, "urls"), filepath.Join(dir, "out.jsonl")
			if err := os.WriteFile(in, []byte(list.String()), 0o644); err != nil {
				t.Fatal(err)
			}
			args := []string{"-i", in, "-o", out, "-f", "jsonl", "-c", "4", "--per-host", "4"}
			cmd := exec.Command(os.Args[0], args...)
			if tt.ignored != "" {
				// The shell sets the signal ignored, and exec keeps it so.
				cmd = exec.Command("sh", append([]string{"-c", `trap '' ` + tt.ignored + `; exec "$0" "$@"`, os.Args[0]}, args...)...)
			}
			cmd.Env = append(os.Environ(), "FANOUT_MAIN_TEST=1")
			var stderr strings.Builder
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			// Some targets done, some in flight: with -c 4, the 8th
			// request comes once 4 are done, and 4 are in flight for
			// 300 ms, which an abort would cancel.
			from := arrived.Load()
			waitFor(t, "8 requests", func() bool { return arrived.Load()-from >= 8 }, cmd, done)
			cmd.Process.Signal(tt.sig)
			var gap time.Duration
			if tt.twice {
				// Not at once: the kernel would merge it with the first
				// while that is still pending.
				sent := time.Now()
				time.Sleep(20 * time.Millisecond)
				cmd.Process.Signal(tt.sig)
				gap = time.Since(sent)
			}
			select {
			case <-done:
			case <-time.After(15 * time.Second):
				cmd.Process.Kill()
				<-done
				t.Fatalf("still running 15s after %v", tt.sig)
			}
			if gap > sameSignal/2 {
				// The 20 ms slept far longer: the second may have come
				// sameSignal after the first was taken, a second signal.
				t.Skipf("too loaded a machine: the signals were sent %v apart, meant 20 ms", gap)
			}
			if code := cmd.ProcessState.ExitCode(); code != tt.wantCode {
				t.Fatalf("exit %d (%v), want %d; stderr: %s", code, cmd.ProcessState, tt.wantCode, stderr.String())
			}
			b, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
			ok := strings.Count(string(b), `"error":null`)
			if len(lines) != targets {
				t.Errorf("%d lines in -o, want one per target, %d", len(lines), targets)
			}
			if tt.wantOK >= 0 && ok != tt.wantOK || tt.wantOK < 0 && (ok == 0 || ok == targets) {
				t.Errorf("%d results without error of %d, want %d (-1: some, not all)", ok, len(lines), tt.wantOK)
			}
			if !strings.Contains(stderr.String(), "wall time") {
				t.Errorf("no summary on stderr: %s", stderr.String())
			}
			// Drained: the requests in flight finished; only targets
			// never started are canceled (an abort cancels those in
			// flight, attempts 1).
			for _, l := range lines {
				if strings.Contains(l, `"kind":"canceled"`) && !strings.Contains(l, `"attempts":0`) {
					t.Errorf("a request in flight was canceled, as by an abort: %s", l)
					break
				}
			}
		})
	}
}
