package output

import (
	"bytes"
	"cmp"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/fanout/fanout/fetch"
	"github.com/fanout/fanout/internal/humantime"
)

// Latency histogram bounds in microseconds: 1 µs to one hour at three
// significant digits. Longer requests are recorded as one hour.
const (
	histMinMicros = 1
	histMaxMicros = int64(time.Hour / time.Microsecond)
	histDigits    = 3
)

// NewLatencyHistogram returns the histogram fanout's summaries and reports
// keep latencies in: microseconds from 1 µs to one hour, three significant
// digits (about 140 KB, whatever the number of results).
func NewLatencyHistogram() *hdrhistogram.Histogram {
	return hdrhistogram.New(histMinMicros, histMaxMicros, histDigits)
}

// RecordLatency records ms milliseconds into h, clamped to its range.
func RecordLatency(h *hdrhistogram.Histogram, ms float64) {
	// Clamp before converting: a float past int64's range (an absurd
	// total from a hand-edited file) converts to the smallest int64 and
	// would be recorded as the fastest time there is.
	us := ms * 1000
	switch {
	case !(us >= histMinMicros): // and NaN
		us = histMinMicros
	case us > float64(histMaxMicros):
		us = float64(histMaxMicros)
	}
	_ = h.RecordValue(int64(math.Round(us))) // in range by the clamp
}

// Summary accumulates results for the end-of-run report. Its memory is
// fixed: counters, one HdrHistogram and the first few failed targets,
// whatever the number of results. It is safe for concurrent use. The zero
// Summary is ready to use and judges success with DefaultAccept, as
// NewSummary(Accept{}) does.
type Summary struct {
	accept Accept

	mu         sync.Mutex
	total      int64
	accepted   int64
	classes    [7]int64 // 0: no response, 1..5: 1xx..5xx, 6: other
	kinds      map[fetch.ErrorKind]int64
	bytes      int64
	truncated  int64   // bodies cut at --max-body (Result.Truncated)
	sumMillis  float64 // sum of Timing.Total over all results
	maxMillis  float64
	latency    *hdrhistogram.Histogram
	duplicates uint64
	dupsKnown  bool        // SetDuplicates was called: collect's summary has no input to count
	retried    int64       // results of targets that took more than one attempt
	retries    int64       // attempts beyond the first, over all results
	first      time.Time   // the earliest StartedAt of a result with a latency
	last       time.Time   // the latest StartedAt + Timing.Total
	failures   []failure   // the first listedFailures failed targets, Ctrl-C's canceled apart
	skipped    []hostCount // the first listedFailures hosts with skipped targets (--max-host-errors)
}

// hostCount is a host and how many of its targets were skipped.
type hostCount struct {
	host string
	n    int64
}

// listedFailures is how many failed targets the summary names: enough to
// start on from a CI log without searching the output, few enough to keep
// it a summary.
const listedFailures = 5

// maxListedInput caps a listed target's input, in bytes.
const maxListedInput = 200

// failure is a failed target as the summary lists it.
type failure struct {
	status int
	kind   fetch.ErrorKind // "" when --accept refused the status
	input  string
}

// why is the failure's reason as the text summary shows it: the error
// kind, or the status that --accept refused.
func (f failure) why() string {
	if f.kind != "" {
		return string(f.kind)
	}
	return strconv.Itoa(f.status)
}

// NewSummary returns an empty summary that judges success with a.
func NewSummary(a Accept) *Summary {
	s := &Summary{accept: a}
	s.ready()
	return s
}

// kinds is fetch.Kinds as fetch made it, the order of the summary's
// "errors" line: a caller's change to the exported slice must not hide a
// kind's count (fetch says the packages using it keep their own copy).
var kinds = slices.Clone(fetch.Kinds)

// ready makes the map and histogram a zero Summary lacks; s.mu is held, or s
// is not shared yet.
func (s *Summary) ready() {
	if s.latency == nil {
		s.kinds = make(map[fetch.ErrorKind]int64, len(kinds))
		s.latency = NewLatencyHistogram()
	}
}

