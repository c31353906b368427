package output

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/fanout/fanout/fetch"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

func i64(n int64) *int64 { return &n }

var t0 = time.Date(2025, 3, 14, 15, 9, 26, 535897932, time.UTC)

// sampleResults covers the shapes the encoders must handle.
func sampleResults() []*fetch.Result {
	return []*fetch.Result{
		{Seq: 0, Input: "example.com", URL: "https://example.com/", FinalURL: "https://example.com/",
			Status: 200, Proto: "HTTP/2.0", Method: "GET", ContentType: "text/html; charset=utf-8",
			ContentLength: i64(1256), Bytes: 1256, Title: "Example Domain", Server: "ECS (dcb/7EA3)",
			IP: "93.184.215.14", Attempts: 1, StartedAt: t0,
			Timing: fetch.Timing{DNS: 12.5, Connect: 20.25, TLS: 30, TTFB: 80.125, Transfer: 1.5, Total: 123.4}},
		{Seq: 1, Input: "http://go.dev", URL: "http://go.dev", FinalURL: "https://go.dev/",
			Status: 200, Proto: "HTTP/1.1", Method: "GET", ContentType: "text/html",
			Bytes: 4500, Title: "The Go Programming Language", Attempts: 1, StartedAt: t0,
			Redirects: []fetch.Hop{{URL: "http://go.dev", Status: 301}},
			Timing:    fetch.Timing{Total: 1234}},
		{Seq: 2, Input: "https://example.com/missing", URL: "https://example.com/missing",
			FinalURL: "https://example.com/missing", Status: 404, Proto: "HTTP/1.1", Method: "GET",
			Bytes: 12345, Title: "Not Found", Attempts: 1, StartedAt: t0, Timing: fetch.Timing{Total: 45.6}},
		{Seq: 3, Input: "https://down.example/", URL: "https://down.example/", FinalURL: "https://down.example/",
			Status: 503, Proto: "HTTP/1.1", Method: "GET", Bytes: 0, Attempts: 3, StartedAt: t0,
			Timing: fetch.Timing{Total: 75000}},
		{Seq: 4, Input: "nxdomain.invalid", URL: "https://nxdomain.invalid/", Method: "GET", Attempts: 1,
			StartedAt: t0, Timing: fetch.Timing{DNS: 3.2, Total: 3.2},
			Error: &fetch.Error{Kind: fetch.KindDNS, Message: "lookup nxdomain.invalid: no such host"}},
		{Seq: 5, Input: "ht!tp://bad", Error: &fetch.Error{Kind: fetch.KindInvalidURL, Message: "bad scheme \"ht!tp\""}},
		{Seq: 6, Input: "https://evil.example/", URL: "https://evil.example/", FinalURL: "https://evil.example/",
			Status: 200, Proto: "HTTP/1.1", Method: "GET", Bytes: 2_500_000, Attempts: 1, StartedAt: t0,
			Title: "=cmd|'/C calc'!A0 \x1b]0;pwned\x07 \u202egnp.exe \xff\xfe", Server: "-evil\r\n",
			Timing: fetch.Timing{Total: 0.4}},
		{Seq: 8, Input: "http://moved.example/", URL: "http://moved.example/", FinalURL: "http://moved.example/",
			Status: 301, Proto: "HTTP/1.1", Method: "GET", Attempts: 1, StartedAt: t0,
			Redirects: []fetch.Hop{{URL: "http://moved.example/", Status: 301}}, Location: "https://moved.example/\x1b[2J",
			Timing: fetch.Timing{Total: 1}},
		{Seq: 7, Input: "https://gz.example/", URL: "https://gz.example/", FinalURL: "https://gz.example/",
			Status: 200, Proto: "HTTP/1.1", Method: "GET", Bytes: 10, Attempts: 1, StartedAt: t0,
			BodySHA256: "ab12", Timing: fetch.Timing{Total: 999.7},
			Error: &fetch.Error{Kind: fetch.KindProtocol, Message: "gzip: invalid header"}},
	}
}

