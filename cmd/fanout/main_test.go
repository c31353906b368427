package main

import (
	"fmt"
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
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
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
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	time.Sleep(2 * time.Second) // the pipe is full long before
	cmd.Process.Signal(syscall.SIGINT)
	time.Sleep(300 * time.Millisecond)
	cmd.Process.Signal(syscall.SIGINT)
	select {
	case err := <-done:
		if code := cmd.ProcessState.ExitCode(); code != 130 {
			t.Fatalf("exit %d (%v), want 130: %s", code, err, stderr.String())
		}
		if !strings.Contains(stderr.String(), "still running 5s after the second signal (is the output being read?)") {
			t.Errorf("stderr does not say why: %s", stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Errorf("still running %v after the second Ctrl-C with its output stalled", 15*time.Second)
		pr.Close() // the write fails, and the process ends
		<-done
	}
}

// TestSecondSignalEndsARunWhoseOutputAndStderrStalled: the same with
// stderr on the same unread pipe (fanout ... 2>&1 | less, paused): the
// message said before exiting must not hold the exit, since its write
// blocks as the results' did.
func TestSecondSignalEndsARunWhoseOutputAndStderrStalled(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
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
	cmd.Stderr = pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	time.Sleep(2 * time.Second) // the pipe is full long before
	cmd.Process.Signal(syscall.SIGINT)
	time.Sleep(300 * time.Millisecond)
	cmd.Process.Signal(syscall.SIGINT)
	select {
	case err := <-done:
		if code := cmd.ProcessState.ExitCode(); code != 130 {
			t.Fatalf("exit %d (%v), want 130", code, err)
		}
	case <-time.After(15 * time.Second):
		t.Errorf("still running %v after the second Ctrl-C with stdout and stderr stalled", 15*time.Second)
		pr.Close() // the writes fail, and the process ends
		<-done
	}
}
