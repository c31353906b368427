package output

import (
	"io"
	"math"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"

	"github.com/fanout/fanout/fetch"
	"github.com/fanout/fanout/internal/humantime"
)

// progressTick is how often the bar's count is brought up to date. Add only
// bumps atomic counters, so a fast run does not pay a channel round trip
// into mpb per result.
const progressTick = 100 * time.Millisecond

// Progress shows done/total, the recent rate, failed and ETA on a terminal. It draws
// nothing unless its writer is a terminal. Add is safe for concurrent use.
//
// Done counts targets fetched, never those Ctrl-C canceled before or while
// they were fetched: those are shown apart, and an interrupted run's bar
// stops where its fetched count stands. The total loses the duplicates
// dropped (Skip), so that both end where the summary's count of results
// does.
type Progress struct {
	total    atomic.Int64 // < 0: unknown
	start    time.Time
	done     atomic.Int64
	failed   atomic.Int64  // not accepted, as the summary counts them (the canceled apart)
	canceled atomic.Int64  // results of kind canceled: not fetched, not in done
	accept   Accept        // set by Judge before the first Add
	rate     atomic.Uint64 // float64 bits: results a second over the last rateWindow (sync)
	// waiting, once set, counts the targets waiting to be retried.
	waiting atomic.Pointer[func() int64]

	p    *mpb.Progress // nil when not drawing
	bar  *mpb.Bar
	quit chan struct{}
	wg   sync.WaitGroup
	once sync.Once

	// bypassMu orders Bypass writes against Stop: writes hold it shared,
	// Stop exclusively, so after Stop every write goes straight through.
	bypassMu sync.RWMutex
	stopped  bool
}

// NewProgress starts a progress display on w for total results (total < 0
// when unknown). When w is not a terminal it draws nothing at all: progress
// bars written into a pipe or a file only make a mess of it.
func NewProgress(w io.Writer, total int64) *Progress {
	return newProgress(w, total, isTerminal(w))
}

// plainWriter hides that a writer is a terminal (an *os.File) from mpb.
type plainWriter struct{ w io.Writer }

func (p plainWriter) Write(b []byte) (int, error) { return p.w.Write(b) }

// isTerminal reports whether w is a terminal. Only an *os.File counts:
// mpb recognises nothing else as a terminal, and a Progress that believed
// otherwise would hand Bypass writes to an mpb that never prints them.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok || f == nil {
		return false
	}
	return isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd())
}

// newProgress builds a Progress; draw false makes it count without drawing.
// Tests call it with draw true on a non-terminal to check mpb's own guard.
func newProgress(w io.Writer, total int64, draw bool) *Progress {
	pr := &Progress{start: time.Now(), quit: make(chan struct{})}
	pr.total.Store(total)
	if !draw {
		return pr
	}
	copts := []mpb.ContainerOption{mpb.WithOutput(w), mpb.WithRefreshRate(150 * time.Millisecond)}
	if f, ok := w.(*os.File); ok && termWidth(f) == 0 {
		// A terminal of no size (docker -t, some CI runners): mpb would
		// draw a bar 0 columns wide, i.e. only its cursor moves. Drawn as
		// for a pipe, at 80 columns, the bar shows.
		copts = []mpb.ContainerOption{mpb.WithOutput(plainWriter{w}), mpb.WithAutoRefresh(),
			mpb.WithWidth(80), mpb.WithRefreshRate(150 * time.Millisecond)}
	}
	pr.p = mpb.New(copts...)
	// The decorators carry the spaces around the bar themselves: mpb's own
	// go when the terminal has no room left for the bar, and the counts
	// would run into the rate ("523456/1000000900000/s").
	opts := []mpb.BarOption{
		mpb.BarRemoveOnComplete(),
		mpb.BarFillerTrim(),
		mpb.PrependDecorators(decor.Any(func(decor.Statistics) string { return pr.counts() + " " })),
		mpb.AppendDecorators(decor.Any(func(decor.Statistics) string { return " " + pr.stats() })),
	}
	if total > 0 {
		pr.bar = pr.p.New(total, mpb.BarStyle(), opts...)
	} else {
		// An unknown total has nothing to fill: a spinner shows life.
		pr.bar = pr.p.New(0, mpb.SpinnerStyle(), opts...)
	}
	pr.wg.Add(1)
	go pr.sync()
	return pr
}

