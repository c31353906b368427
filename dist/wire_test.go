package dist

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/s2"
	"github.com/nats-io/nats.go"

	"github.com/fanout/fanout/fetch"
	"github.com/fanout/fanout/input"
	"github.com/fanout/fanout/output"
)

func TestTargetRecordsRoundTrip(t *testing.T) {
	t.Parallel()
	ts := []fetch.Target{
		{Seq: 0, Input: "http://a.example/", URL: "http://a.example/", HostKey: "a.example:80"},
		{Seq: 7, Input: "b.example", URL: "https://b.example/", Bare: true, HostKey: "b.example:443"},
		{Seq: 1 << 40, Input: "odd\tline\\with\nall", URL: "", Invalid: "missing host\t(tab)"},
		{Seq: 9, Input: "", URL: "x", HostKey: `back\slash`},
	}
	var data []byte
	for i := range ts {
		data = appendTarget(data, &ts[i])
	}
	if n := bytes.Count(data, []byte{'\n'}); n != len(ts) {
		t.Fatalf("%d lines for %d targets: %q", n, len(ts), data)
	}
	got, err := parseTargets(data)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, ts) {
		t.Errorf("got  %+v\nwant %+v", got, ts)
	}
}

// TestInvalidTargetKeepsEmptyURL checks that an invalid input line reaches
// the worker without a URL, as input.Parse made it: an empty url field
// means "same as the input" only for a valid target, or a distributed run's
// result would carry the raw line as url where a local run has "".
func TestInvalidTargetKeepsEmptyURL(t *testing.T) {
	t.Parallel()
	for _, line := range []string{
		"=http://127.0.0.1:8080/",
		"-http://127.0.0.1/",
		"ftp://127.0.0.1/x",
		"http://127.0.0.1:99999/",
		"\x1b]0;title\x07",
	} {
		t.Run(line, func(t *testing.T) {
			tg := input.Parse(line)
			if tg.Invalid == "" || tg.URL != "" {
				t.Fatalf("input.Parse(%q) = %+v, want an invalid target without a URL", line, tg)
			}
			got, err := parseTargets(appendTarget(nil, &tg))
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 1 || got[0] != tg {
				t.Errorf("got %+v, want %+v", got, tg)
			}
		})
	}
}

func TestParseTargetsRejects(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, data string }{
		{"too few fields", "1\t\tin\t\n"},
		{"bad seq", "x\t\tin\t\th\t\n"},
		{"bad escape", "1\t\tin\\q\t\th\t\n"},
		{"trailing backslash", "1\t\tin\\\t\th\t\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got, err := parseTargets([]byte(tc.data)); err == nil {
				t.Errorf("parseTargets(%q) = %+v, want an error", tc.data, got)
			}
		})
	}
}

func FuzzTargetRecord(f *testing.F) {
	f.Add(uint64(3), "http://a/", "http://a/", "a:80", "", false)
	f.Add(uint64(0), "a\tb\\n", "", "", "bad\n", true)
	f.Fuzz(func(t *testing.T, seq uint64, in, url, host, invalid string, bare bool) {
		tg := fetch.Target{Seq: seq, Input: in, URL: url, HostKey: host, Invalid: invalid, Bare: bare}
		got, err := parseTargets(appendTarget(nil, &tg))
		if err != nil {
			t.Fatal(err)
		}
		if url == "" && invalid == "" {
			tg.URL = in
		}
		if len(got) != 1 || got[0] != tg {
			t.Fatalf("got %+v, want %+v", got, tg)
		}
		parseTargets([]byte(in)) // arbitrary input must not panic
	})
}

