package report

import (
	"cmp"
	"math"
	"slices"
	"strconv"
	"time"
)

// percentilesShown are the latency percentiles a report lists.
var percentilesShown = []float64{50, 75, 90, 95, 99, 99.9}

// latencyBins is the number of bars in the latency histogram.
const latencyBins = 40

// hostsPerError is how many hosts each error group lists.
const hostsPerError = 8

// statusesShown is how many status codes the report lists.
const statusesShown = 12

// Report returns the report for what was added so far. The aggregator can
// go on accepting results afterwards.
func (a *Aggregator) Report(info RunInfo) *Report {
	a.init()
	info.Title, info.ID, info.Source = clean(info.Title), clean(info.ID), clean(info.Source)
	info.Args = slices.Clone(info.Args)
	for i, a := range info.Args {
		info.Args[i] = clean(a)
	}
	r := &Report{
		Info:      info,
		Generated: time.Now(),
		Accept:    a.opts.Accept.String(),
		Total:     a.total,
		Accepted:  a.accepted,
		WithError: a.withError,
		Bytes:     a.bytes,
		Truncated: a.truncated,
		Start:     info.Started,
		End:       info.Finished,
		HostsSeen: len(a.hosts),
	}
	if _, ok := a.hosts[invalidInput]; ok {
		r.HostsSeen-- // listed with the hosts, but not one
	}
	if r.Start.IsZero() {
		r.Start = a.first
	}
	if r.End.IsZero() {
		r.End = a.last
	}
	for i, n := range a.classes {
		r.Classes = append(r.Classes, Count{Label: classLabels[i], N: n, Share: share(n, a.total)})
	}
	for i, n := range a.kinds {
		r.Kinds = append(r.Kinds, Count{Label: string(kinds[i]), N: n, Share: share(n, a.total)})
	}
	r.Statuses = a.topStatuses()
	r.Latency = a.latencySummary()
	r.Slowest = slices.Clone(a.slow)
	slices.SortFunc(r.Slowest, func(x, y Target) int { return cmp.Compare(y.Timing.Total, x.Timing.Total) })
	r.Hosts, r.Errors = a.hostTables()
	if a.other.n > 0 {
		r.HostsCapped = true
		r.OtherHosts = a.other.stat("(other hosts)")
	}
	return r
}

func share(n, total int64) float64 {
	if total == 0 {
		return 0
	}
	return float64(n) / float64(total)
}

func (a *Aggregator) topStatuses() []Count {
	out := make([]Count, 0, len(a.statuses))
	for code, n := range a.statuses {
		label := strconv.Itoa(code)
		if code == 0 {
			label = "none"
		}
		out = append(out, Count{Label: label, N: n, Share: share(n, a.total)})
	}
	slices.SortFunc(out, func(x, y Count) int {
		return cmp.Or(cmp.Compare(y.N, x.N), cmp.Compare(x.Label, y.Label))
	})
	return out[:min(len(out), statusesShown)]
}

func (a *Aggregator) latencySummary() Latency {
	h := a.latency
	l := Latency{N: h.TotalCount()}
	if l.N == 0 {
		return l
	}
	// Min and max are exact. The histogram's are the bounds of their
	// buckets (all results at 50ms gave p50 50.015ms, past the max), and
	// it stops at an hour (a 2h outlier gave a max of 1h while the slowest
	// targets listed it at 2h): its percentiles are kept within the exact bounds.
	l.MinMs, l.MaxMs = a.minMs, a.maxMs
	l.MeanMs = a.sumMs / float64(l.N)
	for _, p := range percentilesShown {
		ms := float64(h.ValueAtPercentile(p)) / 1000
		l.Percentiles = append(l.Percentiles, Percentile{P: p, Ms: min(max(ms, l.MinMs), l.MaxMs)})
	}
	// Log-spaced bins from the smallest to the largest value recorded, so
	// a heavy tail and the bulk near the median are both visible.
	lo := math.Log(max(float64(h.Min())/1000, 0.001))
	hi := math.Log(max(float64(h.Max())/1000, 0.001))
	n := latencyBins
	if hi-lo < 1e-9 {
		n, hi = 1, lo+1e-9
	}
	step := (hi - lo) / float64(n)
	l.Bins = make([]Bin, n)
	for i := range l.Bins {
		l.Bins[i] = Bin{LoMs: math.Exp(lo + float64(i)*step), HiMs: math.Exp(lo + float64(i+1)*step)}
	}
	for _, bar := range h.Distribution() {
		if bar.Count == 0 {
			continue
		}
		v := math.Log(max(float64(bar.From+bar.To)/2000, 0.001))
		i := min(max(int((v-lo)/step), 0), n-1)
		l.Bins[i].N += bar.Count
	}
	return l
}

// hostTables ranks the tracked hosts: the most results for the per-host
// table, and the most errors of each kind for the error groups.
func (a *Aggregator) hostTables() ([]HostStat, []ErrorGroup) {
	type entry struct {
		host string
		agg  *hostAgg
	}
	all := make([]entry, 0, len(a.hosts))
	for h, agg := range a.hosts {
		all = append(all, entry{h, agg})
	}
	if a.other.n > 0 {
		all = append(all, entry{"(other hosts)", &a.other})
	}
	slices.SortFunc(all, func(x, y entry) int {
		return cmp.Or(cmp.Compare(y.agg.n, x.agg.n), cmp.Compare(x.host, y.host))
	})
	var hosts []HostStat
	for _, e := range all {
		if e.agg == &a.other {
			continue // shown on its own row, below the table
		}
		if len(hosts) == a.opts.TopHosts {
			break
		}
		hosts = append(hosts, e.agg.stat(clean(e.host)))
	}

	var groups []ErrorGroup
	for k, n := range a.kinds {
		if n == 0 {
			continue
		}
		g := ErrorGroup{Kind: kinds[k], N: n, Share: share(n, a.total), Samples: a.samples[k]}
		top := make([]Count, 0, hostsPerError+1)
		for _, e := range all {
			c := int64(e.agg.kinds[k])
			if c == 0 {
				continue
			}
			top = insertTop(top, Count{Label: e.host, N: c}, hostsPerError)
		}
		var listed int64
		for i := range top {
			top[i].Label = clean(top[i].Label)
			top[i].Share = share(top[i].N, n)
			listed += top[i].N
		}
		g.Hosts, g.Rest = top, n-listed
		groups = append(groups, g)
	}
	slices.SortStableFunc(groups, func(x, y ErrorGroup) int { return cmp.Compare(y.N, x.N) })
	return hosts, groups
}

// insertTop inserts c into top (sorted by N, most first) and keeps at most
// n entries. Hosts are visited most-results-first, so on equal counts the
// busier host stays ahead.
func insertTop(top []Count, c Count, n int) []Count {
	if len(top) == n && c.N <= top[n-1].N {
		return top
	}
	i, _ := slices.BinarySearchFunc(top, c.N, func(e Count, t int64) int {
		return cmp.Compare(t, e.N) // descending; equal counts go after
	})
	for i < len(top) && top[i].N == c.N {
		i++
	}
	top = slices.Insert(top, i, c)
	return top[:min(len(top), n)]
}