// sync copies the done count into the bar, and measures the recent rate,
// until Stop.
func (pr *Progress) sync() {
	defer pr.wg.Done()
	t := time.NewTicker(progressTick)
	defer t.Stop()
	var m rateMeter
	m.add(pr.start, 0)
	shown := pr.total.Load()
	for {
		select {
		case now := <-t.C:
			if total := pr.total.Load(); total != shown && total > 0 {
				shown = total
				pr.bar.SetTotal(total, false)
			}
			done := pr.done.Load()
			pr.bar.SetCurrent(done)
			pr.rate.Store(math.Float64bits(m.add(now, done)))
		case <-pr.quit:
			return
		}
	}
}

// rateWindow is how far back the bar's rate looks: the rate of a whole run
// gave an ETA that a slow tail (the last targets on slow hosts, retries
// waiting out a Retry-After) overran by minutes, and a rate that had
// fallen to nothing still read as the run's average.
const rateWindow = 10 * time.Second

// rateMeter keeps the done count of the last rateWindow, a sample per
// progressTick, and gives the rate over it.
type rateMeter struct {
	ring [int(rateWindow/progressTick) + 1]rateSample
	n    int // samples added
}

type rateSample struct {
	at   time.Time
	done int64
}

// add records done at now and returns the rate since the oldest sample
// kept: the last rateWindow, or the whole run while it is shorter.
func (m *rateMeter) add(now time.Time, done int64) float64 {
	m.ring[m.n%len(m.ring)] = rateSample{now, done}
	m.n++
	oldest := m.ring[0]
	if m.n > len(m.ring) {
		oldest = m.ring[m.n%len(m.ring)]
	}
	dt := now.Sub(oldest.at).Seconds()
	if dt <= 0 {
		return 0
	}
	return float64(done-oldest.done) / dt
}

// Skip takes n input lines that get no result of their own (duplicates
// of earlier lines) out of the total, which counted every line: counted
// as done instead, a list with a duplicate ended at 17/17 beside a
// summary of 16 results. An unknown total stays unknown.
func (pr *Progress) Skip(n int64) {
	for {
		t := pr.total.Load()
		if t < 0 || pr.total.CompareAndSwap(t, max(t-n, 0)) {
			return
		}
	}
}

// Judge makes the bar count as failed what a does not accept, as the
// summary does (the zero Accept, the default, until it is called). Call
// it before the first Add.
func (pr *Progress) Judge(a Accept) { pr.accept = a }

// Add counts one finished result; a result not accepted counts as failed.
// A canceled one (Ctrl-C: drained unfetched, or cut off in flight) counts
// only as canceled: as done, it filled an interrupted run's bar to 100%
// with most targets never fetched, and as failed it was a burst of
// failures in the bar's last frames.
func (pr *Progress) Add(r *fetch.Result) {
	if r.Error != nil && r.Error.Kind == fetch.KindCanceled {
		pr.canceled.Add(1)
		return
	}
	pr.done.Add(1)
	if !pr.accept.OK(r) {
		pr.failed.Add(1)
	}
}

// Waiting tells the bar how many targets wait to be retried (a backoff, a
// server's Retry-After); it shows them beside the failed count, so that a run
// whose last targets wait out a Retry-After of 30 s does not look hung.
// n is called at each redraw and must be safe for concurrent use; a nil n
// shows no count (as before the first call).
func (pr *Progress) Waiting(n func() int64) {
	if n == nil {
		// Stored, it was called at the next redraw, on mpb's goroutine,
		// where its panic ended the program.
		pr.waiting.Store(nil)
		return
	}
	pr.waiting.Store(&n)
}