// sampleResults covers every field of the schema, odd strings and both
// error shapes.
func sampleResults() []fetch.Result {
	cl := int64(1234)
	at := time.Date(2026, 11, 27, 10, 0, 0, 123456789, time.UTC)
	return []fetch.Result{
		{Seq: 0, Input: "http://a/", URL: "http://a/", FinalURL: "http://a/x", Status: 200, Proto: "HTTP/1.1",
			Method: "GET", ContentType: "text/html", ContentLength: &cl, Bytes: 1234, Title: "Tab\there \"q\" \u2028 é \"started_at\":\"1999-01-01T00:00:00Z\"",
			Server: "sim", IP: "127.0.0.1", BodySHA256: "ab12", Redirects: []fetch.Hop{{URL: "http://a/", Status: 301}},
			Location: "http://a/next",
			Attempts: 2, Timing: fetch.Timing{DNS: 0.5, Connect: 1e-7, TLS: 0, TTFB: 3.25, Transfer: 1, Total: 4.75},
			StartedAt: at},
		{Seq: 1 << 20, Input: "bad\nline", URL: "", Attempts: 1, StartedAt: at,
			Error: &fetch.Error{Kind: fetch.KindInvalidURL, Message: "no host"}},
		{Seq: 5, Input: "h", URL: "https://h/", Status: 0, Attempts: 3, Timing: fetch.Timing{Total: 10000.125},
			// A message long enough that attempts is not in the record's
			// tail, with look-alikes of its key.
			Error: &fetch.Error{Kind: fetch.KindTimeout, Message: "timeout after 10s" + strings.Repeat(` ,"attempts":9`, 40)}, StartedAt: at},
	}
}

// A result line carries the exact jsonl record, a summary that agrees
// with the result, and decodes back into the same result.
func TestResultLineRoundTrip(t *testing.T) {
	t.Parallel()
	rs := sampleResults()
	var data []byte
	for i := range rs {
		data = appendResultLine(data, &rs[i])
	}
	for i := range rs {
		var l resultLine
		var err error
		if data, err = nextResultLine(data, &l); err != nil {
			t.Fatal(err)
		}
		r := &rs[i]
		if want := output.AppendJSONL(nil, r); !bytes.Equal(l.json, want) {
			t.Errorf("record %d:\n got %s\nwant %s", i, l.json, want)
		}
		s := l.summary
		if s.Seq != r.Seq || s.Status != r.Status || s.Bytes != r.Bytes || s.Timing.Total != r.Timing.Total ||
			!s.StartedAt.Equal(r.StartedAt) || // the title's look-alike of the key is not it
			s.Attempts != r.Attempts || // for the summary's retries
			(s.Error == nil) != (r.Error == nil) || s.Error != nil && s.Error.Kind != r.Error.Kind {
			t.Errorf("summary %d: got %+v, want the fields of %+v", i, s, r)
		}
		var back fetch.Result
		if err := json.Unmarshal(l.json, &back); err != nil {
			t.Fatal(err)
		}
		back.Seq = r.Seq
		if !reflect.DeepEqual(back, *r) {
			t.Errorf("decoded %d:\n got %+v\nwant %+v", i, back, *r)
		}
	}
	if len(data) != 0 {
		t.Errorf("%d bytes left over", len(data))
	}
}

