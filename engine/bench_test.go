package engine

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/fanout/fanout/fetch"
)

// BenchmarkSchedulerOverhead measures what the engine itself costs per
// target: admission, dispatch, one goroutine per attempt and delivery,
// with a fetcher that answers at once.
func BenchmarkSchedulerOverhead(b *testing.B) {
	for _, hosts := range []int{1, 1000} {
		b.Run(fmt.Sprintf("hosts=%d", hosts), func(b *testing.B) {
			keys := make([]string, hosts)
			for i := range keys {
				keys[i] = fmt.Sprintf("h%d:80", i)
			}
			c := DefaultConfig()
			c.Limits.Concurrency, c.Limits.PerHost = 100, 100
			e, err := NewWithFetcher(c, instant{})
			if err != nil {
				b.Fatal(err)
			}
			i := 0
			src := FuncSource(func() (fetch.Target, error) {
				if i == b.N {
					return fetch.Target{}, io.EOF
				}
				i++
				return fetch.Target{Seq: uint64(i), URL: "http://x/", HostKey: keys[i%hosts]}, nil
			})
			b.ReportAllocs()
			b.ResetTimer()
			n := 0
			for range e.Start(context.Background(), src).Results() {
				n++
			}
			if n != b.N {
				b.Fatalf("results %d != %d", n, b.N)
			}
		})
	}
}

type instant struct{}

func (instant) Fetch(_ context.Context, t *fetch.Target, r *fetch.Result) {
	r.URL, r.Status = t.URL, 200
}

// BenchmarkEngineLoopback runs real requests through engine and fetch to
// a loopback server with a 1 KiB page, keep-alive on. Its CPU time per op
// includes the in-process server; compare profiles, not absolute numbers.
func BenchmarkEngineLoopback(b *testing.B) {
	page := "<html><head><title>ok</title></head><body>" + strings.Repeat("x", 1000) + "</body></html>"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, page)
	}))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	c := DefaultConfig()
	c.Limits.Concurrency, c.Limits.PerHost = 50, 50
	e, err := New(c)
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	url := srv.URL + "/ok"
	i := 0
	src := FuncSource(func() (fetch.Target, error) {
		if i == b.N {
			return fetch.Target{}, io.EOF
		}
		i++
		return fetch.Target{Seq: uint64(i), Input: url, URL: url, HostKey: "127.0.0.1:" + port}, nil
	})
	b.ReportAllocs()
	b.ResetTimer()
	for r := range e.Start(context.Background(), src).Results() {
		if r.Error != nil {
			b.Fatal(r.Error.Message)
		}
	}
}