// Add counts one result. Its latency (Timing.Total) enters the percentiles
// only when it is positive: a target that was never requested, such as an
// invalid URL, has no latency to report.
func (s *Summary) Add(r *fetch.Result) {
	ok := s.accept.OK(r)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ready()
	s.total++
	if ok {
		s.accepted++
	}
	s.classes[StatusClass(r.Status)]++
	if r.Error != nil {
		s.kinds[r.Error.Kind]++
		if r.Error.Kind == fetch.KindSkipped {
			s.countSkipped(r)
		}
	}
	if !ok && s.listsLocked(r) {
		s.failures = append(s.failures, newFailure(r))
	}
	if r.Attempts > 1 {
		s.retried++
		s.retries += int64(r.Attempts) - 1
	}
	s.bytes += r.Bytes
	if r.Truncated {
		s.truncated++
	}
	if ms := r.Timing.Total; ms > 0 && !math.IsInf(ms, 0) {
		s.sumMillis += ms
		s.maxMillis = max(s.maxMillis, ms)
		RecordLatency(s.latency, ms)
		if !r.StartedAt.IsZero() && ms < 1e12 { // about 30 years: beyond, the time would overflow
			end := r.StartedAt.Add(time.Duration(ms * float64(time.Millisecond)))
			if s.first.IsZero() || r.StartedAt.Before(s.first) {
				s.first = r.StartedAt
			}
			if end.After(s.last) {
				s.last = end
			}
		}
	}
}

// countSkipped counts skipped r under its host, for the first hosts: the
// summary names them (a scan of many hosts said only "N skipped"). A
// result without its URL (collect's raw path) is counted, not named.
func (s *Summary) countSkipped(r *fetch.Result) {
	if r.URL == "" {
		return
	}
	host := fetch.HostKeyOf(r.URL)
	if len(r.Redirects) > 0 && r.Location != "" {
		host = fetch.HostKeyOf(r.Location) // a redirect into a skipped host, not followed
	}
	for i := range s.skipped {
		if s.skipped[i].host == host {
			s.skipped[i].n++
			return
		}
	}
	if len(s.skipped) < listedFailures {
		s.skipped = append(s.skipped, hostCount{host, 1})
	}
}

// Lists reports whether Add would name r among the failed targets: a
// caller that decodes results lazily (collect's raw path) fills Input
// only then.
func (s *Summary) Lists(r *fetch.Result) bool {
	if s.accept.OK(r) {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.listsLocked(r)
}

// listsLocked is Lists for a result not accepted, with s.mu held: Ctrl-C's
// canceled targets and the skipped ones are not named (they were never
// fetched, or only up to a redirect into a skipped host; the failures that
// led to a skip are).
func (s *Summary) listsLocked(r *fetch.Result) bool {
	return len(s.failures) < listedFailures &&
		(r.Error == nil || r.Error.Kind != fetch.KindCanceled && r.Error.Kind != fetch.KindSkipped)
}

// newFailure describes failed result r, its input without credentials
// (the summary often lands in a CI log) and cut to maxListedInput bytes
// (between characters, marked with …).
func newFailure(r *fetch.Result) failure {
	f := failure{status: r.Status, input: HideUserinfo(cmp.Or(r.Input, r.URL))}
	if r.Error != nil {
		f.kind = r.Error.Kind
	}
	if len(f.input) > maxListedInput {
		n := maxListedInput
		for n > 0 && !utf8.RuneStart(f.input[n]) {
			n--
		}
		f.input = f.input[:n] + "…"
	}
	return f
}

// Bounds returns the earliest request's start and the latest one's end
// among the results added, zero when none was attempted: Span's ends.
func (s *Summary) Bounds() (first, last time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.first, s.last
}

// Span returns the time from the start of the earliest request counted to
// the end of the latest: the wall time of the run the results came from,
// for a caller that did not watch it run (collect reads the results of a
// run that may have ended long before). It is 0 with no request counted.
func (s *Summary) Span() time.Duration {
	first, last := s.Bounds()
	if first.IsZero() {
		return 0
	}
	return last.Sub(first)
}

// StatusClass maps a status to its counter: 0 for no response, 1..5 for
// 1xx..5xx, 6 for anything else. The summary and the HTML report count
// classes with it.
func StatusClass(status int) int {
	switch {
	case status == 0:
		return 0
	case status >= 100 && status <= 599:
		return status / 100
	}
	return 6
}

// SetDuplicates records how many input lines were dropped as duplicates.
// Without it the summary has no duplicates line: a summary of results
// that came from elsewhere (collect: submit dropped the duplicates, and
// said how many) would claim 0.
func (s *Summary) SetDuplicates(n uint64) {
	s.mu.Lock()
	s.duplicates, s.dupsKnown = n, true
	s.mu.Unlock()
}

// Failed returns the number of results not accepted.
func (s *Summary) Failed() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.total - s.accepted
}

