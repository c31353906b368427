package cli

import (
	"bytes"
	"context"
	"encoding/json"
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

// tearingStream is stdout and stderr as one slow pipe (fanout ... 2>&1 |
// slow-reader): the first write of results goes through in two parts, and
// between them it waits until release is closed, as a write(2) larger than
// the pipe's free space does while the reader catches up. Whatever another
// writer writes meanwhile lands inside that write's records.
type tearingStream struct {
	mu           sync.Mutex
	b            bytes.Buffer
	once         sync.Once
	mid, release chan struct{}
}

func (s *tearingStream) Write(p []byte) (int, error) {
	torn := false
	const cut = 10 // inside the first record, which is longer
	if len(p) > cut && p[0] == '{' {
		s.once.Do(func() { torn = true })
	}
	if !torn {
		s.append(p)
		return len(p), nil
	}
	s.append(p[:cut])
	close(s.mid)
	<-s.release
	s.append(p[cut:])
	return len(p), nil
}

func (s *tearingStream) append(p []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.b.Write(p)
}

func (s *tearingStream) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestInterruptNoticeBetweenRecords: with stdout and stderr one stream
// (2>&1 into a reader slower than the run), the Ctrl-C notice goes between
// two records, never inside the one being written: jq or a script reading
// the mix must see every record whole.
func TestInterruptNoticeBetweenRecords(t *testing.T) {
	s := newSite(t)
	var lines []string
	for i := range 40 {
		lines = append(lines, fmt.Sprintf("%s/slow/%d", s.URL, i))
	}
	stream := &tearingStream{mid: make(chan struct{}), release: make(chan struct{})}
	interrupt := make(chan struct{})
	env := Env{Stdin: strings.NewReader(strings.Join(lines, "\n")), Stdout: stream, Stderr: stream, Interrupt: interrupt}
	done := make(chan int, 1)
	go func() { done <- Main(context.Background(), env, []string{"-f", "jsonl", "-c", "2", "--per-host", "2"}) }()

	select {
	case <-stream.mid: // halfway through the first results written
	case <-time.After(30 * time.Second):
		t.Fatal("no results written within 30s")
	}
	close(interrupt)
	// Time for the notice to be written, were it written at once.
	time.Sleep(300 * time.Millisecond)
	close(stream.release)
	select {
	case code := <-done:
		if code != ExitInterrupted {
			t.Errorf("exit %d, want %d", code, ExitInterrupted)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("fanout did not finish after the interrupt")
	}
	const notice = "fanout: interrupted: finishing the requests in flight"
	got := stream.String()
	if !strings.Contains(got, "\n"+notice) {
		t.Errorf("the notice does not start a line of its own:\n%s", got)
	}
	for i, line := range strings.Split(got, "\n") {
		if strings.HasPrefix(line, "{") && !json.Valid([]byte(line)) {
			t.Errorf("line %d is not a whole record: %q", i+1, line)
		}
	}
}
