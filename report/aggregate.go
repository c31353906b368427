package report

import (
	"container/heap"
	"math"
	"slices"
	"strings"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/fanout/fanout/fetch"
	"github.com/fanout/fanout/output"
)

// samplesPerKind is how many distinct error messages are kept per kind.
const samplesPerKind = 3

// maxText caps the length, in bytes, of any string kept from a result: a
// hostile title or URL must not make the report large.
const maxText = 300

// Aggregator accumulates results for a report in bounded memory. It keeps
// no reference to the results it is given. It is not safe for concurrent
// use. The zero Aggregator is ready to use, as NewAggregator(Options{}).
type Aggregator struct {
	opts Options

	total, accepted, withError, bytes int64
	truncated                         int64 // bodies cut at --max-body
	first, last                       time.Time

	classes  [7]int64
	kinds    [numKinds]int64
	samples  [numKinds][]string
	statuses map[int]int64

	latency      *hdrhistogram.Histogram
	sumMs        float64
	minMs, maxMs float64 // exact: the histogram rounds, and stops at an hour

	slow  slowHeap
	hosts map[string]*hostAgg
	other hostAgg // hosts beyond opts.MaxHosts
}

// NewAggregator returns an empty aggregator.
func NewAggregator(opts Options) *Aggregator {
	a := &Aggregator{opts: opts}
	a.init()
	return a
}

// init makes what NewAggregator makes, once: a zero Aggregator has none
// of it, and a Go programmer expects `var a Aggregator` to work.
func (a *Aggregator) init() {
	if a.statuses != nil {
		return
	}
	a.opts = a.opts.withDefaults()
	a.statuses = make(map[int]int64)
	a.latency = output.NewLatencyHistogram()
	a.hosts = make(map[string]*hostAgg)
}

// Add counts one result.
func (a *Aggregator) Add(r *fetch.Result) {
	a.init()
	a.total++
	ok := a.opts.Accept.OK(r)
	if ok {
		a.accepted++
	}
	// Bytes read are never negative, and their sum stops at the largest
	// int64 rather than wrapping: a hand-edited file can hold anything.
	nb := max(r.Bytes, 0)
	a.bytes = addSat(a.bytes, nb)
	if r.Truncated {
		a.truncated++
	}
	class := output.StatusClass(r.Status)
	a.classes[class]++
	if len(a.statuses) < 1000 || a.statuses[r.Status] > 0 {
		// Statuses are numbers, but a results file could hold any int;
		// past 1000 distinct codes new ones are not listed.
		a.statuses[r.Status]++
	}
	kind := -1
	if r.Error != nil {
		a.withError++
		kind = kindIndex(r.Error.Kind)
		a.kinds[kind]++
		a.sample(kind, r.Error.Message)
	}
	ms := r.Timing.Total
	if math.IsNaN(ms) || math.IsInf(ms, 0) || ms < 0 {
		ms = 0
	}
	if !r.StartedAt.IsZero() {
		end := r.StartedAt.Add(time.Duration(ms * float64(time.Millisecond)))
		if a.first.IsZero() || r.StartedAt.Before(a.first) {
			a.first = r.StartedAt
		}
		if end.After(a.last) {
			a.last = end
		}
	}
	if ms > 0 {
		output.RecordLatency(a.latency, ms)
		a.sumMs += ms
		if a.minMs == 0 || ms < a.minMs {
			a.minMs = ms
		}
		a.maxMs = max(a.maxMs, ms)
		a.slow.offer(a.opts.TopN, r, ms)
	}
	a.host(r).add(ok, class, kind, nb, ms)
}