func encodeAll(t testing.TB, format string, o EncoderOptions, rs []*fetch.Result) string {
	t.Helper()
	var buf bytes.Buffer
	enc, err := NewEncoder(format, &buf, o)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		if err := enc.Encode(r); err != nil {
			t.Fatalf("Encode: %v", err)
		}
	}
	if err := enc.Flush(); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	return buf.String()
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (go test -update rewrites it)\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

func TestTextGolden(t *testing.T) {
	for _, tc := range []struct {
		file  string
		color bool
	}{{"text.golden", false}, {"text_color.golden", true}} {
		t.Run(tc.file, func(t *testing.T) {
			got := encodeAll(t, "text", EncoderOptions{Color: tc.color}, sampleResults())
			golden(t, tc.file, got)
			if !tc.color && strings.Contains(got, "\x1b") {
				t.Errorf("text without colour contains ESC:\n%q", got)
			}
			if tc.color && !strings.Contains(got, "\x1b[32m200\x1b[0m") {
				t.Errorf("coloured text has no green 200:\n%q", got)
			}
		})
	}
}

// TestTextKindNotRepeated: a message that begins with its kind (Go's
// "tls: ..." errors, a bare "canceled") is not written twice.
func TestTextKindNotRepeated(t *testing.T) {
	for _, tc := range []struct {
		kind      fetch.ErrorKind
		msg, want string
	}{
		{fetch.KindTLS, "tls: failed to verify certificate", "  tls: failed to verify certificate\n"},
		{fetch.KindCanceled, "canceled", "  canceled\n"},
		{fetch.KindReset, "reset by peer", "  reset: reset by peer\n"},
		{fetch.KindTimeout, "timed out after 1s", "  timeout: timed out after 1s\n"},
	} {
		got := encodeAll(t, "text", EncoderOptions{}, []*fetch.Result{{URL: "https://a.example/", Error: &fetch.Error{Kind: tc.kind, Message: tc.msg}}})
		if !strings.HasSuffix(got, tc.want) {
			t.Errorf("%s %q: got %q, want it to end %q", tc.kind, tc.msg, got, tc.want)
		}
	}
}

func TestTextAcceptRule(t *testing.T) {
	t.Parallel()
	r := &fetch.Result{URL: "https://a/", Status: 404, Title: "Not Found"}
	if got := encodeAll(t, "text", EncoderOptions{}, []*fetch.Result{r}); !strings.Contains(got, `rejected "Not Found"`) {
		t.Errorf("404 under the default rule: %q, want it marked rejected", got)
	}
	a, err := ParseAccept("200..=404")
	if err != nil {
		t.Fatal(err)
	}
	if got := encodeAll(t, "text", EncoderOptions{Accept: a}, []*fetch.Result{r}); strings.Contains(got, "rejected") {
		t.Errorf("404 under 200..=404: %q, want it not rejected", got)
	}
}

func TestTextEscapesNetworkStrings(t *testing.T) {
	t.Parallel()
	r := &fetch.Result{Input: "x", URL: "https://a/\x1b[2J", FinalURL: "https://b/\u009b1m",
		Status: 502, Server: "s", Error: &fetch.Error{Kind: fetch.KindOther, Message: "bad\rthing\u202e"}}
	got := encodeAll(t, "text", EncoderOptions{}, []*fetch.Result{r, {Input: "\x1b", Title: "\a"}})
	body := strings.TrimSuffix(got, "\n")
	checkEscaped(t, "", strings.ReplaceAll(body, "\n", ""))
	if strings.Count(got, "\n") != 2 {
		t.Errorf("want 2 lines, got %q", got)
	}
}

func TestTextColumnsAlign(t *testing.T) {
	t.Parallel()
	got := encodeAll(t, "text", EncoderOptions{}, sampleResults())
	lines := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
	col := strings.Index(lines[0], "https://")
	for _, l := range lines {
		// The URL (or input) column starts at the same byte for every line.
		if len(l) <= col || l[col-2:col] != "  " || l[col] == ' ' {
			t.Errorf("line %q: URL column does not start at %d", l, col)
		}
	}
}