// Total returns the number of results added.
func (s *Summary) Total() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.total
}

// Percentile returns the latency at percentile p (0..100) from the
// histogram, within its three significant digits; 0 when nothing was
// recorded.
func (s *Summary) Percentile(p float64) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ready()
	return time.Duration(s.latency.ValueAtPercentile(p)) * time.Microsecond
}

// Write prints the summary: results accepted and failed, counts per status
// class and per error kind, the first failed targets (why, and their
// input), the retries made (when there were any), latency percentiles,
// bytes, wall time, the sum of request times and the speedup concurrency
// gave, the rate of the requests made (results with a latency) and the
// duplicate input lines dropped. wall is the run's elapsed time.
func (s *Summary) Write(w io.Writer, wall time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ready()
	var b bytes.Buffer
	line := func(label, format string, args ...any) {
		fmt.Fprintf(&b, "%-13s ", label)
		fmt.Fprintf(&b, format, args...)
		b.WriteByte('\n')
	}

	canceled := ""
	if n := s.kinds[fetch.KindCanceled]; n > 0 {
		// After Ctrl-C or a closed pipe most of the failed may never have
		// been fetched: the headline says so, rather than leave it to a
		// line further down. "failed" keeps its meaning (--summary-json's
		// failed, the exit status): the canceled are among them.
		canceled = fmt.Sprintf(" (%d of them canceled)", n)
	}
	line("results", "%d total, %d accepted, %d failed%s", s.total, s.accepted, s.total-s.accepted, canceled)

	st := []byte{}
	for c := 1; c <= 5; c++ {
		st = fmt.Appendf(st, "%dxx %d  ", c, s.classes[c])
	}
	if s.classes[6] > 0 {
		st = fmt.Appendf(st, "other %d  ", s.classes[6])
	}
	st = fmt.Appendf(st, "no response %d", s.classes[0])
	line("status", "%s", st)

	var errs []byte
	for _, k := range kinds {
		if n := s.kinds[k]; n > 0 {
			if len(errs) > 0 {
				errs = append(errs, "  "...)
			}
			errs = fmt.Appendf(errs, "%s %d", k, n)
		}
	}
	if len(errs) == 0 {
		errs = append(errs, "none"...)
	}
	line("errors", "%s", errs)
	if n := s.kinds[fetch.KindLocal]; n > 0 {
		line("", "%d failed for want of this machine's resources (open files, ports, a local address): lower -c, or raise ulimit -n", n)
	}
	if n := s.kinds[fetch.KindSkipped]; n > 0 {
		line("", "%d skipped: their hosts had failed too many attempts in a row, or asked to be left alone longer than --max-retry-wait (--max-host-errors; 0 never skips)", n)
		if len(s.skipped) > 0 {
			var named int64
			hosts := make([]string, 0, len(s.skipped)+1)
			for _, h := range s.skipped {
				hosts = append(hosts, fmt.Sprintf("%s %d", Escape(h.host), h.n))
				named += h.n
			}
			if n > named {
				hosts = append(hosts, fmt.Sprintf("others %d", n-named))
			}
			line("", "skipped hosts: %s", strings.Join(hosts, ", "))
		}
	}
	for i, f := range s.failures {
		label := ""
		if i == 0 {
			label = "failed"
		}
		line(label, "%-15s %s", f.why(), Escape(f.input))
	}
	if more := s.total - s.accepted - int64(len(s.failures)); more > 0 && len(s.failures) > 0 {
		// Never listed, so all among the more.
		var of []string
		if n := s.kinds[fetch.KindCanceled]; n > 0 {
			of = append(of, fmt.Sprintf("%d canceled", n))
		}
		if n := s.kinds[fetch.KindSkipped]; n > 0 {
			of = append(of, fmt.Sprintf("%d skipped", n))
		}
		if len(of) > 0 {
			first, rest, _ := strings.Cut(strings.Join(of, ", "), " ")
			line("", "and %d more (%s of them %s)", more, first, rest)
		} else {
			line("", "and %d more", more)
		}
	}

	if s.retried > 0 {
		// Even when every target ends accepted: many retries are a flaky
		// deploy or an overloaded host that the statuses alone hide.
		noun := "targets"
		if s.retried == 1 {
			noun = "target"
		}
		line("retries", "%d (%d %s took more than one attempt)", s.retries, s.retried, noun)
	}

	if s.latency.TotalCount() == 0 {
		line("latency", "-")
	} else {
		pct := s.percentilesLocked()
		line("latency", "p50 %s  p90 %s  p99 %s  max %s",
			micros(pct[0]), micros(pct[1]), micros(pct[2]),
			humantime.AppendMillis(nil, s.maxMillis))
	}

	line("bytes", "%s", appendBytes(nil, s.bytes))
	if s.truncated > 0 {
		// Else a cut body passes for a whole one: its bytes, title and
		// body_sha256 are of the part read.
		noun := "bodies"
		if s.truncated == 1 {
			noun = "body"
		}
		line("truncated", "%d %s cut at --max-body (bytes and body_sha256 count the part read)", s.truncated, noun)
	}
	line("wall time", "%s", humantime.Duration(wall))
	sum := time.Duration(s.sumMillis * float64(time.Millisecond))
	// A result holds its last attempt's timing only: after retries the
	// sum is not all the time spent, and the line must not pass for it.
	of := ""
	if s.retries > 0 {
		of = " (last attempts)"
	}
	if wall > 0 {
		line("request time", "%s summed%s, %.1fx speedup", humantime.Duration(sum), of, float64(sum)/float64(wall))
		// Requests, not results: targets never requested (invalid, or
		// canceled by Ctrl-C before their turn) have no latency and would
		// inflate the rate of an interrupted run many times over.
		line("rate", "%s requests/s", formatRate(float64(s.latency.TotalCount())/wall.Seconds()))
	} else {
		line("request time", "%s summed%s", humantime.Duration(sum), of)
		line("rate", "-")
	}
	// Not "skipped": that is the kind of the targets of failing hosts.
	if s.dupsKnown {
		line("duplicates", "%d dropped from the input", s.duplicates)
	}

	_, err := w.Write(b.Bytes())
	return err
}

