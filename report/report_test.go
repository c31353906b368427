package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"math"
	"math/rand/v2"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
	"time"
	"unicode/utf8"

	"go.uber.org/goleak"

	"github.com/fanout/fanout/fetch"
	"github.com/fanout/fanout/output"
)

func seq(rs ...*fetch.Result) iter.Seq2[*fetch.Result, error] {
	return func(yield func(*fetch.Result, error) bool) {
		for _, r := range rs {
			if !yield(r, nil) {
				return
			}
		}
	}
}

func res(url string, status int, ms float64) *fetch.Result {
	return &fetch.Result{URL: url, Status: status, Timing: fetch.Timing{Total: ms}, Bytes: 10}
}

func withErr(r *fetch.Result, kind fetch.ErrorKind, msg string) *fetch.Result {
	r.Error = &fetch.Error{Kind: kind, Message: msg}
	return r
}

func build(t *testing.T, opts Options, rs ...*fetch.Result) *Report {
	t.Helper()
	rep, err := Build(RunInfo{}, seq(rs...), opts)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func TestCounts(t *testing.T) {
	t.Parallel()
	rep := build(t, Options{},
		res("https://a.example/1", 200, 10),
		res("https://a.example/2", 301, 20),
		res("https://A.example/3", 404, 30),
		res("https://b.example:8443/x", 503, 40),
		withErr(res("https://b.example:8443/y", 200, 50), fetch.KindProtocol, "bad gzip"),
		withErr(res("https://c.example/", 0, 60), fetch.KindDNS, "no such host"),
		withErr(res("", 0, 0), fetch.KindInvalidURL, "not a URL"),
		withErr(res("https://d.example/", 0, 1), "made_up_kind", "?"),
		res("https://e.example/", 700, 5),
	)
	if rep.Total != 9 || rep.Accepted != 2 || rep.WithError != 4 || rep.Bytes != 90 {
		t.Errorf("total, accepted, with error, bytes = %d %d %d %d, want 9 2 4 90", rep.Total, rep.Accepted, rep.WithError, rep.Bytes)
	}
	gotClasses := map[string]int64{}
	for _, c := range rep.Classes {
		gotClasses[c.Label] = c.N
	}
	wantClasses := map[string]int64{"no response": 3, "1xx": 0, "2xx": 2, "3xx": 1, "4xx": 1, "5xx": 1, "other": 1}
	if fmt.Sprint(gotClasses) != fmt.Sprint(wantClasses) {
		t.Errorf("classes = %v, want %v", gotClasses, wantClasses)
	}
	kinds := map[string]int64{}
	for _, k := range rep.Kinds {
		kinds[k.Label] = k.N
	}
	if kinds["dns"] != 1 || kinds["protocol"] != 1 || kinds["invalid_url"] != 1 || kinds["other"] != 1 || len(rep.Kinds) != len(fetch.Kinds) {
		t.Errorf("kinds = %v, want dns, protocol, invalid_url and other (the unknown kind) at 1, every kind listed", kinds)
	}
	if rep.Statuses[0].Label != "none" || rep.Statuses[0].N != 3 {
		t.Errorf("most frequent status = %+v, want none x3", rep.Statuses[0])
	}
	// a.example (case folded), b.example:8443, c, d, e; the invalid input
	// line is listed with the hosts but is not one (the page said "Hosts 6").
	if rep.HostsSeen != 5 || !slices.ContainsFunc(rep.Hosts, func(h HostStat) bool { return h.Host == invalidInput }) {
		t.Errorf("hosts seen = %d, want 5, and %s listed in %+v", rep.HostsSeen, invalidInput, rep.Hosts)
	}
	if h := rep.Hosts[0]; h.Host != "a.example" || h.N != 3 || h.Accepted != 2 || h.Classes[4] != 1 {
		t.Errorf("busiest host = %+v, want a.example with 3 results, 2 accepted, one 4xx", h)
	}
}

func TestAcceptOption(t *testing.T) {
	t.Parallel()
	acc, err := output.ParseAccept("200..=299,404")
	if err != nil {
		t.Fatal(err)
	}
	rep := build(t, Options{Accept: acc}, res("https://a/", 200, 1), res("https://a/", 301, 1), res("https://a/", 404, 1))
	if rep.Accepted != 2 || rep.Accept != "200..=299,404" {
		t.Errorf("accepted %d under %q, want 2 under 200..=299,404", rep.Accepted, rep.Accept)
	}
}

func TestPercentiles(t *testing.T) {
	t.Parallel()
	var rs []*fetch.Result
	for i := 1; i <= 10_000; i++ {
		rs = append(rs, res("https://a/", 200, float64(i)/10)) // 0.1ms .. 1000ms
	}
	rand.Shuffle(len(rs), func(i, j int) { rs[i], rs[j] = rs[j], rs[i] })
	rep := build(t, Options{}, rs...)
	for _, p := range rep.Latency.Percentiles {
		want := p.P * 10 // ms at percentile p of a uniform 0..1000ms
		if math.Abs(p.Ms-want) > want*0.002+0.1 {
			t.Errorf("p%v = %vms, want %vms within 0.2%%", p.P, p.Ms, want)
		}
	}
	if l := rep.Latency; l.N != 10_000 || math.Abs(l.MeanMs-500.05) > 0.01 || l.MinMs != 0.1 || math.Abs(l.MaxMs-1000) > 1 {
		t.Errorf("latency n %d mean %v min %v max %v, want 10000 500.05 0.1 1000", l.N, l.MeanMs, l.MinMs, l.MaxMs)
	}
	var binned int64
	for i, b := range rep.Latency.Bins {
		binned += b.N
		if i > 0 && math.Abs(b.LoMs-rep.Latency.Bins[i-1].HiMs) > 1e-9 {
			t.Errorf("bin %d starts at %v, previous ends at %v", i, b.LoMs, rep.Latency.Bins[i-1].HiMs)
		}
	}
	if binned != 10_000 {
		t.Errorf("histogram bins hold %d results, want 10000", binned)
	}
}

// TestLatencyBounds: min and max are the exact extremes, and no
// percentile lies outside them: the histogram's bucket bounds made all
// results at 50ms a p50 of 50.015ms, and its hour-long range made a 2h
// outlier a max of 1h00m while the slowest targets listed 2h00m.
func TestLatencyBounds(t *testing.T) {
	t.Parallel()
	var same []*fetch.Result
	for range 100 {
		same = append(same, res("https://a/", 200, 50))
	}
	l := build(t, Options{}, same...).Latency
	if l.MinMs != 50 || l.MaxMs != 50 {
		t.Errorf("all at 50ms: min %v max %v, want 50 50", l.MinMs, l.MaxMs)
	}
	for _, p := range l.Percentiles {
		if p.Ms != 50 {
			t.Errorf("all at 50ms: p%v = %v", p.P, p.Ms)
		}
	}
	rs := []*fetch.Result{res("https://a/", 200, 7_200_000)}
	for range 99 {
		rs = append(rs, res("https://a/", 200, 10.5))
	}
	rep := build(t, Options{}, rs...)
	if l := rep.Latency; l.MaxMs != 7_200_000 || l.MinMs != 10.5 {
		t.Errorf("with a 2h outlier: min %v max %v, want 10.5 7200000", l.MinMs, l.MaxMs)
	}
	if got := rep.Slowest[0].Timing.Total; got != rep.Latency.MaxMs {
		t.Errorf("slowest target %v, latency max %v", got, rep.Latency.MaxMs)
	}
	for _, p := range rep.Latency.Percentiles {
		if p.Ms < 10.5 || p.Ms > 7_200_000 {
			t.Errorf("p%v = %v, outside min and max", p.P, p.Ms)
		}
	}
}

func TestSlowestTopN(t *testing.T) {
	t.Parallel()
	totals := rand.Perm(1000)
	var rs []*fetch.Result
	for _, ms := range totals {
		rs = append(rs, res(fmt.Sprintf("https://h%d/", ms%7), 200, float64(ms)))
	}
	rep := build(t, Options{TopN: 10}, rs...)
	var got []float64
	for _, s := range rep.Slowest {
		got = append(got, s.Timing.Total)
	}
	want := []float64{999, 998, 997, 996, 995, 994, 993, 992, 991, 990}
	if !slices.Equal(got, want) {
		t.Errorf("slowest = %v, want %v", got, want)
	}
	if rep.Slowest[0].URL != "https://h5/" || rep.Slowest[0].Host != "h5" {
		t.Errorf("slowest target = %+v, want https://h5/ on h5", rep.Slowest[0])
	}
}

func TestErrorGroups(t *testing.T) {
	t.Parallel()
	var rs []*fetch.Result
	add := func(n int, host string, kind fetch.ErrorKind, msg string) {
		for range n {
			rs = append(rs, withErr(res("https://"+host+"/", 0, 1), kind, msg))
		}
	}
	add(5, "a.example", fetch.KindTimeout, "timeout one")
	add(3, "b.example", fetch.KindTimeout, "timeout two")
	add(9, "c.example", fetch.KindRefused, "refused")
	for i := range 12 {
		add(1, fmt.Sprintf("t%02d.example", i), fetch.KindTimeout, fmt.Sprintf("timeout %d", i))
	}
	rep := build(t, Options{}, rs...)
	if len(rep.Errors) != 2 || rep.Errors[0].Kind != fetch.KindTimeout || rep.Errors[0].N != 20 || rep.Errors[1].N != 9 {
		t.Fatalf("groups = %+v, want timeout x20 then refused x9", rep.Errors)
	}
	g := rep.Errors[0]
	if len(g.Hosts) != hostsPerError || g.Hosts[0].Label != "a.example" || g.Hosts[0].N != 5 || g.Hosts[1].Label != "b.example" {
		t.Errorf("timeout hosts = %+v, want a.example 5, b.example 3, then six more", g.Hosts)
	}
	if g.Rest != 20-5-3-6 {
		t.Errorf("timeout rest = %d, want %d", g.Rest, 20-5-3-6)
	}
	if !slices.Equal(g.Samples, []string{"timeout one", "timeout two", "timeout 0"}) {
		t.Errorf("samples = %q, want the first three distinct messages", g.Samples)
	}
}

func TestHostCap(t *testing.T) {
	t.Parallel()
	var rs []*fetch.Result
	for i := range 10 {
		for range i + 1 {
			rs = append(rs, withErr(res(fmt.Sprintf("https://h%d.example/", i), 0, 2), fetch.KindReset, "reset"))
		}
	}
	rep := build(t, Options{MaxHosts: 4, TopHosts: 2}, rs...)
	if rep.HostsSeen != 4 || !rep.HostsCapped {
		t.Fatalf("hosts seen %d capped %v, want 4 true", rep.HostsSeen, rep.HostsCapped)
	}
	if want := int64(5 + 6 + 7 + 8 + 9 + 10); rep.OtherHosts.N != want {
		t.Errorf("other hosts hold %d results, want %d", rep.OtherHosts.N, want)
	}
	if len(rep.Hosts) != 2 || rep.Hosts[0].Host != "h3.example" || rep.Hosts[0].N != 4 {
		t.Errorf("hosts = %+v, want h3.example (4) first of two", rep.Hosts)
	}
	if g := rep.Errors[0]; g.Hosts[0].Label != "(other hosts)" || g.Hosts[0].N != 45 {
		t.Errorf("reset hosts = %+v, want (other hosts) 45 first", g.Hosts)
	}
}

func TestHostOf(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ url, want string }{
		{"https://Example.COM/a", "example.com"},
		{"http://user:pw@example.com:8080/x?y#z", "example.com:8080"},
		{"https://[::1]:443/", "[::1]:443"},
		{"https://example.com?q", "example.com"},
		{"", "(invalid input)"},
		{"https:///path", "(invalid input)"},
		{"mailto:x@y", "(invalid input)"},
	} {
		if got := hostOf(&fetch.Result{URL: c.url}); got != c.want {
			t.Errorf("hostOf(%q) = %q, want %q", c.url, got, c.want)
		}
	}
}