// Stop removes the bar and waits until mpb has finished drawing, so that
// whatever is printed next starts on a clean line. It may be called more
// than once.
func (pr *Progress) Stop() {
	pr.once.Do(func() {
		pr.bypassMu.Lock()
		pr.stopped = true
		pr.bypassMu.Unlock()
		close(pr.quit)
		pr.wg.Wait()
		if pr.p == nil {
			return
		}
		done := pr.done.Load()
		if total := pr.total.Load(); total > 0 && done < total {
			pr.bar.Abort(true) // stopped early: drop the bar rather than fill it
		} else {
			// The sync tick may not have brought the bar up to date yet
			// (a run shorter than it): its last frame would show the
			// final count beside a stale fill.
			pr.bar.SetCurrent(done)
			pr.bar.SetTotal(-1, true) // complete at the current count
		}
		pr.p.Wait()
	})
}

// Bypass returns a writer for other output bound for the same terminal,
// such as text results when stdout and stderr are one tty. While the bar is
// drawn, what is written appears above the bar at its next refresh, so the
// bar's redraws never tear it; when nothing is drawn, and after Stop, it
// writes to w directly. Give it whole lines.
func (pr *Progress) Bypass(w io.Writer) io.Writer {
	if pr.p == nil {
		return w
	}
	return &bypassWriter{pr: pr, w: w}
}

type bypassWriter struct {
	pr *Progress
	w  io.Writer
}

func (b *bypassWriter) Write(p []byte) (int, error) {
	b.pr.bypassMu.RLock()
	defer b.pr.bypassMu.RUnlock()
	if b.pr.stopped {
		return b.w.Write(p)
	}
	// mpb buffers p and prints it above the bar on its next refresh.
	return b.pr.p.Write(p)
}

// counts renders "done/total" or "done" when the total is unknown.
func (pr *Progress) counts() string {
	b := strconv.AppendInt(nil, pr.done.Load(), 10)
	if total := pr.total.Load(); total >= 0 {
		b = append(b, '/')
		b = strconv.AppendInt(b, total, 10)
	}
	return string(b)
}

// stats renders the rate, failed and waiting counts, and ETA.
func (pr *Progress) stats() string {
	var waiting int64
	if n := pr.waiting.Load(); n != nil {
		waiting = (*n)()
	}
	return progressStats(pr.done.Load(), pr.total.Load(), pr.failed.Load(), pr.canceled.Load(), waiting,
		math.Float64frombits(pr.rate.Load()))
}

// etaRetryFloor is the shortest ETA shown while targets wait to retry.
// The bar does not know when they are due (a back-off of up to 10 s, a
// Retry-After of up to --max-retry-wait, 30 s), and the rate says nothing
// of it: the last target waiting out a Retry-After of 3 s after a fast
// run showed "ETA 6.8ms" for those 3 s. An estimate of a minute or more
// is dominated by the targets still to fetch, and is kept.
const etaRetryFloor = time.Minute

// progressStats renders the stats from the recent rate:
// "850/s  12 failed  3 waiting to retry  ETA 1m10s", or
// "850/s  12 failed  90 canceled" once Ctrl-C canceled targets. The
// canceled and waiting counts are left out when there are none, the ETA
// when the total is unknown, the rate is nil, targets were canceled
// (the run was interrupted: the rest never comes), or targets wait to
// retry and it would be under etaRetryFloor.
func progressStats(done, total, failed, canceled, waiting int64, rate float64) string {
	b := []byte(formatRate(rate))
	b = append(b, "/s  "...)
	b = strconv.AppendInt(b, failed, 10)
	b = append(b, " failed"...)
	if canceled > 0 {
		b = append(b, "  "...)
		b = strconv.AppendInt(b, canceled, 10)
		b = append(b, " canceled"...)
	}
	if waiting > 0 {
		b = append(b, "  "...)
		b = strconv.AppendInt(b, waiting, 10)
		b = append(b, " waiting to retry"...)
	}
	if total >= 0 && rate > 0 && canceled == 0 {
		left := max(total-done, 0)
		eta := time.Duration(float64(left) / rate * float64(time.Second))
		if waiting == 0 || eta >= etaRetryFloor {
			b = append(b, "  ETA "...)
			b = humantime.AppendMillis(b, float64(eta)/float64(time.Millisecond))
		}
	}
	return string(b)
}
