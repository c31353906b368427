package dist

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fanout/fanout/engine"
)

// countingSite is a loopback HTTP server that counts the requests for each
// path and answers each with a page whose title is titleLen hex digits
// derived from the path: results that barely compress.
type countingSite struct {
	*httptest.Server
	mu   sync.Mutex
	hits map[string]int
}

func startCountingSite(t testing.TB, titleLen int) *countingSite {
	t.Helper()
	s := &countingSite{hits: map[string]int{}}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.hits[r.URL.Path]++
		s.mu.Unlock()
		var title []byte
		for i := 0; len(title) < titleLen; i++ {
			h := sha256.Sum256(fmt.Appendf(nil, "%s#%d", r.URL.Path, i))
			title = hex.AppendEncode(title, h[:])
		}
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprintf(w, "<html><head><title>%s</title></head><body>ok</body></html>", title[:titleLen])
	}))
	t.Cleanup(s.Close)
	return s
}

// urls returns n URLs of the site, paths /p/0 to /p/<n-1> after prefix.
func (s *countingSite) urls(n int, prefix string) []string {
	u := make([]string, n)
	for i := range u {
		u[i] = fmt.Sprintf("%s/p/%s%d", s.URL, prefix, i)
	}
	return u
}

// checkOnce fails unless each of urls was requested exactly once.
func (s *countingSite) checkOnce(t testing.TB, urls []string) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	var bad []string
	total := 0
	for _, u := range urls {
		p := strings.TrimPrefix(u, s.URL)
		total += s.hits[p]
		if s.hits[p] != 1 {
			bad = append(bad, fmt.Sprintf("%s %d times", p, s.hits[p]))
		}
	}
	if len(bad) > 0 {
		t.Fatalf("%d requests for %d targets; not once each: %s", total, len(urls), strings.Join(bad[:min(len(bad), 5)], ", "))
	}
}

func (s *countingSite) requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.hits {
		n += c
	}
	return n
}

// siteEngine is an engine configuration for a loopback site: no name to
// resolve, every target on one host.
func siteEngine() engine.Config {
	c := engine.DefaultConfig()
	c.Limits.Concurrency, c.Limits.PerHost = 16, 16
	c.Request.Timeout = 10 * time.Second
	return c
}

// serveToEnd runs a worker on run until the run is done, within limit,
// and collects its results: each target must have exactly one result,
// fetched with status 200, and each URL must have been requested once.
func serveToEnd(t *testing.T, url string, site *countingSite, run string, urls []string, limit time.Duration) *Worker {
	t.Helper()
	w := newWorker(t, url, WorkerConfig{Engine: siteEngine(), Run: run, ID: "w1", ExitWhenDone: true})
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	if err := w.Run(ctx, nil); err != nil {
		t.Fatalf("worker: %v (it fetched %d targets for %d, the site served %d requests)",
			err, w.fetched.Load(), len(urls), site.requests())
	}
	site.checkOnce(t, urls)
	collectOK(t, url, run, urls)
	return w
}

// collectOK collects run to its end (within 30 s) and checks that each
// of urls has one result, a 200.
func collectOK(t *testing.T, url, run string, urls []string) {
	t.Helper()
	col := newCollector()
	cctx, ccancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer ccancel()
	if _, err := Collect(cctx, connect(t, url), run, CollectOptions{Follow: true}, col.emit, func() error { return nil }); err != nil {
		t.Fatalf("Collect: %v", err)
	}
	col.check(t, len(urls), urls)
	for seq, r := range col.results {
		if r.Error != nil || r.Status != 200 {
			t.Fatalf("seq %d: status %d error %v, want 200", seq, r.Status, r.Error)
		}
	}
}