func TestHostQuantile(t *testing.T) {
	t.Parallel()
	var h hostAgg
	for i := 1; i <= 1000; i++ {
		h.add(true, 2, -1, 0, float64(i))
	}
	s := h.stat("x")
	if s.P50Ms < 500/1.27 || s.P50Ms > 500*1.27 || s.P95Ms < 950/1.27 || s.P95Ms > 950*1.27 {
		t.Errorf("p50 %v p95 %v, want 500 and 950 within one 26%% bucket", s.P50Ms, s.P95Ms)
	}
	if s.MaxMs != 1000 || math.Abs(s.MeanMs-500.5) > 1e-9 {
		t.Errorf("max %v mean %v, want 1000 500.5", s.MaxMs, s.MeanMs)
	}
}

// TestHostQuantileLong: a host whose requests all took a minute or more
// (every one timed out under --timeout 60s) gets per-host percentiles near
// what they took, not those of the last bucket of a range that ended at 41s.
func TestHostQuantileLong(t *testing.T) {
	t.Parallel()
	for _, ms := range []float64{60_000, 120_000, 1_800_000} {
		var h hostAgg
		for range 10 {
			h.add(false, 0, kindIndex(fetch.KindTimeout), 0, ms)
		}
		s := h.stat("x")
		if s.P50Ms < ms/1.27 || s.P95Ms < ms/1.27 || s.P50Ms > ms || s.P95Ms > ms {
			t.Errorf("all at %vms: p50 %v p95 %v, want %v within one 26%% bucket", ms, s.P50Ms, s.P95Ms, ms)
		}
	}
}