func TestNewEncoderUnknownFormat(t *testing.T) {
	t.Parallel()
	_, err := NewEncoder("xml", &bytes.Buffer{}, EncoderOptions{})
	if err == nil || !strings.Contains(err.Error(), `"xml"`) || !strings.Contains(err.Error(), "text, jsonl, csv") {
		t.Fatalf("NewEncoder(xml) error = %v, want one naming xml and the choices", err)
	}
	for _, f := range Formats {
		if _, err := NewEncoder(f, &bytes.Buffer{}, EncoderOptions{}); err != nil {
			t.Errorf("NewEncoder(%q): %v", f, err)
		}
	}
}

// stdJSONL is the reference: encoding/json with HTML escaping off, of the
// result and then the verdict of a on it.
func stdJSONL(t testing.TB, a Accept, rs []*fetch.Result) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	for _, r := range rs {
		rec := struct {
			*fetch.Result
			Accepted bool `json:"accepted"`
		}{r, a.OK(r)}
		if err := enc.Encode(rec); err != nil {
			t.Fatal(err)
		}
	}
	return buf.String()
}

func TestJSONLMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	rs := sampleResults()
	rs = append(rs,
		&fetch.Result{},
		&fetch.Result{BodySHA256: "ab12", Saved: true, Bytes: 4},
		&fetch.Result{BodySHA256: "ab12", Saved: true, Bytes: 4, Worker: "w1"},
		&fetch.Result{Worker: "a\"<b>"},
		&fetch.Result{ContentEncoding: "gzip, br", Header: http.Header{
			"Etag": {`"v1"`}, "Set-Cookie": {"a=1; Path=/", "b=2"}, "Content-Encoding": {"gzip"},
			"X-Odd": {"<&>\u2028 \xff \x01"}, "X-Empty": {}, "X-Nil": nil, "\xffbad": {""},
		}, HeadersTruncated: true},
		&fetch.Result{Header: http.Header{}},
		&fetch.Result{Redirects: []fetch.Hop{}, ContentLength: i64(0), Truncated: true,
			Title:  "<b>&amp;</b> \"q\" \\ \b\f\n\r\t\x01\x7f \u2028\u2029 é 東京",
			Timing: fetch.Timing{DNS: 1e-7, Connect: 1e21, TLS: 0.1 + 0.2, TTFB: 123456789.125, Transfer: -0, Total: 5e-324}},
	)
	odd, err := ParseAccept("404,503")
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []Accept{{}, odd} {
		jsonlMatches(t, a, rs)
	}
}

func jsonlMatches(t *testing.T, a Accept, rs []*fetch.Result) {
	t.Helper()
	if got, want := encodeAll(t, "jsonl", EncoderOptions{Accept: a}, rs), stdJSONL(t, a, rs); got != want {
		gl, wl := strings.Split(got, "\n"), strings.Split(want, "\n")
		for i := range min(len(gl), len(wl)) {
			if gl[i] != wl[i] {
				t.Fatalf("line %d differs from encoding/json\ngot:  %s\nwant: %s", i, gl[i], wl[i])
			}
		}
		t.Fatalf("output differs from encoding/json\ngot:\n%s\nwant:\n%s", got, want)
	}
}

func FuzzJSONLString(f *testing.F) {
	for _, s := range []string{"", "a\"b", "\xff", "\u2028", "<>&", "\x00\x1f\x7f"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		rs := []*fetch.Result{{Title: s, Input: s, Error: &fetch.Error{Message: s}}}
		if got, want := encodeAll(t, "jsonl", EncoderOptions{}, rs), stdJSONL(t, Accept{}, rs); got != want {
			t.Fatalf("title %q:\ngot:  %s\nwant: %s", s, got, want)
		}
	})
}

