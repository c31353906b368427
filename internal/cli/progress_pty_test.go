//go:build linux

package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/fanout/fanout/internal/ptytest"
)

// The progress bar's total counts every input line, duplicates too: the
// skipped duplicates must count as done, or the bar stops at 4/8 with an
// ETA that never comes although the run is over.
func TestProgressCountsDuplicatesAsDone(t *testing.T) {
	s := newSite(t)
	master, slave := ptytest.Open(t, 100, 24)
	defer master.Close()
	out := make(chan string, 1)
	go func() {
		b, _ := io.ReadAll(master) // ends with EIO once the slave is closed
		out <- string(b)
	}()
	list := t.TempDir() + "/urls.txt"
	var lines strings.Builder
	for range 2 {
		for i := range 4 {
			fmt.Fprintf(&lines, "%s/slow?n=%d\n", s.URL, i)
		}
	}
	if err := os.WriteFile(list, []byte(lines.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	code := Main(context.Background(), Env{Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: slave},
		[]string{"-i", list, "-c", "2", "--per-host", "2", "-o", t.TempDir() + "/out.txt"})
	slave.Close()
	var got string
	select {
	case got = <-out:
	case <-time.After(10 * time.Second):
		t.Fatal("reading the terminal did not end")
	}
	if code != ExitOK {
		t.Fatalf("exit %d, want 0:\n%q", code, got)
	}
	if !strings.Contains(got, "8/8") {
		t.Errorf("the bar never reached 8/8 (4 targets, 4 duplicates):\n%q", got)
	}
	if !strings.Contains(got, "duplicates    4 skipped") {
		t.Errorf("summary lacks the 4 duplicates:\n%q", got)
	}
}