// collect -f jsonl writes the records through; the decoded path encodes
// the decoded results again. Both give the same bytes, "accepted" judged
// by the collector's rule included: the worker's record has none.
func TestJSONLPassThroughEqualsDecoded(t *testing.T) {
	t.Parallel()
	rs := sampleResults()
	var msg []byte
	for i := range rs {
		msg = appendResultLine(msg, &rs[i])
	}
	msg = appendResultLine(msg, &rs[0]) // a duplicate: written once

	encode := func(raw bool, acc output.Accept) (string, uint64, uint64) {
		var buf bytes.Buffer
		enc, err := output.NewEncoder("jsonl", &buf, output.EncoderOptions{Accept: acc})
		if err != nil {
			t.Fatal(err)
		}
		var rawFn func(*fetch.Result, []byte) error
		if raw {
			rawFn = func(sum *fetch.Result, rec []byte) error {
				return enc.(output.RecordWriter).WriteRecord(rec, acc.OK(sum))
			}
		}
		var seen, earlier bitmap
		n, _, dups, err := collectMsg(msg, rawFn, &seen, &earlier, enc.Encode)
		if err != nil {
			t.Fatal(err)
		}
		enc.Flush()
		return buf.String(), n, dups
	}
	for _, c := range []struct {
		accept string
		want   []bool // accepted, by result
	}{
		{"200..=399", []bool{true, false, false}},
		{"300..", []bool{false, false, false}},
	} {
		acc, err := output.ParseAccept(c.accept)
		if err != nil {
			t.Fatal(err)
		}
		raw, n1, d1 := encode(true, acc)
		dec, n2, d2 := encode(false, acc)
		if raw != dec {
			t.Errorf("--accept %s: pass-through:\n%s\ndecoded:\n%s", c.accept, raw, dec)
		}
		if n1 != 3 || n2 != 3 || d1 != 1 || d2 != 1 {
			t.Errorf("written %d/%d, duplicates %d/%d; want 3 and 1", n1, n2, d1, d2)
		}
		lines := strings.Split(strings.TrimSuffix(raw, "\n"), "\n")
		for i, l := range lines {
			var rec struct {
				Input    string
				Accepted *bool
			}
			if err := json.Unmarshal([]byte(l), &rec); err != nil {
				t.Fatalf("line %d: %v\n%s", i, err, l)
			}
			if i < len(c.want) && (rec.Accepted == nil || *rec.Accepted != c.want[i]) {
				t.Errorf("--accept %s: %q: accepted %v, want %v", c.accept, rec.Input, rec.Accepted, c.want[i])
			}
		}
	}
}

// A compressor reuses its own buffer, never the body of a message it made:
// messages wait for JetStream's acknowledgement after the next is made.
func TestCompressorKeepsEachBody(t *testing.T) {
	t.Parallel()
	var c compressor
	inputs := [][]byte{bytes.Repeat([]byte("a result line\n"), 5000), []byte("short"),
		bytes.Repeat([]byte("another, longer result line\n"), 9000)}
	var msgs []*nats.Msg
	for _, in := range inputs {
		msgs = append(msgs, c.msg("fanout.r.r.1", in))
	}
	for i, m := range msgs {
		if got := m.Header.Get(encHeader); got != "s2" {
			t.Errorf("message %d: %s %q, want s2", i, encHeader, got)
		}
		got, err := s2.Decode(nil, m.Data)
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if !bytes.Equal(got, inputs[i]) {
			t.Errorf("message %d: body decodes to %d bytes unlike its input of %d", i, len(got), len(inputs[i]))
		}
	}
}

// BenchmarkStartedAt is collect's per-result cost of reading started_at for
// its summary, on a sample record:
//
//	go test -run '^$' -bench StartedAt ./dist/
func BenchmarkStartedAt(b *testing.B) {
	rs := sampleResults()
	rec := output.AppendJSONL(nil, &rs[0])
	for b.Loop() {
		if startedAt(rec).IsZero() {
			b.Fatal("no started_at")
		}
	}
}

// TestResultLineNotAnObject: a result line whose record is not a JSON
// object is an error, as the decoded path's is; collect's pass-through,
// which puts its verdict before the closing brace, glued an empty record's
// verdict onto the line before (or panicked on an empty buffer).
func TestResultLineNotAnObject(t *testing.T) {
	t.Parallel()
	for _, rec := range []string{"", "{", "x", `{"input":"a"}` + "\r", `"a"`} {
		var l resultLine
		if _, err := nextResultLine([]byte("1\t200\t\t0\t1.5\t"+rec+"\n"), &l); err == nil {
			t.Errorf("record %q: no error", rec)
		}
	}
	var l resultLine
	if _, err := nextResultLine([]byte("1\t200\t\t0\t1.5\t{\"input\":\"a\"}\n"), &l); err != nil {
		t.Errorf("a good record: %v", err)
	}
}
