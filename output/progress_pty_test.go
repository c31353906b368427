//go:build linux

package output

import (
	"io"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fanout/fanout/fetch"
	"github.com/fanout/fanout/internal/ptytest"
)

// TestProgressOnTerminal draws on a real pseudo-terminal: the bar must show
// the counts and errors, and Stop must return with mpb finished.
func TestProgressOnTerminal(t *testing.T) {
	t.Run("100x24", func(t *testing.T) { testProgressOnTerminal(t, 100, 24) })
	// A terminal of no size: mpb drew a bar 0 columns wide, only cursor
	// moves; it is drawn 80 wide instead.
	t.Run("0x0", func(t *testing.T) { testProgressOnTerminal(t, 0, 0) })
}

func testProgressOnTerminal(t *testing.T, cols, rows uint16) {
	slave, read := ptytest.Capture(t, cols, rows)

	if !isTerminal(slave) {
		t.Fatal("pty slave not seen as a terminal")
	}
	pr := NewProgress(slave, 400)
	runProgress(pr, 200)
	time.Sleep(400 * time.Millisecond) // at least one refresh at 150ms
	stopped := make(chan struct{})
	go func() { pr.Stop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(10 * time.Second):
		t.Fatal("Stop did not return within 10s")
	}
	got := read()
	for _, want := range []string{"200/400", "20 failed", "ETA"} {
		if !strings.Contains(got, want) {
			t.Errorf("terminal output lacks %q:\n%q", want, got)
		}
	}
}

// TestProgressBypassOnTerminal writes lines through Bypass while the bar is
// drawn and right up to Stop: every line must reach the terminal whole.
func TestProgressBypassOnTerminal(t *testing.T) {
	t.Run("100x24", func(t *testing.T) { testProgressBypassOnTerminal(t, 100, 24) })
	t.Run("0x0", func(t *testing.T) { testProgressBypassOnTerminal(t, 0, 0) })
}

func testProgressBypassOnTerminal(t *testing.T, cols, rows uint16) {
	slave, read := ptytest.Capture(t, cols, rows)
	pr := NewProgress(slave, -1)
	w := pr.Bypass(slave)
	if w == io.Writer(slave) {
		t.Fatal("Bypass on a terminal returned the writer itself")
	}
	const lines = 50
	for i := range lines {
		if _, err := io.WriteString(w, "line "+strconv.Itoa(i)+" end\n"); err != nil {
			t.Fatal(err)
		}
		runProgress(pr, 1)
		if i == lines/2 {
			time.Sleep(350 * time.Millisecond) // a refresh in the middle
		}
	}
	pr.Stop()
	if _, err := io.WriteString(w, "after stop\n"); err != nil {
		t.Fatal(err)
	}
	got := read()
	for i := range lines {
		if want := "line " + strconv.Itoa(i) + " end\r\n"; !strings.Contains(got, want) {
			t.Errorf("terminal output lacks %q", want)
		}
	}
	if !strings.HasSuffix(got, "after stop\r\n") {
		t.Errorf("output after Stop missing or not last: %q", got[max(0, len(got)-80):])
	}
}

// TestProgressNarrowTerminalKeepsNumbersApart: on a terminal too narrow
// for the counts, the bar and the stats (40 columns, a million targets),
// the bar is left out; the counts and the rate must not then run together
// ("523456/1000000900000/s" reads as one number).
func TestProgressNarrowTerminalKeepsNumbersApart(t *testing.T) {
	slave, read := ptytest.Capture(t, 40, 24)
	pr := NewProgress(slave, 1_000_000)
	runProgress(pr, 523456)
	time.Sleep(400 * time.Millisecond) // at least one refresh at 150ms
	pr.Stop()
	got := read()
	if !strings.Contains(got, "523456/1000000") {
		t.Fatalf("terminal output lacks the counts:\n%q", got)
	}
	if m := regexp.MustCompile(`[0-9]+/1000000[^ ]`).FindString(got); m != "" {
		t.Errorf("the counts run into what follows them, %q, in:\n%q", m, got)
	}
}