// percentilesLocked returns p50, p90 and p99 in microseconds; s.mu is
// held and some latency recorded.
func (s *Summary) percentilesLocked() []int64 {
	pct := s.latency.ValueAtPercentilesSlice([]float64{50, 90, 99})
	// The histogram gives the top of a value's bucket (within its three
	// digits), which can lie above the slowest request: a percentile is
	// never more than the max shown beside it.
	top := math.Round(s.maxMillis * 1000)
	for i, us := range pct {
		if float64(us) > top {
			pct[i] = int64(top)
		}
	}
	return pct
}

// SummaryJSON is the summary for programs (--summary-json): what the text
// summary says, in numbers. Times are in milliseconds.
type SummaryJSON struct {
	Results  int64 `json:"results"`
	Accepted int64 `json:"accepted"`
	Failed   int64 `json:"failed"`
	// Status counts results by status class: "1xx" to "5xx", "other"
	// (a status outside 100..599) and "no_response".
	Status map[string]int64 `json:"status"`
	// Errors counts results by error kind; kinds that did not occur are
	// left out.
	Errors map[string]int64 `json:"errors"`
	// SkippedHosts counts the skipped targets (--max-host-errors) of the
	// first five hosts that had any, by host:port; omitted when none.
	SkippedHosts map[string]int64 `json:"skipped_hosts,omitempty"`
	// RetriedTargets counts the results that took more than one attempt,
	// and Retries the attempts beyond the first over all results.
	RetriedTargets int64 `json:"retried_targets"`
	Retries        int64 `json:"retries"`
	// FailedTargets are the first five failed targets, Ctrl-C's canceled
	// ones apart, credentials hidden; Error is their kind, or "" when the
	// status was refused by --accept.
	FailedTargets []FailedTarget `json:"failed_targets"`
	// Latency is null when no request was timed.
	Latency *LatencyJSON `json:"latency_ms"`
	Bytes   int64        `json:"bytes"`
	// Truncated counts the bodies cut at --max-body (0 when none).
	Truncated  int64   `json:"truncated"`
	WallMs     float64 `json:"wall_ms"`
	RequestMs  float64 `json:"request_ms"` // all request times summed
	Rate       float64 `json:"rate"`       // requests a second; 0 when the wall time is
	Duplicates uint64  `json:"duplicates"` // input lines dropped as duplicates of earlier ones
	// Complete is false when the run did not get to the end of its
	// targets: it was interrupted (Ctrl-C, SIGTERM), its input could not
	// be read or its results written, or (collect) it ended before every
	// submitted target had a result. A CI gate reads it with "failed".
	Complete bool `json:"complete"`
	// NotFetched counts targets read but never fetched, which have no
	// result (an interrupted run recorded with --db: a resume fetches
	// them); the canceled ones that do have a result are in Errors.
	NotFetched int64 `json:"not_fetched"`
	// WholeRun counts every session of a resumed run, which the exit
	// status follows (the fields above count this session); null for a
	// run of one session.
	WholeRun *WholeRunJSON `json:"whole_run"`
}