const hostile = "<script>alert(1)</script>\x1b[31m\x07\u202e"

func TestEscaping(t *testing.T) {
	t.Parallel()
	url := "https://evil.example/" + hostile
	r := withErr(res(url, 0, 5000), fetch.KindProtocol, "bad header "+hostile)
	r.Title = hostile
	r.FinalURL = url + "/final"
	ok := res("https://evil.example/"+hostile, 200, 1)
	ok.Title = hostile
	rep, err := Build(RunInfo{Title: "run " + hostile, Source: hostile, Args: []string{"fanout", hostile}}, seq(r, ok), Options{})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := rep.WriteHTML(&b); err != nil {
		t.Fatal(err)
	}
	html := b.String()
	if strings.Contains(html, "<script") {
		t.Errorf("output contains a <script element")
	}
	if !strings.Contains(html, "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Errorf("output lacks the escaped title")
	}
	for i := 0; i < len(html); i++ {
		if c := html[i]; c < 0x20 && c != '\n' && c != '\t' || c == 0x7f {
			t.Fatalf("output has control byte %#x at %d: %q", c, i, html[max(i-40, 0):min(i+40, len(html))])
		}
	}
	if strings.Contains(html, "\u202e") {
		t.Errorf("output contains a right-to-left override")
	}
	if !strings.Contains(html, `\x1b[31m\a\u202e`) {
		t.Errorf("output lacks the visible escapes of ESC, BEL and RLO")
	}
}