// addSat returns a+b for b >= 0, or the largest int64 if that overflows.
func addSat(a, b int64) int64 {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

// sample keeps the first few distinct messages of an error kind.
func (a *Aggregator) sample(kind int, msg string) {
	s := a.samples[kind]
	if len(s) >= samplesPerKind {
		return
	}
	msg = clean(msg)
	for _, m := range s {
		if m == msg {
			return
		}
	}
	a.samples[kind] = append(s, msg)
}

// host returns the counters for r's host, or the "other hosts" counters
// once MaxHosts distinct hosts are tracked.
func (a *Aggregator) host(r *fetch.Result) *hostAgg {
	h := hostOf(r)
	if ha, ok := a.hosts[h]; ok {
		return ha
	}
	if len(a.hosts) >= a.opts.MaxHosts {
		return &a.other
	}
	ha := &hostAgg{}
	a.hosts[strings.Clone(h)] = ha
	return ha
}

var classLabels = [7]string{"no response", "1xx", "2xx", "3xx", "4xx", "5xx", "other"}

const numKinds = 14 // len(fetch.Kinds); TestNumKinds holds it to that

// kinds is fetch.Kinds as fetch made it: a caller's change to the exported
// slice must not move the report's counts to other kinds' names.
var kinds = slices.Clone(fetch.Kinds)

// kindIndex maps a kind to its position in kinds; a kind fanout does
// not know (from a hand-edited file) counts as "other".
func kindIndex(k fetch.ErrorKind) int {
	for i, kk := range kinds {
		if kk == k {
			return i
		}
	}
	return kindIndex(fetch.KindOther)
}

// invalidInput is the host results without one (invalid input lines) are
// listed under; it is not a host, and HostsSeen does not count it.
const invalidInput = "(invalid input)"

// hostOf returns the lower-cased host[:port] of a result's URL, without
// parsing the whole URL: this runs once per result. A result with no URL
// (an invalid input line) is counted under invalidInput.
func hostOf(r *fetch.Result) string {
	u := r.URL
	i := strings.Index(u, "://")
	if i < 0 {
		return invalidInput
	}
	u = u[i+3:]
	if j := strings.IndexAny(u, "/?#"); j >= 0 {
		u = u[:j]
	}
	if j := strings.LastIndexByte(u, '@'); j >= 0 {
		u = u[j+1:]
	}
	if u == "" {
		return invalidInput
	}
	if len(u) > maxText {
		u = u[:maxText]
	}
	for k := 0; k < len(u); k++ {
		if c := u[k]; c >= 'A' && c <= 'Z' {
			return strings.ToLower(u)
		}
	}
	return u
}

// slowHeap is a min-heap on total time holding the slowest targets seen.
type slowHeap []Target

func (h slowHeap) Len() int           { return len(h) }
func (h slowHeap) Less(i, j int) bool { return h[i].Timing.Total < h[j].Timing.Total }
func (h slowHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *slowHeap) Push(x any)        { *h = append(*h, x.(Target)) }
func (h *slowHeap) Pop() any {
	old := *h
	t := old[len(old)-1]
	*h = old[:len(old)-1]
	return t
}

// target is what the slowest list shows of r, which took ms.
func target(r *fetch.Result, ms float64) Target {
	t := Target{
		URL:      clean(output.HideUserinfo(r.URL)),
		FinalURL: clean(output.HideUserinfo(r.FinalURL)),
		Host:     clean(hostOf(r)),
		Status:   r.Status,
		Title:    clean(r.Title),
		Attempts: r.Attempts,
		Timing:   r.Timing,
		seq:      r.Seq,
	}
	t.Timing.Total = ms
	if r.Error != nil {
		t.Kind = kinds[kindIndex(r.Error.Kind)]
	}
	return t
}

// detail rebuilds each kept target from its full result in full (matched
// by Seq), keeping the total it was ranked by; a target full lacks keeps
// what the lean result gave.
func (h slowHeap) detail(full []*fetch.Result) {
	bySeq := make(map[uint64]*fetch.Result, len(full))
	for _, r := range full {
		bySeq[r.Seq] = r
	}
	for i, t := range h {
		if r := bySeq[t.seq]; r != nil {
			h[i] = target(r, t.Timing.Total)
		}
	}
}

// offer keeps r if it is among the n slowest so far. Strings are copied
// (and cleaned) only for results that are kept.
func (h *slowHeap) offer(n int, r *fetch.Result, ms float64) {
	if len(*h) >= n && ms <= (*h)[0].Timing.Total {
		return
	}
	t := target(r, ms)
	if len(*h) < n {
		heap.Push(h, t)
		return
	}
	(*h)[0] = t
	heap.Fix(h, 0)
}