// TestProgressLastFrameIsFull: a run shorter than the bar's sync tick
// ends with a last frame that shows it complete ("3/3 [===]"), not the
// bar's stale fill beside the final count ("3/3 [---]").
func TestProgressLastFrameIsFull(t *testing.T) {
	slave, read := ptytest.Capture(t, 60, 24)
	pr := NewProgress(slave, 3)
	for range 3 {
		pr.Add(&fetch.Result{Status: 200})
	}
	pr.Stop()
	got := read()
	if !strings.Contains(got, "3/3 [=") {
		t.Errorf("no full bar at 3/3:\n%q", got)
	}
	if strings.Contains(got, "3/3 [-") {
		t.Errorf("a frame at 3/3 shows an empty bar:\n%q", got)
	}
}

// TestProgressCanceledNotDone: targets Ctrl-C canceled were not fetched:
// the bar must not count them as done (it showed 10/10, full, for a run
// that fetched 3), but apart, with no ETA for what will never come.
func TestProgressCanceledNotDone(t *testing.T) {
	slave, read := ptytest.Capture(t, 100, 24)
	pr := NewProgress(slave, 10)
	for range 3 {
		pr.Add(&fetch.Result{Status: 200})
	}
	for range 7 {
		pr.Add(&fetch.Result{Error: &fetch.Error{Kind: fetch.KindCanceled, Message: "canceled"}})
	}
	time.Sleep(400 * time.Millisecond) // at least one refresh at 150ms
	pr.Stop()
	got := read()
	if strings.Contains(got, "10/10") {
		t.Errorf("the canceled targets counted as done:\n%q", got)
	}
	if !strings.Contains(got, "3/10") || !strings.Contains(got, "7 canceled") {
		t.Errorf("no frame shows 3/10 fetched and 7 canceled:\n%q", got)
	}
	if i := strings.LastIndex(got, "7 canceled"); i >= 0 && strings.Contains(got[i:], "ETA") {
		t.Errorf("an ETA beside canceled targets:\n%q", got[i:])
	}
}

// TestProgressWaitingNil: Waiting(nil) shows no waiting count. The nil
// function was stored and called at the next redraw, on mpb's goroutine,
// where its panic ended the whole program.
func TestProgressWaitingNil(t *testing.T) {
	for _, tc := range []struct {
		name  string
		first func() int64 // given to Waiting before the nil; nil: none
	}{
		{"nil", nil},
		{"nil after a count", func() int64 { return 7 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			slave, read := ptytest.Capture(t, 100, 24)
			pr := NewProgress(slave, 10)
			if tc.first != nil {
				pr.Waiting(tc.first)
			}
			pr.Waiting(nil)
			pr.Add(&fetch.Result{Status: 200})
			time.Sleep(400 * time.Millisecond) // at least one refresh at 150ms
			pr.Stop()
			got := read()
			if !strings.Contains(got, "1/10") {
				t.Errorf("terminal output lacks the counts:\n%q", got)
			}
			if strings.Contains(got, "waiting") {
				t.Errorf("a waiting count shown after Waiting(nil):\n%q", got)
			}
		})
	}
}

// TestProgressSkipShrinksTotal: duplicates skipped get no result and are
// not in the summary's count: they leave the bar's total, so the bar ends
// at the summary's count (4/4 for 4 results of 6 lines), not at 6/6 with
// them counted as done, nor at 4/6 with an ETA that never comes.
func TestProgressSkipShrinksTotal(t *testing.T) {
	slave, read := ptytest.Capture(t, 100, 24)
	pr := NewProgress(slave, 6)
	pr.Skip(1)
	for range 4 {
		pr.Add(&fetch.Result{Status: 200})
	}
	pr.Skip(1)
	time.Sleep(400 * time.Millisecond) // at least one refresh at 150ms
	pr.Stop()
	got := read()
	if !strings.Contains(got, "4/4 [=") {
		t.Errorf("the bar never shows 4/4, full:\n%q", got)
	}
	for _, bad := range []string{"4/6", "5/5", "6/6", "5/4"} {
		if strings.Contains(got, bad) {
			t.Errorf("a frame shows %s: the duplicates counted, in the total or as done:\n%q", bad, got)
		}
	}
}