func TestJSONLValidUTF8(t *testing.T) {
	t.Parallel()
	r := &fetch.Result{Input: "https://a/\xc3", URL: "https://a/", Status: 200,
		Title: "bad \xff\xfe bytes \xed\xa0\x80 and \x1b", Server: "\x80"}
	got := encodeAll(t, "jsonl", EncoderOptions{}, []*fetch.Result{r})
	if !utf8.ValidString(got) {
		t.Fatalf("jsonl output is not valid UTF-8: %q", got)
	}
	if strings.Count(got, "\n") != 1 || !strings.HasSuffix(got, "\n") {
		t.Fatalf("want exactly one line, got %q", got)
	}
	var back map[string]any
	if err := json.Unmarshal([]byte(got), &back); err != nil {
		t.Fatalf("jsonl line does not parse: %v\n%s", err, got)
	}
	if want := "bad \uFFFD\uFFFD bytes \uFFFD\uFFFD\uFFFD and \x1b"; back["title"] != want {
		t.Errorf("title = %q, want %q", back["title"], want)
	}
}

func TestCSV(t *testing.T) {
	t.Parallel()
	got := encodeAll(t, "csv", EncoderOptions{}, sampleResults())
	if !utf8.ValidString(got) {
		t.Fatalf("csv output is not valid UTF-8: %q", got)
	}
	rows, err := csv.NewReader(strings.NewReader(got)).ReadAll()
	if err != nil {
		t.Fatalf("csv does not parse back: %v\n%s", err, got)
	}
	if len(rows) != 1+len(sampleResults()) {
		t.Fatalf("got %d rows, want header + %d", len(rows), len(sampleResults()))
	}
	if strings.Join(rows[0], ",") != strings.Join(CSVHeader, ",") {
		t.Errorf("header = %v", rows[0])
	}
	col := func(name string) int {
		for i, h := range CSVHeader {
			if h == name {
				return i
			}
		}
		t.Fatalf("no column %q", name)
		return -1
	}
	first := rows[1]
	for name, want := range map[string]string{
		"input": "example.com", "status": "200", "content_length": "1256", "redirects": "0",
		"dns_ms": "12.5", "total_ms": "123.4", "started_at": "2025-03-14T15:09:26.535897932Z",
		"error_kind": "", "truncated": "false",
	} {
		if got := first[col(name)]; got != want {
			t.Errorf("row 1 %s = %q, want %q", name, got, want)
		}
	}
	if got := first[col("body_sha256")]; got != "" {
		t.Errorf("row 1 body_sha256 = %q, want empty (no body)", got)
	}
	if got := rows[len(rows)-1][col("body_sha256")]; got != "ab12" {
		t.Errorf("last row body_sha256 = %q, want ab12", got)
	}
	if got := rows[2][col("redirects")]; got != "1" {
		t.Errorf("redirect count = %q, want 1", got)
	}
	if got := rows[2][col("content_length")]; got != "" {
		t.Errorf("missing content_length = %q, want empty", got)
	}
	if got := rows[5][col("error_kind")]; got != "dns" {
		t.Errorf("error_kind = %q, want dns", got)
	}
	evil := rows[7]
	if got := evil[col("title")]; !strings.HasPrefix(got, "'=cmd") {
		t.Errorf("formula title not neutralised: %q", got)
	}
	// (encoding/csv's reader turns the quoted \r\n into \n.)
	if got := evil[col("server")]; got != "'-evil\n" {
		t.Errorf("server = %q, want neutralised '-evil\\n", got)
	}
}

