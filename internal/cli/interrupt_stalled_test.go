package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedBuffer is a bytes.Buffer safe for a writer and a reader at once.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// signalWriter closes entered on its first Write, before passing it on.
type signalWriter struct {
	w       io.Writer
	once    sync.Once
	entered chan struct{}
}

func (s *signalWriter) Write(p []byte) (int, error) {
	s.once.Do(func() { close(s.entered) })
	return s.w.Write(p)
}

// TestInterruptAcknowledgedWhileOutputStalled: a Ctrl-C during a run whose
// output is not being read (a paused pager, a stalled pipe) is
// acknowledged and drains the run at once, not only when the reader comes
// back. The targets take 300ms each, two at a time, so the run is still
// fetching when the periodic flush blocks.
func TestInterruptAcknowledgedWhileOutputStalled(t *testing.T) {
	s := newSite(t)
	var lines []string
	for i := range 40 {
		lines = append(lines, fmt.Sprintf("%s/slow/%d", s.URL, i))
	}
	pr, pw := io.Pipe()
	out := &signalWriter{w: pw, entered: make(chan struct{})}
	var stderr lockedBuffer
	interrupt := make(chan struct{})
	env := Env{Stdin: strings.NewReader(strings.Join(lines, "\n")), Stdout: out, Stderr: &stderr, Interrupt: interrupt}
	done := make(chan int, 1)
	go func() { done <- Main(context.Background(), env, []string{"-f", "jsonl", "-c", "2", "--per-host", "2"}) }()

	select {
	case <-out.entered: // the first write, which nobody reads yet
	case <-time.After(30 * time.Second):
		t.Fatal("no write to stdout within 30s")
	}
	close(interrupt)
	const notice = "fanout: interrupted: finishing the requests in flight"
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(stderr.String(), notice) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	acknowledged := strings.Contains(stderr.String(), notice)
	go io.Copy(io.Discard, pr) // the reader comes back
	var code int
	select {
	case code = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("fanout did not finish after its output was read again")
	}
	pr.Close()
	if !acknowledged {
		t.Errorf("a Ctrl-C while stdout was stalled was not acknowledged within 10s; stderr: %q", stderr.String())
	}
	if code != ExitInterrupted {
		t.Errorf("exit %d, want %d; stderr: %q", code, ExitInterrupted, stderr.String())
	}
}