// externalRef matches anything that would make a browser load something:
// an element that loads by attribute, a CSS url() or @import.
var externalRef = regexp.MustCompile(`(?i)<(script|link|img|iframe|object|embed|audio|video|source)\b|\b(src|href|srcset|action|xlink:href|poster|data)\s*=|url\(|@import`)

func TestSelfContained(t *testing.T) {
	t.Parallel()
	rep, err := Build(RunInfo{ID: "r1"}, synth(5000, 50, 2), Options{})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := rep.WriteHTML(&b); err != nil {
		t.Fatal(err)
	}
	html := b.String()
	if m := externalRef.FindString(html); m != "" {
		i := strings.Index(html, m)
		t.Errorf("output refers to something outside the page: %q in %q", m, html[max(i-60, 0):min(i+60, len(html))])
	}
	if !strings.Contains(html, `http-equiv="Content-Security-Policy" content="default-src &#39;none&#39;`) &&
		!strings.Contains(html, `http-equiv="Content-Security-Policy" content="default-src 'none'`) {
		t.Errorf("output lacks the Content-Security-Policy that forbids loading anything")
	}
	for _, id := range []string{"headline", "latency", "slowest", "errors", "hosts"} {
		if !strings.Contains(html, `id="`+id+`"`) {
			t.Errorf("output lacks section %q", id)
		}
	}
	if n := strings.Count(html, "<svg"); n != 4 {
		t.Errorf("output has %d charts, want 4", n)
	}
}

func TestEmptyRun(t *testing.T) {
	t.Parallel()
	rep := build(t, Options{})
	var b bytes.Buffer
	if err := rep.WriteHTML(&b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "No results.") || !strings.Contains(b.String(), "No errors.") {
		t.Errorf("an empty run should say there are no results and no errors")
	}
	// Its Accepted card is neither a green 0% nor a percentage at all.
	for _, c := range rep.cards() {
		if c.Label == "Accepted" && (c.Class != "" || strings.Contains(c.Value, "%")) {
			t.Errorf("Accepted card of an empty run: %q, class %q", c.Value, c.Class)
		}
	}
}

// TestNoLatencyCards: when nothing was timed (every target failed before
// a request), the latency cards say so instead of showing 0ms, which reads
// as instant answers.
func TestNoLatencyCards(t *testing.T) {
	t.Parallel()
	rep := build(t, Options{}, withErr(res("https://a/", 0, 0), fetch.KindRefused, "refused"))
	for _, c := range rep.cards() {
		if strings.Contains(c.Value, "ms") || strings.Contains(c.Sub, "0ms") {
			t.Errorf("card %s: %q (%s) with nothing timed", c.Label, c.Value, c.Sub)
		}
	}
}

// TestTruncatedCounted: bodies cut at --max-body are counted, and the
// Results card says so, as the summary does (found in review: neither
// the report nor report --from showed them); none, and it says nothing.
func TestTruncatedCounted(t *testing.T) {
	t.Parallel()
	cut := func(r *fetch.Result) *fetch.Result { r.Truncated = true; return r }
	rep := build(t, Options{}, cut(res("https://a/1", 200, 1)), res("https://a/2", 200, 1), cut(res("https://a/3", 200, 1)))
	if rep.Truncated != 2 {
		t.Errorf("truncated = %d, want 2", rep.Truncated)
	}
	if sub := rep.cards()[0].Sub; !strings.Contains(sub, "2 cut at --max-body") {
		t.Errorf("Results card: %q, want it to count the bodies cut", sub)
	}
	if sub := build(t, Options{}, res("https://a/1", 200, 1)).cards()[0].Sub; strings.Contains(sub, "cut") {
		t.Errorf("Results card with no body cut: %q", sub)
	}
}

