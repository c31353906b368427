package engine_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"

	"github.com/fanout/fanout/engine"
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
