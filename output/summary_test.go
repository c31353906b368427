package output

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/fanout/fanout/fetch"
)

func TestSummaryWrite(t *testing.T) {
	t.Parallel()
	res := func(status int, ms float64, kind fetch.ErrorKind) *fetch.Result {
		r := &fetch.Result{Status: status, Timing: fetch.Timing{Total: ms}}
		if status != 0 {
			r.Bytes = 1000
		}
		if kind != "" {
			r.Error = &fetch.Error{Kind: kind, Message: "m"}
		}
		return r
	}
	s := NewSummary(DefaultAccept())
	for i, r := range []*fetch.Result{
		res(200, 100, ""), res(200, 200, ""), res(301, 300, ""), res(404, 400, ""), res(500, 500, ""),
		res(0, 500, fetch.KindTimeout), res(0, 1000, fetch.KindDNS),
		// An invalid target: counted, but it has no latency.
		res(0, 0, fetch.KindInvalidURL),
	} {
		r.Input = fmt.Sprintf("https://e.example/%d", i)
		s.Add(r)
	}
	s.SetDuplicates(3)
	if got := s.Total(); got != 8 {
		t.Errorf("Total = %d, want 8", got)
	}
	if got := s.Failed(); got != 5 {
		t.Errorf("Failed = %d, want 5", got)
	}
	var b bytes.Buffer
	if err := s.Write(&b, 2*time.Second); err != nil {
		t.Fatal(err)
	}
	// 7 latencies 100..1000 ms: p50 is the 4th (400ms), p90 the 6th
	// (500ms), p99 the 7th (1s); they sum to 3s, so 1.5x over 2s of wall
	// time; 7 requests (the invalid target made none) in 2s is 3.5 per
	// second.
	want := `results       8 total, 3 accepted, 5 failed
status        1xx 0  2xx 2  3xx 1  4xx 1  5xx 1  no response 3
errors        invalid_url 1  dns 1  timeout 1
failed        404             https://e.example/3
              500             https://e.example/4
              timeout         https://e.example/5
              dns             https://e.example/6
              invalid_url     https://e.example/7
latency       p50 400ms  p90 500ms  p99 1.0s  max 1.0s
bytes         5.0KB
wall time     2.0s
request time  3.0s summed, 1.5x speedup
rate          3.5 requests/s
duplicates    3 dropped from the input
`
	if got := b.String(); got != want {
		t.Errorf("summary:\n%s\nwant:\n%s", got, want)
	}
}

// TestSummaryListsFailures: the summary names the first five failed
// targets, escaped and cut, then how many more failed; the canceled
// targets Ctrl-C leaves are not named.
func TestSummaryListsFailures(t *testing.T) {
	t.Parallel()
	s := NewSummary(DefaultAccept())
	s.Add(&fetch.Result{Input: "https://ok.example/", Status: 200})
	s.Add(&fetch.Result{Input: "https://c.example/", Error: &fetch.Error{Kind: fetch.KindCanceled}})
	s.Add(&fetch.Result{Input: "bad\x1b[31m", Error: &fetch.Error{Kind: fetch.KindInvalidURL}})
	s.Add(&fetch.Result{URL: "https://lib.example/", Status: 404}) // a library caller's target without Input
	s.Add(&fetch.Result{Input: "https://long.example/" + strings.Repeat("é", 200), Status: 410})
	for i := range 4 {
		s.Add(&fetch.Result{Input: fmt.Sprintf("https://r%d.example/", i), Error: &fetch.Error{Kind: fetch.KindRefused}})
	}
	var b bytes.Buffer
	if err := s.Write(&b, time.Second); err != nil {
		t.Fatal(err)
	}
	var listed []string
	for ln := range strings.Lines(b.String()) {
		if strings.HasPrefix(ln, "failed ") || strings.HasPrefix(ln, "       ") {
			listed = append(listed, strings.TrimRight(ln, "\n"))
		}
	}
	long := "https://long.example/" + strings.Repeat("é", (maxListedInput-len("https://long.example/"))/2) + "…"
	want := []string{
		"failed        invalid_url     bad\\x1b[31m",
		"              404             https://lib.example/",
		"              410             " + long,
		"              refused         https://r0.example/",
		"              refused         https://r1.example/",
		"              and 3 more (1 of them canceled)", // two refused, and the canceled one
	}
	if strings.Join(listed, "\n") != strings.Join(want, "\n") {
		t.Errorf("listed:\n%s\nwant:\n%s", strings.Join(listed, "\n"), strings.Join(want, "\n"))
	}
}

