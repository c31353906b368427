package simweb

import (
	"io"
	"testing"
)

// BenchmarkServeOK measures /ok over keep-alive with a plain client; the
// client's own cost dominates, which is the point: simweb is not the
// bottleneck.
func BenchmarkServeOK(b *testing.B) {
	s := start(b, Config{})
	c := client(b, s)
	url := s.URL("h1.sim", "/ok")
	b.ReportAllocs()
	b.SetBytes(OKPageSize)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := c.Get(url)
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}

// BenchmarkHandlerOK measures the server's own handler cost without a
// network: the allocations reported are simweb's alone.
func BenchmarkHandlerOK(b *testing.B) {
	s := start(b, Config{})
	req := httptestRequest("GET", "http://h1.sim/ok")
	w := &discardWriter{h: make(map[string][]string)}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		s.ServeHTTP(w, req)
	}
}
