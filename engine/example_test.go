package engine_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/fanout/fanout/engine"
	"github.com/fanout/fanout/fetch"
	"github.com/fanout/fanout/input"
)

// Fetch a few URLs with the engine directly, no CLI involved: read targets
// with package input, run them, and read one result per target from the
// channel until it closes.
func Example() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/missing" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprint(w, "<title>Hello</title>")
	}))
	defer srv.Close()

	cfg := engine.DefaultConfig()
	cfg.Limits.Concurrency = 10
	cfg.Retry.Max = 0
	eng, err := engine.New(cfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer eng.Close()

	list := strings.Join([]string{srv.URL + "/", srv.URL + "/missing", "ftp://nowhere"}, "\n")
	targets := input.NewReader(input.Options{Dedupe: true}, input.Source{Name: "list", R: strings.NewReader(list)})

	run := eng.Start(context.Background(), targets)
	var lines []string
	for r := range run.Results() { // results arrive as they complete
		line := fmt.Sprintf("%d %d %q", r.Seq, r.Status, r.Title)
		if r.Error != nil {
			line += " " + string(r.Error.Kind)
		}
		lines = append(lines, line)
	}
	if err := run.Err(); err != nil {
		fmt.Println("reading targets:", err)
	}
	sort.Strings(lines)
	fmt.Println(strings.Join(lines, "\n"))
	// Output:
	// 0 200 "Hello"
	// 1 404 ""
	// 2 0 "" invalid_url
}

// flakyWeb is a Fetcher that needs no network: every URL answers 200, except
// that a URL ending in /flaky answers 503 the first time it is asked.
type flakyWeb struct {
	mu    sync.Mutex
	asked map[string]int
}

func (w *flakyWeb) Fetch(ctx context.Context, t *fetch.Target, r *fetch.Result) {
	w.mu.Lock()
	w.asked[t.URL]++
	n := w.asked[t.URL]
	w.mu.Unlock()
	r.URL, r.FinalURL, r.Status = t.URL, t.URL, http.StatusOK
	if strings.HasSuffix(t.URL, "/flaky") && n == 1 {
		r.Status = http.StatusServiceUnavailable
	}
}

// Plug in a Fetcher of your own (a fake for tests, another transport) and
// feed targets built in memory. The engine still schedules and retries: the
// 503 is tried again, and Attempts counts both attempts.
func ExampleNewWithFetcher() {
	cfg := engine.DefaultConfig()
	cfg.Retry.Base, cfg.Retry.Cap = time.Millisecond, time.Millisecond // retry at once
	eng, err := engine.NewWithFetcher(cfg, &flakyWeb{asked: map[string]int{}})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer eng.Close()

	// input.Targets would number the targets and give each its host key;
	// by hand, give each its own Seq (an empty HostKey is taken from the URL).
	targets := []fetch.Target{
		{Seq: 0, Input: "a", URL: "http://a.test/"},
		{Seq: 1, Input: "b", URL: "http://b.test/flaky"},
	}
	bySeq := map[uint64]string{}
	run := eng.Start(context.Background(), engine.SliceSource(targets))
	for r := range run.Results() {
		bySeq[r.Seq] = fmt.Sprintf("%s %d after %d attempt(s)", r.Input, r.Status, r.Attempts)
	}
	fmt.Println(bySeq[0])
	fmt.Println(bySeq[1])
	fmt.Println("retries:", run.Stats().Retries)
	// Output:
	// a 200 after 1 attempt(s)
	// b 200 after 2 attempt(s)
	// retries: 1
}
