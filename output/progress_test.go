package output

import (
	"bytes"
	"io"
	"math"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/fanout/fanout/fetch"
)

// syncBuffer is a bytes.Buffer safe for mpb's goroutines and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func runProgress(pr *Progress, n int) {
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := g; i < n; i += 4 {
				r := &fetch.Result{Status: 200}
				if i%10 == 0 {
					r.Error = &fetch.Error{Kind: fetch.KindTimeout}
				}
				pr.Add(r)
			}
		})
	}
	wg.Wait()
}

func TestProgressNonTerminalDrawsNothing(t *testing.T) {
	defer goleak.VerifyNone(t)
	for _, total := range []int64{1000, -1, 5000} {
		var buf syncBuffer
		pr := NewProgress(&buf, total)
		if w := pr.Bypass(&buf); w != io.Writer(&buf) {
			t.Errorf("Bypass on a non-terminal returned %T, want the writer itself", w)
		}
		runProgress(pr, 1000)
		pr.Stop()
		pr.Stop() // a second Stop is harmless
		if got := buf.String(); got != "" {
			t.Errorf("total %d: progress wrote %q to a non-terminal", total, got)
		}
		if pr.done.Load() != 1000 || pr.failed.Load() != 100 {
			t.Errorf("counted %d done, %d failed; want 1000, 100", pr.done.Load(), pr.failed.Load())
		}
	}
}

// TestProgressMPBNonTerminal checks mpb's own behaviour behind our guard:
// given a writer that is not a terminal, it must not draw either (and so
// never write escape sequences into a pipe).
func TestProgressMPBNonTerminal(t *testing.T) {
	defer goleak.VerifyNone(t)
	for _, total := range []int64{300, -1, 1000} {
		var buf syncBuffer
		pr := newProgress(&buf, total, true)
		runProgress(pr, 300)
		time.Sleep(3 * progressTick) // let the sync loop and mpb run
		pr.Stop()
		if got := buf.String(); strings.Contains(got, "\x1b") || strings.Contains(got, "\r") {
			t.Errorf("total %d: mpb wrote control sequences to a non-terminal: %q", total, got)
		}
	}
}

func TestProgressNonTerminalFile(t *testing.T) {
	defer goleak.VerifyNone(t)
	f, err := os.CreateTemp(t.TempDir(), "progress")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if isTerminal(f) {
		t.Fatal("a regular file reported as a terminal")
	}
	pr := NewProgress(f, 10)
	runProgress(pr, 10)
	pr.Stop()
	if st, _ := f.Stat(); st.Size() != 0 {
		t.Errorf("progress wrote %d bytes to a file", st.Size())
	}
}

func TestProgressStats(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		done, total, failed, canceled, waiting int64
		rate                                   float64
		want                                   string
	}{
		{500, 1000, 3, 0, 0, 50, "50.0/s  3 failed  ETA 10.0s"},
		{500, -1, 1, 0, 0, 50, "50.0/s  1 failed"},
		{0, 1000, 0, 0, 0, 0, "0.0/s  0 failed"},
		{120000, 1000000, 0, 0, 0, 2000, "2000/s  0 failed  ETA 7m20s"},
		{1000, 1000, 0, 0, 0, 0, "0.0/s  0 failed"},
		// Targets waiting to retry: the rate knows nothing of their
		// wait, and an ETA under etaRetryFloor would be the nonsense
		// "ETA 10ms" of a target due seconds later; a long one stays.
		{999, 1000, 0, 0, 1, 99.9, "99.9/s  0 failed  1 waiting to retry"},
		{990, 1000, 0, 0, 4, 100, "100/s  0 failed  4 waiting to retry"},
		{500, 100000, 0, 0, 3, 100, "100/s  0 failed  3 waiting to retry  ETA 16m35s"},
		{5, -1, 2, 0, 3, 0.5, "0.5/s  2 failed  3 waiting to retry"},
		// Interrupted: the canceled are shown apart, and no ETA for
		// targets that will never be fetched.
		{20, 200, 1, 180, 0, 19.2, "19.2/s  1 failed  180 canceled"},
		{20, -1, 0, 7, 2, 3, "3.0/s  0 failed  7 canceled  2 waiting to retry"},
	} {
		if got := progressStats(tc.done, tc.total, tc.failed, tc.canceled, tc.waiting, tc.rate); got != tc.want {
			t.Errorf("progressStats(%d, %d, %d, %d, %d, %v) = %q, want %q", tc.done, tc.total, tc.failed, tc.canceled, tc.waiting, tc.rate, got, tc.want)
		}
	}
	pr := &Progress{}
	pr.total.Store(10)
	pr.done.Store(3)
	if got := pr.counts(); got != "3/10" {
		t.Errorf("counts = %q, want 3/10", got)
	}
	pr.total.Store(-1)
	if got := pr.counts(); got != "3" {
		t.Errorf("counts with unknown total = %q, want 3", got)
	}
}