// TestSummaryHidesCredentials: the summary often lands in a CI log; a
// failed target's credentials are xxxxx there.
func TestSummaryHidesCredentials(t *testing.T) {
	t.Parallel()
	s := NewSummary(DefaultAccept())
	s.Add(&fetch.Result{Input: "https://alice:s3cret@a.example/", Status: 401})
	var b bytes.Buffer
	if err := s.Write(&b, time.Second); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), "s3cret") || !strings.Contains(b.String(), "401             https://alice:xxxxx@a.example/") {
		t.Errorf("summary:\n%s", b.String())
	}
}

// TestSummaryJSON: --summary-json's numbers are the text summary's.
func TestSummaryJSON(t *testing.T) {
	t.Parallel()
	s := NewSummary(DefaultAccept())
	for i, r := range []*fetch.Result{
		{Status: 200, Timing: fetch.Timing{Total: 100}, Bytes: 1000, Attempts: 1, Truncated: true},
		{Status: 404, Timing: fetch.Timing{Total: 400}, Bytes: 1000, Attempts: 3},
		{Timing: fetch.Timing{Total: 500}, Error: &fetch.Error{Kind: fetch.KindTimeout}, Attempts: 2},
		{Error: &fetch.Error{Kind: fetch.KindCanceled}},
	} {
		r.Input = fmt.Sprintf("https://e.example/%d", i)
		s.Add(r)
	}
	s.SetDuplicates(2)
	b, err := json.Marshal(s.JSON(2 * time.Second))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"results":4,"accepted":1,"failed":3,` +
		`"status":{"1xx":0,"2xx":1,"3xx":0,"4xx":1,"5xx":0,"no_response":2,"other":0},` +
		`"errors":{"canceled":1,"timeout":1},` +
		`"retried_targets":2,"retries":3,` +
		`"failed_targets":[{"input":"https://e.example/1","status":404,"error":""},{"input":"https://e.example/2","status":0,"error":"timeout"}],` +
		`"latency_ms":{"p50":400,"p90":500,"p99":500,"max":500},` +
		`"bytes":2000,"truncated":1,"wall_ms":2000,"request_ms":1000,"rate":1.5,"duplicates":2,"complete":true,"not_fetched":0,"whole_run":null}`
	if string(b) != want {
		t.Errorf("JSON:\n%s\nwant:\n%s", b, want)
	}
	// Nothing counted: the latency is null, the lists empty, not null,
	// the retries and the truncated bodies 0.
	b, _ = json.Marshal(NewSummary(Accept{}).JSON(0))
	for _, want := range []string{`"errors":{},"retried_targets":0,"retries":0,"failed_targets":[],"latency_ms":null`, `"truncated":0,`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("empty summary JSON %s lacks %s", b, want)
		}
	}
}

// TestSummaryTruncated: bodies cut at --max-body are counted, in a line of
// their own when there are any (a cut body otherwise passed for a whole
// one), and in --summary-json's truncated.
func TestSummaryTruncated(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		cut  int
		line string // "" for none
	}{
		{0, ""},
		{1, "truncated     1 body cut at --max-body (bytes and body_sha256 count the part read)\n"},
		{3, "truncated     3 bodies cut at --max-body (bytes and body_sha256 count the part read)\n"},
	} {
		s := NewSummary(DefaultAccept())
		s.Add(&fetch.Result{Status: 200, Bytes: 10, Timing: fetch.Timing{Total: 1}})
		for range c.cut {
			s.Add(&fetch.Result{Status: 200, Bytes: 1 << 20, Truncated: true, Timing: fetch.Timing{Total: 1}})
		}
		var b bytes.Buffer
		if err := s.Write(&b, time.Second); err != nil {
			t.Fatal(err)
		}
		if has := strings.Contains(b.String(), "truncated"); c.line == "" && has || c.line != "" && !strings.Contains(b.String(), c.line) {
			t.Errorf("%d cut: summary\n%s\nwant the line %q", c.cut, b.String(), c.line)
		}
		if got := s.JSON(time.Second).Truncated; got != int64(c.cut) {
			t.Errorf("%d cut: JSON truncated = %d", c.cut, got)
		}
	}
}

// TestSummaryHeadlineCanceled: after Ctrl-C or a closed pipe most of the
// failed may be targets canceled before they were fetched; the headline
// says how many, while "failed" keeps counting them (as --summary-json's
// failed and the exit status do).
func TestSummaryHeadlineCanceled(t *testing.T) {
	t.Parallel()
	s := NewSummary(DefaultAccept())
	s.Add(&fetch.Result{Status: 200})
	s.Add(&fetch.Result{Status: 404})
	for range 3 {
		s.Add(&fetch.Result{Error: &fetch.Error{Kind: fetch.KindCanceled, Message: "canceled"}})
	}
	var b bytes.Buffer
	if err := s.Write(&b, time.Second); err != nil {
		t.Fatal(err)
	}
	if want := "results       5 total, 1 accepted, 4 failed (3 of them canceled)\n"; !strings.HasPrefix(b.String(), want) {
		t.Errorf("summary:\n%s\nwant it to begin %q", b.String(), want)
	}
	if j := s.JSON(time.Second); j.Failed != 4 || j.Errors["canceled"] != 3 {
		t.Errorf("JSON failed %d, canceled %d; want 4 and 3", j.Failed, j.Errors["canceled"])
	}
}

func TestSig3(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ in, want float64 }{{400.127, 400}, {1.2345, 1.23}, {0.04567, 0.0457}, {12345, 12300}, {0, 0}} {
		if got := sig3(c.in); got != c.want {
			t.Errorf("sig3(%v) = %v, want %v", c.in, got, c.want)
		}
	}
}

func TestSummaryEmpty(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	s := NewSummary(Accept{})
	if err := s.Write(&b, 0); err != nil {
		t.Fatal(err)
	}
	// No input counted (collect's results come from workers; submit
	// dropped the duplicates): no line claiming 0.
	if strings.Contains(b.String(), "duplicates") {
		t.Errorf("summary without SetDuplicates:\n%s\nspeaks of duplicates", b.String())
	}
	b.Reset()
	s.SetDuplicates(0)
	if err := s.Write(&b, 0); err != nil {
		t.Fatal(err)
	}
	want := `results       0 total, 0 accepted, 0 failed
