//go:build linux

package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/fanout/fanout/internal/ptytest"
)

// The progress bar's total counts every input line, duplicates too: the
// skipped duplicates must count as done, or the bar stops at 4/8 with an
// ETA that never comes although the run is over.
func TestProgressCountsDuplicatesAsDone(t *testing.T) {
	s := newSite(t)
	slave, read := ptytest.Capture(t, 100, 24)
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
	got := read()
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

// TestDumbTerminalGetsNoEscapes: TERM=dumb (Emacs' M-x shell, some CI log
// viewers) is a terminal that cannot move its cursor or show colours: the
// progress bar's cursor movements and the status colours would print there
// as text. The results and the summary still come.
func TestDumbTerminalGetsNoEscapes(t *testing.T) {
	t.Setenv("TERM", "dumb")
	t.Setenv("NO_COLOR", "")
	s := newSite(t)
	slave, read := ptytest.Capture(t, 100, 24)
	var args []string
	for i := range 3 {
		args = append(args, fmt.Sprintf("%s/slow?n=%d", s.URL, i))
	}
	code := Main(context.Background(), Env{Stdin: strings.NewReader(""), Stdout: slave, Stderr: slave},
		append([]string{"-c", "1"}, args...))
	got := read()
	if code != ExitOK {
		t.Fatalf("exit %d, want 0:\n%q", code, got)
	}
	if strings.Contains(got, "\x1b[") {
		t.Errorf("escape sequences on a dumb terminal:\n%q", got)
	}
	if !strings.Contains(got, "/slow?n=2") || !strings.Contains(got, "3 total") {
		t.Errorf("results or summary missing:\n%q", got)
	}
}