// TestProgressSkip: a duplicate skipped leaves the total and is not done;
// an unknown total stays unknown.
func TestProgressSkip(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		total, skip, add int64
		want             string
	}{
		{17, 1, 16, "16/16"},
		{17, 3, 2, "2/14"},
		{-1, 5, 2, "2"},
	} {
		pr := newProgress(io.Discard, c.total, false)
		pr.Skip(c.skip)
		for range c.add {
			pr.Add(&fetch.Result{Status: 200})
		}
		if got := pr.counts(); got != c.want {
			t.Errorf("total %d, %d skipped, %d done: counts %q, want %q", c.total, c.skip, c.add, got, c.want)
		}
		pr.Stop()
	}
}

// TestRateMeter: the bar's rate is over the last rateWindow, so that a
// run that slowed down shows its rate now and an ETA from it, not the
// average of its fast start.
func TestRateMeter(t *testing.T) {
	t.Parallel()
	var m rateMeter
	t0 := time.Unix(1000, 0)
	m.add(t0, 0)
	if r := m.add(t0.Add(progressTick), 10); math.Abs(r-100) > 1e-9 {
		t.Errorf("after one tick: %v/s, want 100 (the run so far)", r)
	}
	// 100/s for a minute, then 10/s for 20 s.
	done, at := int64(10), t0.Add(progressTick)
	var r float64
	for range int(time.Minute/progressTick) - 1 {
		at, done = at.Add(progressTick), done+10
		r = m.add(at, done)
	}
	if math.Abs(r-100) > 1e-9 {
		t.Errorf("steady: %v/s, want 100", r)
	}
	for range int(20 * time.Second / progressTick) {
		at, done = at.Add(progressTick), done+1
		r = m.add(at, done)
	}
	if math.Abs(r-10) > 1e-9 {
		t.Errorf("slowed down for twice the window: %v/s, want 10 (the average would say %.0f)", r, float64(done)/at.Sub(t0).Seconds())
	}
}

// TestProgressCountsFailedAsTheSummary: the bar's failed count is the
// summary's, by the run's --accept (a 404 fails by default, not with
// 200..=404), except that the targets Ctrl-C cancels count as canceled
// only: neither as done (they were not fetched: an interrupted run's bar
// filled to 100%) nor as a burst of failures in the bar's last frames.
func TestProgressCountsFailedAsTheSummary(t *testing.T) {
	wide, err := ParseAccept("200..=404")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		accept *Accept
		want   int64
	}{{nil, 3}, {&wide, 2}} {
		pr := NewProgress(io.Discard, 6)
		if c.accept != nil {
			pr.Judge(*c.accept)
		}
		for _, r := range []*fetch.Result{
			{Status: 200}, {Status: 404}, {Status: 500},
			{Error: &fetch.Error{Kind: fetch.KindTimeout}},
			{Error: &fetch.Error{Kind: fetch.KindCanceled}}, {Error: &fetch.Error{Kind: fetch.KindCanceled}},
		} {
			pr.Add(r)
		}
		pr.Stop()
		if pr.done.Load() != 4 || pr.failed.Load() != c.want || pr.canceled.Load() != 2 {
			t.Errorf("accept %v: counted %d done, %d failed, %d canceled; want 4, %d, 2",
				c.accept, pr.done.Load(), pr.failed.Load(), pr.canceled.Load(), c.want)
		}
	}
}
