// Package report turns the results of a run into one self-contained HTML
// file: headline numbers, status-class and error-kind breakdowns, a latency
// histogram with percentiles, the slowest targets with a timing waterfall,
// errors grouped by kind and host, and per-host statistics.
//
// Results are aggregated in one streaming pass with bounded memory, so a
// run of any length makes a report of the same small size: an HdrHistogram
// for latency, a heap for the slowest targets, and per-host counters for at
// most Options.MaxHosts distinct hosts (later hosts are folded into one
// "other hosts" row). Charts are SVG drawn in Go; the page loads nothing
// from anywhere, and every string from the network is escaped.
package report

import (
	"iter"
	"time"

	"github.com/fanout/fanout/fetch"
	"github.com/fanout/fanout/output"
)

// Defaults for the zero fields of Options.
const (
	DefaultTopN     = 25
	DefaultTopHosts = 50
	DefaultMaxHosts = 100_000
)

// RunInfo describes the run a report is about. Every field is optional:
// times left zero are derived from the results.
type RunInfo struct {
	// ID is the run's id in the store, empty for a results file.
	ID string
	// Title heads the page; empty means "fanout run ID" or the source.
	Title string
	// Source says where the results were read from (a database or a file).
	Source string
	// Args is the command line of the run, when known.
	Args []string
	// Started and Finished bound the run; zero means unknown.
	Started, Finished time.Time
}

// Options tunes how much a report lists. The zero value is usable.
type Options struct {
	// Accept judges success as the run did; the zero value is "200..=399".
	Accept output.Accept
	// TopN is how many of the slowest targets are listed (DefaultTopN).
	TopN int
	// TopHosts is how many hosts the per-host and per-error tables list
	// (DefaultTopHosts).
	TopHosts int
	// MaxHosts caps the distinct hosts counted exactly (DefaultMaxHosts).
	// Results for hosts first seen after the cap is reached are counted in
	// one "other hosts" row, which keeps memory bounded for runs over
	// millions of hosts while hosts seen early keep exact figures.
	MaxHosts int
	// Detail, when set, returns the full results at the given Seqs. Build
	// then needs from each result only what it counts (Seq, URL, Status,
	// Error, Bytes, StartedAt and Timing.Total) and asks Detail for the
	// rest (final URL, title, attempts, timing phases) of the few slowest
	// it lists: a reader of a million stored results decodes ten fields
	// instead of all of them.
	Detail func(seqs []uint64) ([]*fetch.Result, error)
}

func (o Options) withDefaults() Options {
	if o.TopN <= 0 {
		o.TopN = DefaultTopN
	}
	if o.TopHosts <= 0 {
		o.TopHosts = DefaultTopHosts
	}
	if o.MaxHosts <= 0 {
		o.MaxHosts = DefaultMaxHosts
	}
	return o
}

// Report is the aggregate of a run, ready to be written as HTML. Its
// strings from the network are already stripped of control characters;
// HTML escaping happens when it is written.
type Report struct {
	Info      RunInfo
	Generated time.Time
	Accept    string // the rule that judged success, in lychee's syntax

	Total     int64 // results
	Accepted  int64 // results judged success by Accept
	WithError int64 // results carrying an error
	Bytes     int64 // decoded body bytes, summed
	Truncated int64 // bodies cut at --max-body (Result.Truncated)
	// Start and End bound the run: from the first attempt's start to the
	// last attempt's end (RunInfo's times when given).
	Start, End time.Time

	Classes  []Count // results per status class, "no response" first
	Kinds    []Count // results per error kind, fixed order, zeros kept
	Statuses []Count // the most frequent status codes, most first

	Latency Latency
	// Slowest lists the TopN targets with the longest total time, slowest
	// first.
	Slowest []Target
	// Errors groups failures by kind (most first), each with its top hosts.
	Errors []ErrorGroup
	// Hosts lists the TopHosts hosts with the most results.
	Hosts []HostStat
	// HostsSeen counts distinct hosts tracked, not the invalid input
	// lines that Hosts may list as one; when HostsCapped is set,
	// OtherHosts holds the results of hosts beyond MaxHosts.
	HostsSeen   int
	HostsCapped bool
	OtherHosts  HostStat
}

// Count is one labelled count and its share of the total (0..1).
type Count struct {
	Label string
	N     int64
	Share float64
}

// Latency summarises Timing.Total over every result that was fetched
// (total > 0), errors included: a timeout is latency a user waited for.
type Latency struct {
	N                    int64
	MinMs, MeanMs, MaxMs float64
	Percentiles          []Percentile
	// MinMs and MaxMs are exact; percentiles are from the histogram (3
	// significant digits, values past an hour counted as an hour).
	// Bins is a log-scaled histogram from MinMs to MaxMs (to an hour at
	// most).
	Bins []Bin
}

// Percentile is the latency at percentile P (0..100).
type Percentile struct {
	P  float64
	Ms float64
}

// Bin is one bar of the latency histogram: N results took [LoMs, HiMs).
type Bin struct {
	LoMs, HiMs float64
	N          int64
}

// Target is one of the slowest results, with what the waterfall needs.
type Target struct {
	URL      string
	FinalURL string
	Host     string
	Status   int
	Kind     fetch.ErrorKind // empty when the result has no error
	Title    string
	Attempts int
	Timing   fetch.Timing
	seq      uint64
}

// ErrorGroup is every result with one error kind.
type ErrorGroup struct {
	Kind    fetch.ErrorKind
	N       int64
	Share   float64  // of all results
	Samples []string // a few distinct messages, first seen first
	// Hosts are the hosts with the most errors of this kind, most first;
	// Rest counts the errors of this kind on hosts not listed.
	Hosts []Count
	Rest  int64
}

// HostStat is what happened on one host. Latency percentiles are estimated
// from 48 log-spaced buckets (about ±13%); mean and max are exact.
type HostStat struct {
	Host      string
	N         int64
	Accepted  int64
	WithError int64
	Classes   [7]int64 // no response, 1xx..5xx, other
	Bytes     int64
	MeanMs    float64
	P50Ms     float64
	P95Ms     float64
	MaxMs     float64
}

// Build aggregates results in one pass and returns the report. It stops at
// the first error the sequence yields and returns it.
func Build(info RunInfo, results iter.Seq2[*fetch.Result, error], opts Options) (*Report, error) {
	a := NewAggregator(opts)
	for r, err := range results {
		if err != nil {
			return nil, err
		}
		a.Add(r)
	}
	if opts.Detail != nil && len(a.slow) > 0 {
		seqs := make([]uint64, len(a.slow))
		for i, t := range a.slow {
			seqs[i] = t.seq
		}
		full, err := opts.Detail(seqs)
		if err != nil {
			return nil, err
		}
		a.slow.detail(full)
	}
	return a.Report(info), nil
}