// TestAcceptedField: jsonl and csv say of each result whether it was
// accepted, by the encoder's Accept, as the summary and the exit status
// judge it: a status outside the rule is not, nor is any result with an
// error, whatever its status. A jq filter on status alone disagreed with
// --accept (a 301 under --no-follow --accept 200..=299).
func TestAcceptedField(t *testing.T) {
	t.Parallel()
	rs := []*fetch.Result{
		{Input: "ok", Status: 200},
		{Input: "moved", Status: 301},
		{Input: "missing", Status: 404},
		{Input: "broken body", Status: 200, Error: &fetch.Error{Kind: fetch.KindProtocol, Message: "gzip: invalid header"}},
		{Input: "no answer", Error: &fetch.Error{Kind: fetch.KindDNS, Message: "no such host"}},
	}
	for _, c := range []struct {
		accept string
		want   []string
	}{
		{"200..=399", []string{"true", "true", "false", "false", "false"}},
		{"200..=299", []string{"true", "false", "false", "false", "false"}},
		{"200,404", []string{"true", "false", "true", "false", "false"}},
	} {
		a, err := ParseAccept(c.accept)
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(strings.TrimSuffix(encodeAll(t, "jsonl", EncoderOptions{Accept: a}, rs), "\n"), "\n") {
			var rec map[string]any
			if err := json.Unmarshal([]byte(line), &rec); err != nil {
				t.Fatalf("jsonl line %d: %v\n%s", i, err, line)
			}
			if got := fmt.Sprint(rec["accepted"]); got != c.want[i] {
				t.Errorf("--accept %s, jsonl %s: accepted %s, want %s", c.accept, rs[i].Input, got, c.want[i])
			}
		}
		rows, err := csv.NewReader(strings.NewReader(encodeAll(t, "csv", EncoderOptions{Accept: a}, rs))).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		last := slices.Index(CSVHeader, "accepted")
		if last != len(CSVHeader)-4 || rows[0][last] != "accepted" {
			t.Fatalf("csv's column %d is accepted, want it after location, before saved, worker and content_encoding (columns added go at the end)", last)
		}
		for i, row := range rows[1:] {
			if got := row[last]; got != c.want[i] {
				t.Errorf("--accept %s, csv %s: accepted %s, want %s", c.accept, rs[i].Input, got, c.want[i])
			}
		}
	}
}

