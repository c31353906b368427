package simweb

import (
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
)

// burst sends n concurrent GETs and returns their statuses and the
// Retry-After headers of the 429s.
func burst(t *testing.T, c *http.Client, url string, n int) (statuses []int, retryAfters []string) {
	t.Helper()
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			resp, body := get(t, c, url)
			_ = body
			mu.Lock()
			defer mu.Unlock()
			statuses = append(statuses, resp.StatusCode)
			if resp.StatusCode == 429 {
				retryAfters = append(retryAfters, resp.Header.Get("Retry-After"))
			}
		})
	}
	wg.Wait()
	return statuses, retryAfters
}

func count(xs []int, v int) int {
	n := 0
	for _, x := range xs {
		if x == v {
			n++
		}
	}
	return n
}

func TestPolitenessConcurrency(t *testing.T) {
	s := start(t, Config{})
	c := client(t, s)
	const k = 2
	// The admitted requests are held for 1s, so the other K+3-K arrive while
	// K are held and must be refused.
	statuses, ras := burst(t, c, s.URL("polite.sim", fmt.Sprintf("/delay/1s?polite=%d", k)), k+3)
	if n429 := count(statuses, 429); n429 < 3 || count(statuses, 200) > k {
		t.Errorf("statuses %v: want at least 3 429s and at most %d 200s", statuses, k)
	}
	for _, ra := range ras {
		if ra != "1" {
			t.Errorf("429 with Retry-After %q, want 1", ra)
		}
	}
	if got, want := s.TooMany("polite.sim"), int64(count(statuses, 429)); got != want {
		t.Errorf("TooMany = %d, want %d", got, want)
	}
	if got := s.Requests("polite.sim"); got != k+3 {
		t.Errorf("Requests = %d, want %d", got, k+3)
	}
	if got := s.MaxConcurrent("polite.sim"); got < k+1 || got > k+3 {
		t.Errorf("MaxConcurrent = %d, want between %d and %d", got, k+1, k+3)
	}
	if st := s.Stats(); st.Requests != k+3 || st.TooMany != s.TooMany("polite.sim") || st.Hosts != 1 {
		t.Errorf("Stats = %+v", st)
	}
}

// A client that keeps to two concurrent requests is never refused, and the
// server's MaxConcurrent equals the client's own measured maximum.
func TestPolitenessRealMax(t *testing.T) {
	s := start(t, Config{HostLimits: map[string]Limit{"calm.sim": {Concurrent: 2}}})
	c := client(t, s)
	var inflight, maxSeen atomic.Int64
	var wg sync.WaitGroup
	var refused atomic.Int64
	for range 2 {
		wg.Go(func() {
			for i := range 4 {
				n := inflight.Add(1)
				for m := maxSeen.Load(); n > m && !maxSeen.CompareAndSwap(m, n); m = maxSeen.Load() {
				}
				resp, _ := get(t, c, s.URL("calm.sim", fmt.Sprintf("/delay/100ms?n=%d", i)))
				inflight.Add(-1)
				if resp.StatusCode != 200 {
					refused.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if refused.Load() != 0 || s.TooMany("calm.sim") != 0 {
		t.Errorf("polite client refused %d times (TooMany %d)", refused.Load(), s.TooMany("calm.sim"))
	}
	if got, want := s.MaxConcurrent("calm.sim"), int(maxSeen.Load()); got != want {
		t.Errorf("MaxConcurrent = %d, client's max = %d", got, want)
	}
	if s.Requests("calm.sim") != 8 || s.MaxConcurrent("other.sim") != 0 {
		t.Errorf("Requests = %d, other host MaxConcurrent = %d", s.Requests("calm.sim"), s.MaxConcurrent("other.sim"))
	}
}

func TestPolitenessRate(t *testing.T) {
	s := start(t, Config{})
	c := client(t, s)
	var statuses []int
	for range 12 {
		resp, _ := get(t, c, s.URL("rate.sim", "/ok?rps=3"))
		statuses = append(statuses, resp.StatusCode)
	}
	// 12 quick requests span at most two one-second windows: at most 6 pass.
	if n := count(statuses, 200); n < 3 || n > 6 || count(statuses, 429) != 12-n {
		t.Errorf("rps=3: statuses %v", statuses)
	}
}

func TestProfileHostLimit(t *testing.T) {
	var strict string
	for i := range 1000 {
		if h := fmt.Sprintf("h%d.sim", i); ProfileFor(7, h).Name == "strict" {
			strict = h
			break
		}
	}
	if strict == "" {
		t.Fatal("no strict host among 1000 names")
	}
	s := start(t, Config{Seed: 7})
	c := client(t, s)
	statuses, _ := burst(t, c, s.URL(strict, "/page/x"), 8)
	if count(statuses, 429) == 0 {
		t.Errorf("8 concurrent /page requests to strict host %s: %v, want some 429", strict, statuses)
	}
}
