package output_test

import (
	"fmt"
	"os"
	"time"

	"github.com/fanout/fanout/fetch"
	"github.com/fanout/fanout/output"
)

// exampleResults are two results as the engine would deliver them, in the
// order they completed.
func exampleResults() []*fetch.Result {
	at := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	n := int64(1234)
	return []*fetch.Result{
		{Seq: 1, Input: "http://127.0.0.1:8080/gone", URL: "http://127.0.0.1:8080/gone",
			Error:    &fetch.Error{Kind: fetch.KindRefused, Message: "connect: connection refused"},
			Attempts: 3, StartedAt: at, Timing: fetch.Timing{Connect: 0.2, Total: 0.4}},
		{Seq: 0, Input: "127.0.0.1:8080", URL: "http://127.0.0.1:8080/", FinalURL: "http://127.0.0.1:8080/",
			Status: 200, Proto: "HTTP/1.1", Method: "GET", ContentType: "text/html",
			ContentLength: &n, Bytes: 1234, Title: "Home", IP: "127.0.0.1",
			Attempts: 1, StartedAt: at, Timing: fetch.Timing{Connect: 0.3, TTFB: 2, Transfer: 0.5, Total: 2.8}},
	}
}

// Write results as JSON Lines, the stable schema of README.md. Flush at
// the end: the encoder buffers whole lines.
func ExampleNewEncoder() {
	enc, err := output.NewEncoder("jsonl", os.Stdout, output.EncoderOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, r := range exampleResults() {
		if err := enc.Encode(r); err != nil {
			fmt.Println(err)
			return
		}
	}
	if err := enc.Flush(); err != nil {
		fmt.Println(err)
	}
	// Output:
	// {"input":"http://127.0.0.1:8080/gone","url":"http://127.0.0.1:8080/gone","final_url":"","status":0,"proto":"","method":"","content_type":"","content_length":null,"bytes":0,"truncated":false,"title":"","server":"","ip":"","redirects":null,"attempts":3,"timing":{"dns":0,"connect":0.2,"tls":0,"ttfb":0,"transfer":0,"total":0.4},"error":{"kind":"refused","message":"connect: connection refused"},"started_at":"2025-01-02T03:04:05Z","accepted":false}
	// {"input":"127.0.0.1:8080","url":"http://127.0.0.1:8080/","final_url":"http://127.0.0.1:8080/","status":200,"proto":"HTTP/1.1","method":"GET","content_type":"text/html","content_length":1234,"bytes":1234,"truncated":false,"title":"Home","server":"","ip":"127.0.0.1","redirects":null,"attempts":1,"timing":{"dns":0,"connect":0.3,"tls":0,"ttfb":2,"transfer":0.5,"total":2.8},"error":null,"started_at":"2025-01-02T03:04:05Z","accepted":true}
}

// The text format, for people: status, time, size, URL and title, or the
// error. Accept decides which statuses it shows as failures.
func ExampleNewEncoder_text() {
	enc, _ := output.NewEncoder("text", os.Stdout, output.EncoderOptions{Accept: output.DefaultAccept()})
	for _, r := range exampleResults() {
		_ = enc.Encode(r)
	}
	_ = enc.Flush()
	// Output:
	// ERR  0.40ms       -  http://127.0.0.1:8080/gone  refused: connect: connection refused
	// 200   2.8ms   1.2KB  http://127.0.0.1:8080/  "Home"
}

// Accept says which results count as success, in lychee's range syntax. A
// result with an error is never accepted.
func ExampleParseAccept() {
	a, err := output.ParseAccept("200..=299, 304")
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, code := range []int{200, 301, 304, 404} {
		fmt.Println(code, a.Status(code))
	}
	fmt.Println(a.OK(&fetch.Result{Status: 200, Error: &fetch.Error{Kind: fetch.KindProtocol}}))
	_, err = output.ParseAccept("2xx")
	fmt.Println(err)
	// Output:
	// 200 true
	// 301 false
	// 304 true
	// 404 false
	// false
	// --accept: bad range "2xx": want a status 100-999 (200), a range (200..300 ends before 300, 200..=299 includes it), comma-separated
}

// Results arrive as they complete; Reorder hands them on in input order
// (by Seq), holding back only those that arrive early.
func ExampleNewReorder() {
	ro := output.NewReorder(func(r *fetch.Result) error {
		fmt.Println(r.Seq, r.Input)
		return nil
	})
	for _, r := range exampleResults() { // Seq 1 first, then 0
		if err := ro.Push(r); err != nil {
			fmt.Println(err)
		}
	}
	fmt.Println("pending:", ro.Pending())
	// Output:
	// 0 127.0.0.1:8080
	// 1 http://127.0.0.1:8080/gone
	// pending: 0
}

// A Summary counts results as they come and writes the end-of-run report.
func ExampleSummary() {
	var s output.Summary // the zero Summary uses the default accept rule
	for _, r := range exampleResults() {
		s.Add(r)
	}
	fmt.Println("failed:", s.Failed(), "of", s.Total())
	s.SetDuplicates(0) // the input's duplicate lines, which never became results
	_ = s.Write(os.Stdout, 10*time.Millisecond)
	// Output:
	// failed: 1 of 2
	// results       2 total, 1 accepted, 1 failed
	// status        1xx 0  2xx 1  3xx 0  4xx 0  5xx 0  no response 1
	// errors        refused 1
	// failed        refused         http://127.0.0.1:8080/gone
	// retries       2 (1 target took more than one attempt)
	// latency       p50 0.40ms  p90 2.8ms  p99 2.8ms  max 2.8ms
	// bytes         1.2KB
	// wall time     10ms
	// request time  3.2ms summed (last attempts), 0.3x speedup
	// rate          200 requests/s
	// duplicates    0 dropped from the input
}