// WholeRunJSON is SummaryJSON's count over every session of a resumed run.
type WholeRunJSON struct {
	Results  int64 `json:"results"`
	Accepted int64 `json:"accepted"`
	Failed   int64 `json:"failed"`
}

// FailedTarget is one of SummaryJSON's failed targets.
type FailedTarget struct {
	Input  string `json:"input"`
	Status int    `json:"status"`
	Error  string `json:"error"`
}

// LatencyJSON holds SummaryJSON's latency percentiles and maximum.
type LatencyJSON struct {
	P50 float64 `json:"p50"`
	P90 float64 `json:"p90"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

// JSON returns the summary as SummaryJSON; wall is the run's elapsed time.
// Complete is true: the caller, which knows how the run ended, says
// otherwise (and sets NotFetched and WholeRun).
func (s *Summary) JSON(wall time.Duration) SummaryJSON {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ready()
	j := SummaryJSON{Results: s.total, Accepted: s.accepted, Failed: s.total - s.accepted,
		Status: map[string]int64{"no_response": s.classes[0], "other": s.classes[6]},
		Errors: map[string]int64{}, FailedTargets: []FailedTarget{},
		Bytes: s.bytes, Truncated: s.truncated, WallMs: float64(wall) / float64(time.Millisecond), RequestMs: s.sumMillis,
		RetriedTargets: s.retried, Retries: s.retries, Duplicates: s.duplicates, Complete: true}
	for c := 1; c <= 5; c++ {
		j.Status[strconv.Itoa(c)+"xx"] = s.classes[c]
	}
	for k, n := range s.kinds {
		if n > 0 {
			j.Errors[string(k)] = n
		}
	}
	for _, f := range s.failures {
		j.FailedTargets = append(j.FailedTargets, FailedTarget{Input: f.input, Status: f.status, Error: string(f.kind)})
	}
	for _, h := range s.skipped {
		if j.SkippedHosts == nil {
			j.SkippedHosts = map[string]int64{}
		}
		j.SkippedHosts[h.host] = h.n
	}
	if s.latency.TotalCount() > 0 {
		// Rounded to three digits, a percentile clamped to the max can
		// come out above it (49.1 beside 49.088): clamped again.
		p := func(us int64) float64 { return min(sig3(float64(us)/1000), s.maxMillis) }
		pct := s.percentilesLocked()
		j.Latency = &LatencyJSON{P50: p(pct[0]), P90: p(pct[1]), P99: p(pct[2]), Max: s.maxMillis}
	}
	if wall > 0 {
		j.Rate = float64(s.latency.TotalCount()) / wall.Seconds()
	}
	return j
}

// sig3 rounds v to three significant digits, the latency histogram's
// precision: its 400.127 is a bucket's top, not a measured 400.127 ms.
func sig3(v float64) float64 {
	if v == 0 || math.IsInf(v, 0) || math.IsNaN(v) {
		return v
	}
	p := math.Pow(10, 2-math.Floor(math.Log10(math.Abs(v))))
	return math.Round(v*p) / p
}

// micros formats a histogram value in microseconds like the other durations.
func micros(us int64) []byte {
	return humantime.AppendMillis(nil, float64(us)/1000)
}

// formatRate prints a rate with one decimal when small.
func formatRate(r float64) string {
	if r < 100 {
		return strconv.FormatFloat(r, 'f', 1, 64)
	}
	return strconv.FormatFloat(r, 'f', 0, 64)
}