func TestBuildStopsAtSourceError(t *testing.T) {
	t.Parallel()
	boom := errors.New("disk on fire")
	src := func(yield func(*fetch.Result, error) bool) {
		if yield(res("https://a/", 200, 1), nil) {
			yield(nil, boom)
		}
	}
	if _, err := Build(RunInfo{}, src, Options{}); !errors.Is(err, boom) {
		t.Errorf("Build error = %v, want %v", err, boom)
	}
}

func TestReadJSONL(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	want := []*fetch.Result{
		withErr(res("https://a/", 0, 3), fetch.KindDNS, "x"),
		res("https://b/", 200, 4),
	}
	want[1].StartedAt = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, r := range want {
		if err := enc.Encode(r); err != nil {
			t.Fatal(err)
		}
	}
	b.WriteString("\n")
	var got []*fetch.Result
	for r, err := range ReadJSONL(&b) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, r)
	}
	if len(got) != 2 || got[0].Error == nil || got[1].Error != nil || got[1].Status != 200 || !got[1].StartedAt.Equal(want[1].StartedAt) {
		t.Errorf("read back %+v %+v, want the two results (the second without error)", got[0], got[1])
	}

	var n int
	var last error
	for _, err := range ReadJSONL(strings.NewReader(`{"status":200}` + "\n" + `{"status":"x"}` + "\n" + `{}`)) {
		n++
		last = err
	}
	if n != 2 || last == nil || !strings.Contains(last.Error(), "line 2") {
		t.Errorf("bad second line: %d items, last error %v; want one result then an error naming line 2", n, last)
	}
}

// TestReadJSONLNotJSONL: an input whose first line that is not blank is
// no JSON object is another file (csv or text output), told apart from a
// results file with a bad line by ErrNotJSONL.
func TestReadJSONLNotJSONL(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in    string
		other bool // ErrNotJSONL
		line  string
	}{
		{"input,url,final_url,status\nhttp://a/,http://a/,,200\n", true, "line 1"},
		{"200 http://a/ ok", true, "line 1"},
		{"\n  \n[1,2]\n", true, "line 3"},
		{`{"status":200}` + "\n" + "input,url\n", false, "line 2"},
		{`{"status":"x"}` + "\n", false, "line 1"},
	} {
		var last error
		for _, err := range ReadJSONL(strings.NewReader(tc.in)) {
			last = err
		}
		if last == nil || errors.Is(last, ErrNotJSONL) != tc.other || !strings.Contains(last.Error(), tc.line) {
			t.Errorf("%q: error %v; want one naming %s, ErrNotJSONL %v", tc.in, last, tc.line, tc.other)
		}
	}
}

// A read error in the middle of a line is reported as the read error, after
// the lines before it, not as the JSON the cut line breaks.
func TestReadJSONLReadErrorMidLine(t *testing.T) {
	t.Parallel()
	data := `{"status":200}` + "\n" + `{"status":201}` + "\n" + `{"status":20`
	for _, read := range []func(io.Reader) iter.Seq2[*fetch.Result, error]{
		ReadJSONL,
		func(r io.Reader) iter.Seq2[*fetch.Result, error] {
			return ReadJSONLCut(r, func(int) { t.Error("a line cut by a read error was taken for a killed run's") })
		},
	} {
		var n int
		var last error
		for _, err := range read(io.MultiReader(strings.NewReader(data), iotest.ErrReader(errors.New("io boom")))) {
			n++
			last = err
		}
		if n != 3 || last == nil || !strings.Contains(last.Error(), "io boom") || !strings.Contains(last.Error(), "line 3") {
			t.Errorf("%d items, last error %v; want two results, then the read error at line 3", n, last)
		}
	}
}