status        1xx 0  2xx 0  3xx 0  4xx 0  5xx 0  no response 0
errors        none
latency       -
bytes         0B
wall time     0ms
request time  0ms summed
rate          -
duplicates    0 dropped from the input
`
	if got := b.String(); got != want {
		t.Errorf("empty summary:\n%s\nwant:\n%s", got, want)
	}
}

func TestSummaryPercentiles(t *testing.T) {
	t.Parallel()
	s := NewSummary(DefaultAccept())
	// 1 ms .. 10 s in 1 ms steps: p50 is 5 s, p99 9.9 s.
	for ms := 1; ms <= 10000; ms++ {
		s.Add(&fetch.Result{Status: 200, Timing: fetch.Timing{Total: float64(ms)}})
	}
	// Out-of-range values are clamped, not dropped.
	s.Add(&fetch.Result{Status: 200, Timing: fetch.Timing{Total: 5 * 3600 * 1000}})
	s.Add(&fetch.Result{Status: 200, Timing: fetch.Timing{Total: 1e-6}})
	for _, tc := range []struct {
		p    float64
		want time.Duration
	}{{50, 5 * time.Second}, {90, 9 * time.Second}, {99, 9900 * time.Millisecond}} {
		got := s.Percentile(tc.p)
		// Three significant digits: within 0.1%.
		if rel := math.Abs(float64(got-tc.want)) / float64(tc.want); rel > 0.001 {
			t.Errorf("p%v = %v, want %v within 0.1%%", tc.p, got, tc.want)
		}
	}
	if got := s.Percentile(100); got < 59*time.Minute || got > 61*time.Minute {
		t.Errorf("p100 = %v, want the one-hour clamp", got)
	}
}

// The histogram rounds a value up to the top of its bucket: one request of
// 302.4 ms gave "p50 303ms  p90 303ms  p99 303ms  max 302ms". No
// percentile may exceed the max.
func TestSummaryPercentilesNotAboveMax(t *testing.T) {
	t.Parallel()
	s := NewSummary(DefaultAccept())
	s.Add(&fetch.Result{Status: 200, Timing: fetch.Timing{Total: 302.4}})
	var b bytes.Buffer
	if err := s.Write(&b, time.Second); err != nil {
		t.Fatal(err)
	}
	if want := "p50 302ms  p90 302ms  p99 302ms  max 302ms"; !strings.Contains(b.String(), want) {
		t.Errorf("summary latency line: want %q in\n%s", want, b.String())
	}
}

func TestHumanUnits(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		n    int64
		want string
	}{{0, "0B"}, {999, "999B"}, {1000, "1.0KB"}, {4500, "4.5KB"}, {9949, "9.9KB"}, {9960, "10KB"},
		{999_499, "999KB"}, {999_600, "1.0MB"}, {2_500_000, "2.5MB"}, {3e9, "3.0GB"}, {math.MaxInt64, "9.2EB"}} {
		if got := FormatBytes(tc.n); got != tc.want {
			t.Errorf("FormatBytes(%d) = %q, want %q", tc.n, got, tc.want)
		}
	}
}

// Failures for want of local resources get a line saying what to change:
// they are this machine's doing, not the targets'.
func TestSummaryLocalHint(t *testing.T) {
	t.Parallel()
	s := NewSummary(DefaultAccept())
	s.Add(&fetch.Result{Status: 200})
	s.Add(&fetch.Result{Error: &fetch.Error{Kind: fetch.KindLocal, Message: "socket: too many open files"}})
	s.Add(&fetch.Result{Error: &fetch.Error{Kind: fetch.KindLocal, Message: "connect: cannot assign requested address"}})
	var b bytes.Buffer
	if err := s.Write(&b, time.Second); err != nil {
		t.Fatal(err)
	}
	want := "errors        local 2\n" +
		"              2 failed for want of this machine's resources (open files, ports, a local address): lower -c, or raise ulimit -n\n"
	if !bytes.Contains(b.Bytes(), []byte(want)) {
		t.Errorf("summary:\n%s\nwant it to hold:\n%s", b.String(), want)
	}
}

// Skipped targets (--max-host-errors) get a line saying why and how to
// fetch them all, and are not among the failures named: those are the
// attempts that led to the skip.
func TestSummarySkipped(t *testing.T) {
	t.Parallel()
	s := NewSummary(DefaultAccept())
	for i := range 8 {
		kind := fetch.KindSkipped
		if i < 2 {
			kind = fetch.KindTimeout
		}
		s.Add(&fetch.Result{Input: fmt.Sprintf("http://a/%d", i), URL: fmt.Sprintf("http://a/%d", i), Error: &fetch.Error{Kind: kind, Message: "x"}})
	}
	s.Add(&fetch.Result{Input: "http://b/", Error: &fetch.Error{Kind: fetch.KindSkipped}}) // collect's raw path: no URL
	// A redirect into a skipped host, not followed: counted under that host.
	s.Add(&fetch.Result{Input: "http://c/", URL: "http://c/", Status: 302, Location: "http://a/9",
		Redirects: []fetch.Hop{{URL: "http://c/", Status: 302}}, Error: &fetch.Error{Kind: fetch.KindSkipped}})
	s.Add(&fetch.Result{Input: "http://b/", Error: &fetch.Error{Kind: fetch.KindCanceled}})
	var b bytes.Buffer
	if err := s.Write(&b, time.Second); err != nil {
		t.Fatal(err)
	}
	want := "errors        timeout 2  canceled 1  skipped 8\n" +
		"              8 skipped: their hosts had failed too many attempts in a row, or asked to be left alone longer than --max-retry-wait (--max-host-errors; 0 never skips)\n" +
		"              skipped hosts: a:80 7, others 1\n" +
		"failed        timeout         http://a/0\n" +
		"              timeout         http://a/1\n" +
		"              and 9 more (1 of them canceled, 8 skipped)\n"
	if !bytes.Contains(b.Bytes(), []byte(want)) {
		t.Errorf("summary:\n%s\nwant it to hold:\n%s", b.String(), want)
	}
	if j := s.JSON(time.Second); len(j.SkippedHosts) != 1 || j.SkippedHosts["a:80"] != 7 {
		t.Errorf("skipped_hosts %v, want a:80 7", j.SkippedHosts)
	}
}

// Span is the run's wall time as its results tell it, from the earliest
// request's start to the latest one's end, in whatever order they come:
// what collect prints for a run it did not watch.
func TestSummarySpan(t *testing.T) {
	s := NewSummary(Accept{})
	if got := s.Span(); got != 0 {
		t.Errorf("empty: Span = %v, want 0", got)
	}
	t0 := time.Date(2026, 11, 28, 5, 0, 0, 0, time.UTC)
	for _, r := range []*fetch.Result{
		{Status: 200, StartedAt: t0.Add(2 * time.Second), Timing: fetch.Timing{Total: 500}},
		{Status: 200, StartedAt: t0, Timing: fetch.Timing{Total: 100}},
		{Status: 200, StartedAt: t0.Add(time.Second), Timing: fetch.Timing{Total: 3000}}, // ends last, at 4s
		// Never requested: no latency, and its time is not the run's.
		{StartedAt: t0.Add(-time.Hour), Error: &fetch.Error{Kind: fetch.KindInvalidURL}},
		{Status: 200, StartedAt: t0.Add(time.Second), Timing: fetch.Timing{Total: math.Inf(1)}},
	} {
		s.Add(r)
	}
	if got, want := s.Span(), 4*time.Second; got != want {
		t.Errorf("Span = %v, want %v", got, want)
	}
}

// TestSummaryRetries: the summary says how many retries were made and how
// many targets needed them, even when every target ended accepted (a flaky
// deploy shows there, not in the statuses), and says nothing of retries
// when there were none; --summary-json always has both counts.
func TestSummaryRetries(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		attempts []int // one 200 result each
		line     string
		targets  int64
		retries  int64
	}{
		{"none", []int{1, 1, 1}, "", 0, 0},
		// 0: a target never started (invalid, or canceled while queued).
		{"never started", []int{0, 1}, "", 0, 0},
		{"some", []int{1, 3, 2, 1}, "retries       3 (2 targets took more than one attempt)\n", 2, 3},
		{"all", []int{2, 2}, "retries       2 (2 targets took more than one attempt)\n", 2, 2},
		{"one target", []int{1, 4}, "retries       3 (1 target took more than one attempt)\n", 1, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := NewSummary(DefaultAccept())
			for _, n := range tc.attempts {
				s.Add(&fetch.Result{Status: 200, Attempts: n, Timing: fetch.Timing{Total: 10}})
			}
			var b bytes.Buffer
			if err := s.Write(&b, time.Second); err != nil {
				t.Fatal(err)
			}
			if tc.line == "" && strings.Contains(b.String(), "retries") {
				t.Errorf("summary speaks of retries where there were none:\n%s", b.String())
			}
			// After the failures, before the latency.
			if tc.line != "" && !strings.Contains(b.String(), "errors        none\n"+tc.line+"latency ") {
				t.Errorf("summary:\n%s\nwant between errors and latency:\n%s", b.String(), tc.line)
			}
			// The sum holds each result's last attempt only.
			if last := strings.Contains(b.String(), "summed (last attempts)"); last != (tc.retries > 0) {
				t.Errorf("summary:\n%s\nsays the sum is of last attempts: %v, want %v", b.String(), last, tc.retries > 0)
			}
			if j := s.JSON(time.Second); j.RetriedTargets != tc.targets || j.Retries != tc.retries {
				t.Errorf("JSON retried_targets %d, retries %d; want %d, %d", j.RetriedTargets, j.Retries, tc.targets, tc.retries)
			}
		})
	}
}

// TestSummaryJSONPercentilesNotAboveMax: the percentiles, rounded to the
// histogram's three digits, never exceed the max beside them (a p99 of
// 49.1 beside a max of 49.088 read as a bug to a user).
func TestSummaryJSONPercentilesNotAboveMax(t *testing.T) {
	t.Parallel()
	for _, ms := range []float64{49.088, 0.1234, 1.9996, 999.96, 12345.6} {
		s := NewSummary(DefaultAccept())
		s.Add(&fetch.Result{Status: 200, Attempts: 1, Timing: fetch.Timing{Total: ms}})
		l := s.JSON(time.Second).Latency
		if l == nil || l.P50 > l.Max || l.P90 > l.Max || l.P99 > l.Max {
			t.Errorf("one request of %vms: latency %+v, a percentile above the max", ms, l)
		}
	}
}
