package engine

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/fanout/fanout/fetch"
	"github.com/fanout/fanout/input"
)

// TestKeepAlivePoolSpansHosts: on a list that cycles over more hosts than
// requests in flight, every host's connection stays in the pool until its
// next turn (IdlePerRequest idle connections per request), so each host is
// dialled about once. With one idle connection per request the pool held
// half the hosts and nearly every request dialled again.
func TestKeepAlivePoolSpansHosts(t *testing.T) {
	t.Parallel()
	var dials atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("<title>ok</title>"))
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			dials.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())

	const hosts, rounds, concurrency = 32, 8, 16 // hosts = IdlePerRequest × concurrency
	var urls []string
	for i := range hosts * rounds {
		urls = append(urls, fmt.Sprintf("http://h%d.test:%s/%d", i%hosts, port, i))
	}
	cfg := DefaultConfig()
	cfg.Limits.Concurrency, cfg.Limits.PerHost = concurrency, 1
	p, _ := strconv.Atoi(port)
	cfg.Request.Resolve = []fetch.Resolve{{Host: "*", Port: p, Addrs: []string{"127.0.0.1"}}}
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	n := 0
	for r := range e.Start(context.Background(), input.NewReader(input.Options{}, input.Args(urls))).Results() {
		if r.Error != nil || r.Status != 200 {
			t.Fatalf("%s: status %d, error %v", r.URL, r.Status, r.Error)
		}
		n++
	}
	if n != len(urls) {
		t.Fatalf("%d results for %d targets", n, len(urls))
	}
	// One dial per host, and some slack for a connection the server or the
	// pool closed between turns; 1 idle per request dialled ~200 times.
	if d := dials.Load(); d > 2*hosts {
		t.Errorf("%d connections dialled for %d requests over %d hosts, want at most %d", d, len(urls), hosts, 2*hosts)
	}
}

// Which outcomes are tried again: failures another attempt may not repeat
// (a local shortage of descriptors or ports included: other connections
// free them), and the statuses that mean "later"; not the target's own
// verdicts.
func TestRetryable(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		r    fetch.Result
		want bool
	}{
		{fetch.Result{Error: &fetch.Error{Kind: fetch.KindRefused}}, true},
		{fetch.Result{Error: &fetch.Error{Kind: fetch.KindRefused, Permanent: true}}, false}, // a proxy's 407
		{fetch.Result{Error: &fetch.Error{Kind: fetch.KindConnectTimeout}}, true},
		{fetch.Result{Error: &fetch.Error{Kind: fetch.KindTimeout}}, true},
		{fetch.Result{Error: &fetch.Error{Kind: fetch.KindReset}}, true},
		{fetch.Result{Error: &fetch.Error{Kind: fetch.KindLocal}}, true},
		{fetch.Result{Error: &fetch.Error{Kind: fetch.KindDNS}}, false},
		{fetch.Result{Error: &fetch.Error{Kind: fetch.KindDNS, Transient: true}}, true},
		{fetch.Result{Method: "POST", Error: &fetch.Error{Kind: fetch.KindDNS, Transient: true}}, true},
		{fetch.Result{Error: &fetch.Error{Kind: fetch.KindTLS}}, false},
		{fetch.Result{Error: &fetch.Error{Kind: fetch.KindProtocol}}, false},
		{fetch.Result{Status: 503}, true},
		{fetch.Result{Status: 429}, true},
		{fetch.Result{Status: 500}, false},
		{fetch.Result{Status: 200}, false},
		// A POST is sent again only when the first surely did nothing.
		{fetch.Result{Method: "POST", Error: &fetch.Error{Kind: fetch.KindRefused}}, true},
		{fetch.Result{Method: "POST", Error: &fetch.Error{Kind: fetch.KindConnectTimeout}}, true},
		{fetch.Result{Method: "POST", Error: &fetch.Error{Kind: fetch.KindTimeout}}, false},
		{fetch.Result{Method: "POST", Error: &fetch.Error{Kind: fetch.KindReset}}, false},
		{fetch.Result{Method: "PATCH", Status: 502}, false},
		{fetch.Result{Method: "POST", Status: 504}, false},
		{fetch.Result{Method: "POST", Status: 503}, true},
		{fetch.Result{Method: "POST", Status: 429}, true},
		{fetch.Result{Method: "PUT", Error: &fetch.Error{Kind: fetch.KindTimeout}}, true},
		{fetch.Result{Method: "delete", Status: 502}, true},
		// After a redirect, the first request went through.
		{fetch.Result{Method: "POST", Status: 503, Redirects: []fetch.Hop{{URL: "http://a/", Status: 303}}}, false},
		{fetch.Result{Method: "POST", Redirects: []fetch.Hop{{URL: "http://a/", Status: 307}}, Error: &fetch.Error{Kind: fetch.KindRefused}}, false},
		{fetch.Result{Method: "GET", Status: 503, Redirects: []fetch.Hop{{URL: "http://a/", Status: 302}}}, true},
	} {
		name := tc.r.Method + " " + fmt.Sprint(tc.r.Status)
		if tc.r.Error != nil {
			name = tc.r.Method + " " + string(tc.r.Error.Kind)
		}
		if got := retryable(&tc.r, "GET"); got != tc.want {
			t.Errorf("retryable(%s) = %v, want %v", name, got, tc.want)
		}
	}
}

// A Fetcher of the caller's own that leaves Result.Method empty made a
// POST run's timed-out request look like a GET's, and sent it again (a
// webhook fired twice). The method the run is configured with decides as
// much as the one the result reports.
func TestRetryNotIdempotentByConfig(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		method   string // cfg.Request.Method
		body     []byte // cfg.Request.Body
		reported string // what the fetcher puts in Result.Method
		attempts int
	}{
		{"GET, not reported", "", nil, "", 3},
		{"POST, not reported", "POST", nil, "", 1},
		{"POST reported as GET", "POST", nil, "GET", 1},
		{"a body means POST", "", []byte("x"), "", 1},
		{"PUT is idempotent", "PUT", []byte("x"), "", 3},
		{"POST reported, GET configured", "", nil, "POST", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFake(func(ctx context.Context, tg fetch.Target, n int) fetch.Result {
				return fetch.Result{Method: tc.reported, Error: &fetch.Error{Kind: fetch.KindTimeout, Message: "timed out"}}
			})
			c := testConfig()
			c.Retry.Max = 2
			c.Request.Method, c.Request.Body = tc.method, tc.body
			got := collect(t, mustEngine(t, c, f).Start(context.Background(), SliceSource([]fetch.Target{target(0, "a")})))
			if got[0].Attempts != tc.attempts || f.calls[0] != tc.attempts {
				t.Errorf("%d attempts (%d fetches) after a timeout, want %d", got[0].Attempts, f.calls[0], tc.attempts)
			}
		})
	}
}