// TestReadJSONLCut: the file of a killed run ends mid-line; that line alone
// is left out and reported, while any other bad line is still an error.
func TestReadJSONLCut(t *testing.T) {
	t.Parallel()
	whole := strings.Repeat(`{"status":200}`+"\n", 600) // past one batch of lines
	for _, tc := range []struct {
		name, in string
		results  int
		cut      int    // the line passed to cut, 0 for none
		err      string // in the error, "" for none
	}{
		{"cut last line", whole + `{"status":20`, 600, 601, ""},
		{"whole last line without newline", whole + `{"status":204}`, 601, 0, ""},
		{"bad last line with its newline", whole + `{"status":20` + "\n", 600, 0, "line 601"},
		{"bad line before the last", whole + `{"status":"x"}` + "\n" + `{"status":20`, 600, 0, "line 601"},
	} {
		n, cut := 0, 0
		var last error
		for r, err := range ReadJSONLCut(strings.NewReader(tc.in), func(line int) { cut = line }) {
			if err != nil {
				last = err
				continue
			}
			if r.Status != 200 && r.Status != 204 {
				t.Errorf("%s: result with status %d", tc.name, r.Status)
			}
			n++
		}
		if n != tc.results || cut != tc.cut || (last == nil) != (tc.err == "") || last != nil && !strings.Contains(last.Error(), tc.err) {
			t.Errorf("%s: %d results, cut %d, error %v; want %d, %d, %q", tc.name, n, cut, last, tc.results, tc.cut, tc.err)
		}
	}
	for _, err := range ReadJSONL(strings.NewReader(whole + `{"status":20`)) {
		if err == nil {
			continue
		}
		if !strings.Contains(err.Error(), "line 601") {
			t.Errorf("ReadJSONL: %v, want an error naming line 601", err)
		}
		return
	}
	t.Error("ReadJSONL accepted a cut last line")
}

// TestReadJSONLOrderAndStop checks that lines decoded in parallel come out
// in file order, that a read error comes after every line before it, and
// that stopping early leaves no goroutine behind.
func TestReadJSONLOrderAndStop(t *testing.T) {
	defer goleak.VerifyNone(t)
	var b strings.Builder
	const n = 5 * jsonlBatchLines / 2
	for i := range n {
		fmt.Fprintf(&b, "{\"status\":%d}\n", i)
	}
	boom := errors.New("disk gone")
	var got int
	var last error
	for r, err := range ReadJSONL(io.MultiReader(strings.NewReader(b.String()), iotest.ErrReader(boom))) {
		if err != nil {
			last = err
			break
		}
		if r.Status != got {
			t.Fatalf("result %d has status %d: out of order", got, r.Status)
		}
		got++
	}
	if got != n || !errors.Is(last, boom) || !strings.Contains(last.Error(), fmt.Sprintf("line %d", n+1)) {
		t.Errorf("read %d results then %v; want %d then the read error at line %d", got, last, n, n+1)
	}
	for range 3 {
		seen := 0
		for range ReadJSONL(strings.NewReader(b.String())) {
			if seen++; seen == 10 {
				break
			}
		}
	}
}

func TestClean(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("é", 400)
	got := clean(long)
	if len(got) > maxText+len("…") || !strings.HasSuffix(got, "…") || !strings.HasPrefix(got, "éé") {
		t.Errorf("clean(long) has %d bytes, want at most %d ending in an ellipsis", len(got), maxText+3)
	}
	if got := clean("a\x1bb\xffc"); got != `a\x1bb\xffc` {
		t.Errorf("clean = %q, want visible escapes", got)
	}
}