// TestSavedField: a body saved under --save says so in jsonl ("saved",
// left out when false, as body_sha256 is when empty) and in csv's column
// after location and accepted (true or false), for scripts that count
// columns; worker and content_encoding come after it.
func TestSavedField(t *testing.T) {
	t.Parallel()
	rs := []*fetch.Result{
		{Status: 200, Bytes: 4, BodySHA256: "ab12", Saved: true, ContentEncoding: "gzip"},
		{Status: 200, Bytes: 4, BodySHA256: "ab12"},
	}
	lines := strings.Split(encodeAll(t, "jsonl", EncoderOptions{}, rs), "\n")
	if !strings.Contains(lines[0], `"body_sha256":"ab12","saved":true,`) || strings.Contains(lines[1], `"saved"`) {
		t.Errorf("jsonl:\n%s\n%s\nwant \"saved\":true after body_sha256 in the first line only", lines[0], lines[1])
	}
	rows, err := csv.NewReader(strings.NewReader(encodeAll(t, "csv", EncoderOptions{}, rs))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	last := slices.Index(CSVHeader, "saved")
	if last != len(CSVHeader)-3 || CSVHeader[last-1] != "accepted" || rows[1][last] != "true" || rows[2][last] != "false" {
		t.Errorf("csv column %d %q (after %q): %q, %q; want saved after accepted, before worker: true, false",
			last, CSVHeader[last], CSVHeader[last-1], rows[1][last], rows[2][last])
	}
	if enc := len(CSVHeader) - 1; CSVHeader[enc] != "content_encoding" || rows[1][enc] != "gzip" || rows[2][enc] != "" {
		t.Errorf("csv last column %q: %q, %q; want content_encoding: gzip, empty", CSVHeader[enc], rows[1][enc], rows[2][enc])
	}
}

// TestWorkerField: a result fetched by a distributed worker names it in
// jsonl, after saved, and in csv's last column; a local run's has no
// "worker" in jsonl (an empty csv cell).
func TestWorkerField(t *testing.T) {
	t.Parallel()
	rs := []*fetch.Result{
		{Status: 200, Bytes: 4, BodySHA256: "ab12", Saved: true, Worker: "w1"},
		{Status: 200, Bytes: 4, BodySHA256: "ab12"},
	}
	lines := strings.Split(encodeAll(t, "jsonl", EncoderOptions{}, rs), "\n")
	if !strings.Contains(lines[0], `"saved":true,"worker":"w1",`) || strings.Contains(lines[1], `"worker"`) {
		t.Errorf("jsonl:\n%s\n%s\nwant \"worker\":\"w1\" after saved in the first line only", lines[0], lines[1])
	}
	rows, err := csv.NewReader(strings.NewReader(encodeAll(t, "csv", EncoderOptions{}, rs))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	last := len(CSVHeader) - 2
	if CSVHeader[last] != "worker" || rows[1][last] != "w1" || rows[2][last] != "" {
		t.Errorf("csv column %q: %q, %q; want worker, before content_encoding: w1, empty", CSVHeader[last], rows[1][last], rows[2][last])
	}
}

func TestCSVCell(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"", ""}, {"plain", "plain"}, {"=1+1", "'=1+1"}, {"+1", "'+1"}, {"-1", "'-1"},
		{"@SUM(A1)", "'@SUM(A1)"}, {"\tx", "'\tx"}, {"\rx", "'\rx"}, {"a=b", "a=b"},
		{"\xff=", "\uFFFD="},
	}
	for _, tt := range tests {
		if got := cell(tt.in); got != tt.want {
			t.Errorf("cell(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestCSVHeaderWithoutResults(t *testing.T) {
	t.Parallel()
	got := encodeAll(t, "csv", EncoderOptions{}, nil)
	if got != strings.Join(CSVHeader, ",")+"\n" {
		t.Errorf("empty csv = %q, want the header alone", got)
	}
}

// writeRecorder records every Write call separately.
type writeRecorder struct{ writes []string }

func (w *writeRecorder) Write(p []byte) (int, error) {
	w.writes = append(w.writes, string(p))
	return len(p), nil
}

func TestEncodersWriteWholeLines(t *testing.T) {
	t.Parallel()
	// Titles of varied length, some longer than the buffer, so flushes fall
	// at every possible offset.
	var rs []*fetch.Result
	for i := range 3000 {
		n := (i * 7919) % 3000
		if i%500 == 0 {
			n = flushAt * 2
		}
		// The URL varies too: the url format writes nothing else.
		rs = append(rs, &fetch.Result{Seq: uint64(i), URL: "https://h/" + strings.Repeat("u", n), Status: 200,
			Title: strings.Repeat("t", n)})
	}
	for _, f := range Formats {
		t.Run(f, func(t *testing.T) {
			t.Parallel()
			rec := &writeRecorder{}
			enc, err := NewEncoder(f, rec, EncoderOptions{})
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range rs {
				if err := enc.Encode(r); err != nil {
					t.Fatal(err)
				}
			}
			if err := enc.Flush(); err != nil {
				t.Fatal(err)
			}
			lines := 0
			for i, w := range rec.writes {
				if !strings.HasSuffix(w, "\n") {
					t.Fatalf("write %d of %d does not end a line: ...%q", i, len(rec.writes), w[max(0, len(w)-20):])
				}
				lines += strings.Count(w, "\n")
			}
			want := len(rs)
			if f == "csv" {
				want++
			}
			if lines != want {
				t.Errorf("%d lines written, want %d", lines, want)
			}
			if len(rec.writes) < 10 {
				t.Errorf("only %d writes: the buffer never flushed on its own", len(rec.writes))
			}
		})
	}
}

type failWriter struct{ n int }

func (w *failWriter) Write(p []byte) (int, error) {
	w.n++
	return 0, os.ErrClosed
}

func TestEncoderWriteErrorIsSticky(t *testing.T) {
	t.Parallel()
	w := &failWriter{}
	enc, _ := NewEncoder("jsonl", w, EncoderOptions{})
	_ = enc.Encode(&fetch.Result{})
	if err := enc.Flush(); err == nil {
		t.Fatal("Flush to a failing writer returned nil")
	}
	if err := enc.Flush(); err == nil {
		t.Fatal("second Flush returned nil")
	}
	if w.n != 1 {
		t.Errorf("writer called %d times, want 1", w.n)
	}
}

func BenchmarkEncodeJSONL(b *testing.B) {
	rs := sampleResults()
	b.Run("appender", func(b *testing.B) {
		enc, _ := NewEncoder("jsonl", discard{}, EncoderOptions{})
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			_ = enc.Encode(rs[i%len(rs)])
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		enc := json.NewEncoder(discard{})
		enc.SetEscapeHTML(false)
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			_ = enc.Encode(rs[i%len(rs)])
		}
	})
}

func BenchmarkEncodeText(b *testing.B) {
	rs := sampleResults()
	for _, color := range []bool{false, true} {
		name := "plain"
		if color {
			name = "color"
		}
		b.Run(name, func(b *testing.B) {
			enc, _ := NewEncoder("text", discard{}, EncoderOptions{Color: color})
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				_ = enc.Encode(rs[i%len(rs)])
			}
		})
	}
}

func BenchmarkEncodeCSV(b *testing.B) {
	rs := sampleResults()
	enc, _ := NewEncoder("csv", discard{}, EncoderOptions{})
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		_ = enc.Encode(rs[i%len(rs)])
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// A nil writer was accepted and panicked at the first Flush, far from the
// mistake (an unset io.Writer field); NewEncoder refuses it.
func TestNewEncoderNilWriter(t *testing.T) {
	for _, f := range Formats {
		enc, err := NewEncoder(f, nil, EncoderOptions{})
		if err == nil || enc != nil {
			t.Errorf("NewEncoder(%q, nil) = %v, %v; want an error", f, enc, err)
		}
	}
}

// TestWriteRecordNotAnObject: a record without its braces is an error,
// and nothing is written: the verdict replaces the closing brace, and
// used to eat the previous line's newline, or panic on an empty buffer.
func TestWriteRecordNotAnObject(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	e := newJSONLEncoder(&b, DefaultAccept())
	if err := e.WriteRecord([]byte(`{"input":"a"}`), true); err != nil {
		t.Fatal(err)
	}
	for _, rec := range []string{"", "x", `{"input":"b"`} {
		if err := e.WriteRecord([]byte(rec), true); err == nil {
			t.Errorf("record %q: no error", rec)
		}
	}
	if err := e.Flush(); err != nil {
		t.Fatal(err)
	}
	if want := `{"input":"a","accepted":true}` + "\n"; b.String() != want {
		t.Errorf("wrote %q, want %q", b.String(), want)
	}
	if err := e.WriteRecord(nil, true); err == nil { // the buffer empty after Flush
		t.Error("an empty record after a flush: no error")
	}
}

// TestTextMarksTruncated: a body cut at --max-body shows its size with a
// "+" (it was longer), within the size column, so the URLs stay aligned;
// a whole body of the same size has none.
func TestTextMarksTruncated(t *testing.T) {
	t.Parallel()
	got := encodeAll(t, "text", EncoderOptions{}, []*fetch.Result{
		{URL: "https://a.example/", Status: 200, Bytes: 1 << 20, Truncated: true, Timing: fetch.Timing{Total: 24}},
		{URL: "https://b.example/", Status: 200, Bytes: 1 << 20, Timing: fetch.Timing{Total: 24}},
		{URL: "https://c.example/", Status: 200, Bytes: 999_000, Truncated: true, Timing: fetch.Timing{Total: 24}},
	})
	want := "200    24ms  1.0MB+  https://a.example/\n" +
		"200    24ms   1.0MB  https://b.example/\n" +
		"200    24ms  999KB+  https://c.example/\n"
	if got != want {
		t.Errorf("text:\n%s\nwant:\n%s", got, want)
	}
}