func TestFormat(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ got, want string }{
		{fmtNum(0), "0"}, {fmtNum(999), "999"}, {fmtNum(1000), "1,000"}, {fmtNum(1234567), "1,234,567"}, {fmtNum(-1000), "-1,000"},
		{fmtPct(0), "0%"}, {fmtPct(0.0004), "<0.1%"}, {fmtPct(0.0123), "1.2%"}, {fmtPct(0.5), "50%"},
		{fmtPct(235.0 / 236), "99.5%"}, {fmtPct(0.9997), ">99.9%"}, {fmtPct(0.994), "99%"}, {fmtPct(1), "100%"},
		{fmtBytes(512), "512B"}, {fmtBytes(4500), "4.5KB"}, {fmtBytes(12_000_000), "12MB"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}

// TestDetail: a report built from lean results (only what is counted) with
// Options.Detail supplying the slowest targets' full results is the report
// built from full results.
func TestDetail(t *testing.T) {
	t.Parallel()
	full := map[uint64]*fetch.Result{}
	var lean []*fetch.Result
	for r, _ := range synth(20_000, 300, 7) {
		c := *r
		full[c.Seq] = &c
		l := &fetch.Result{Seq: c.Seq, URL: c.URL, Status: c.Status, Error: c.Error, Bytes: c.Bytes, StartedAt: c.StartedAt}
		l.Timing.Total = c.Timing.Total
		lean = append(lean, l)
	}
	var asked []uint64
	opts := Options{TopN: 25, Detail: func(seqs []uint64) ([]*fetch.Result, error) {
		asked = append(asked, seqs...)
		var out []*fetch.Result
		for _, s := range seqs {
			out = append(out, full[s])
		}
		return out, nil
	}}
	leanSeq := func(yield func(*fetch.Result, error) bool) {
		for _, r := range lean {
			if !yield(r, nil) {
				return
			}
		}
	}
	got, err := Build(RunInfo{}, leanSeq, opts)
	if err != nil {
		t.Fatal(err)
	}
	opts.Detail = nil
	want, err := Build(RunInfo{}, synth(20_000, 300, 7), opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(asked) != 25 {
		t.Errorf("Detail was asked for %d results, want the 25 listed", len(asked))
	}
	got.Generated, want.Generated = time.Time{}, time.Time{}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("report from lean results and Detail differs from the one from full results:\n%+v\nwant\n%+v", got.Slowest, want.Slowest)
	}
	if got.Slowest[0].Title == "" || got.Slowest[0].Timing.TTFB == 0 {
		t.Errorf("slowest target lacks the detail: %+v", got.Slowest[0])
	}
}

// TestLatencyChartFewResults: with three results the count axis once read
// 0, 0, 0, 0, 1 and the labels of p90, p95, p99 and p99.9, all at one
// spot, were drawn over each other.
func TestLatencyChartFewResults(t *testing.T) {
	l := Latency{N: 3, MinMs: 1, MaxMs: 5, Bins: []Bin{{LoMs: 1, HiMs: 2, N: 1}, {LoMs: 2, HiMs: 4, N: 0}, {LoMs: 4, HiMs: 5, N: 2}},
		Percentiles: []Percentile{{50, 4.5}, {75, 5}, {90, 5}, {95, 5}, {99, 5}, {99.9, 5}}}
	c := latencyChart(l)
	var axis, pcts []string
	for _, ln := range c.Lines {
		switch ln.Class {
		case "grid":
			axis = append(axis, ln.Text)
		case "pct":
			pcts = append(pcts, ln.Text)
		}
	}
	if got := strings.Join(axis, ","); got != "0,1,2" {
		t.Errorf("count axis %s, want 0,1,2", got)
	}
	if got := strings.Join(pcts, " | "); got != "p50 4.5ms | p90·p95·p99·p99.9 5.0ms" {
		t.Errorf("percentile labels %q, want p50 and one shared label", got)
	}
}

// The aggregates count kinds in arrays of numKinds, which must be every
// kind fetch knows: a kind past the end would panic, one left out would
// be counted as another.
// TestPercentileLabelsApart: percentile labels in one row do not overlap,
// and stay inside the drawing. A long shared label drawn leftwards from
// the right edge was placed by its marker alone and ran over p50's.
func TestPercentileLabelsApart(t *testing.T) {
	t.Parallel()
	for _, ms := range [][]float64{
		{5, 100, 200, 300, 400},
		{1, 1000},
		{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 20, 50, 100, 200, 500, 1000, 2000},
		{0.2, 0.21, 0.5, 50, 52, 55, 60, 61},
	} {
		var rs []*fetch.Result
		for _, m := range ms {
			rs = append(rs, res("https://a/", 200, m))
		}
		c := latencyChart(build(t, Options{}, rs...).Latency)
		type span struct{ x0, x1 float64 }
		rows := map[float64][]span{}
		for _, ln := range c.Lines {
			if ln.Class != "pct" {
				continue
			}
			w := 6.6 * float64(utf8.RuneCountInString(ln.Text))
			x0 := map[string]float64{"start": ln.TX, "middle": ln.TX - w/2, "end": ln.TX - w}[ln.Anchor]
			if x0 < 0 || x0+w > c.W {
				t.Errorf("%v: label %q spans %.0f..%.0f, outside 0..%v", ms, ln.Text, x0, x0+w, c.W)
			}
			for _, o := range rows[ln.TY] {
				if x0 < o.x1 && o.x0 < x0+w {
					t.Errorf("%v: label %q at %.0f..%.0f overlaps one at %.0f..%.0f", ms, ln.Text, x0, x0+w, o.x0, o.x1)
				}
			}
			rows[ln.TY] = append(rows[ln.TY], span{x0, x0 + w})
		}
	}
}

func TestNumKinds(t *testing.T) {
	if numKinds != len(fetch.Kinds) {
		t.Fatalf("numKinds = %d, fetch.Kinds has %d", numKinds, len(fetch.Kinds))
	}
}

// TestAbsurdTimings: timings no fetch measures (a hand-edited database or
// results file: a total near the largest float, phases longer than the
// total) still draw a chart whose every coordinate is a finite number
// inside it, and print as durations, not as overflowed integers.
func TestAbsurdTimings(t *testing.T) {
	t.Parallel()
	huge := res("https://a.example/huge", 200, 1e308)
	huge.Timing.DNS, huge.Timing.TTFB = 1e308, 1e300
	long := res("https://a.example/phases", 200, 3)
	long.Timing.DNS, long.Timing.Connect = 5000, 9000
	rep := build(t, Options{}, huge, long, res("https://a.example/ok", 200, 10))
	if rep.Latency.MinMs < 3 {
		t.Errorf("latency min = %vms, want 3ms: the huge total was recorded as the fastest", rep.Latency.MinMs)
	}
	var b bytes.Buffer
	if err := rep.WriteHTML(&b); err != nil {
		t.Fatal(err)
	}
	html := b.String()
	for _, m := range regexp.MustCompile(` (x|y|width|height|x1|x2|y1|y2)="([^"]*)"`).FindAllStringSubmatch(html, -1) {
		f, err := strconv.ParseFloat(m[2], 64)
		if err != nil || math.IsInf(f, 0) || f < 0 || f > chartWidth {
			t.Errorf("SVG attribute %s", m[0])
		}
	}
	// Segments of a row end before the notes column.
	wf := waterfallChart(build(t, Options{}, long, res("https://a.example/ok", 200, 10)).Slowest)
	for _, r := range wf.Rows {
		for _, s := range r.Segments {
			if s.X+s.W > chartWidth-150 {
				t.Errorf("row %q: segment %s ends at %v, past the plot", r.Full, s.Class, s.X+s.W)
			}
		}
	}
	// The durations themselves: internal/humantime's TestMillis.
	if strings.Contains(html, "m0(s") || strings.Contains(html, "Inf") {
		t.Errorf("output has an overflowed duration or an infinite number")
	}
}

// TestAbsurdBytes: byte counts no fetch reads (negative, or summing past
// int64) do not make the page say a negative size.
func TestAbsurdBytes(t *testing.T) {
	t.Parallel()
	a, b, c := res("https://a.example/1", 200, 1), res("https://a.example/2", 200, 1), res("https://a.example/3", 200, 1)
	a.Bytes, b.Bytes, c.Bytes = math.MaxInt64, math.MaxInt64, -5
	rep := build(t, Options{}, a, b, c)
	if rep.Bytes != math.MaxInt64 || rep.Hosts[0].Bytes != math.MaxInt64 {
		t.Errorf("bytes = %d, host bytes = %d, want the largest int64", rep.Bytes, rep.Hosts[0].Bytes)
	}
	rep = build(t, Options{}, c)
	if rep.Bytes != 0 || rep.Hosts[0].Bytes != 0 {
		t.Errorf("negative bytes counted: %d, host %d", rep.Bytes, rep.Hosts[0].Bytes)
	}
}

// TestInfoSetAfterBuild: RunInfo's strings set after Build (fanout report
// --title does) are cleaned like the rest: no control bytes, bidi overrides
// or invalid UTF-8 reach the page.
func TestInfoSetAfterBuild(t *testing.T) {
	t.Parallel()
	rep := build(t, Options{}, res("https://a.example/", 200, 1))
	bad := hostile + "\x01\xff" + strings.Repeat("x", 400)
	rep.Info.Title, rep.Info.Source, rep.Info.Args = bad, bad, []string{"fanout", bad}
	var b bytes.Buffer
	if err := rep.WriteHTML(&b); err != nil {
		t.Fatal(err)
	}
	html := b.String()
	if !utf8.ValidString(html) {
		t.Errorf("output is not valid UTF-8")
	}
	for i := 0; i < len(html); i++ {
		if c := html[i]; c < 0x20 && c != '\n' && c != '\t' || c == 0x7f {
			t.Fatalf("output has control byte %#x at %d: %q", c, i, html[max(i-40, 0):min(i+40, len(html))])
		}
	}
	if strings.Contains(html, "\u202e") || strings.Contains(html, strings.Repeat("x", 400)) {
		t.Errorf("output has a right-to-left override or an uncut string")
	}
	if rep.Info.Title != bad {
		t.Errorf("WriteHTML changed the report")
	}
}

// TestReportHidesCredentials: a report is made to be passed around, so
// the credentials in a target's URL (user:password@, token@) are xxxxx in
// it, as in the command line it shows.
func TestReportHidesCredentials(t *testing.T) {
	t.Parallel()
	r := res("https://alice:s3cret-pass@a.example/x", 200, 50)
	r.FinalURL = "https://s3cret-token@b.example/y"
	rep := build(t, Options{}, r, res("https://c.example/", 404, 10))
	var b bytes.Buffer
	if err := rep.WriteHTML(&b); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), "s3cret") {
		t.Errorf("the report shows a credential")
	}
	if !strings.Contains(b.String(), "alice:xxxxx@a.example") {
		t.Errorf("the report does not show the target with its password hidden")
	}
}
