package simweb

import (
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// hostState holds one host's counters and politeness state. Counters are
// atomics so that the common path takes no lock beyond the map read lock.
type hostState struct {
	profile  Profile
	inflight atomic.Int64 // requests being handled now, refused ones included
	maxSeen  atomic.Int64
	requests atomic.Int64
	tooMany  atomic.Int64
	admitted atomic.Int64 // requests admitted under a concurrency limit

	rateMu     sync.Mutex
	rateWindow int64 // unix second of the current rate window
	rateCount  int
}

// hostKey returns the lower-case host name of a Host header, without port.
func hostKey(h string) string {
	if strings.HasPrefix(h, "[") {
		if i := strings.IndexByte(h, ']'); i > 0 {
			h = h[1:i]
		}
	} else if i := strings.LastIndexByte(h, ':'); i >= 0 && strings.IndexByte(h, ':') == i {
		h = h[:i]
	}
	return strings.ToLower(h) // returns h itself when already lower case
}

func (s *Server) hostState(host string) *hostState {
	s.hostsMu.RLock()
	hs := s.hosts[host]
	s.hostsMu.RUnlock()
	if hs != nil {
		return hs
	}
	s.hostsMu.Lock()
	defer s.hostsMu.Unlock()
	if hs = s.hosts[host]; hs == nil {
		host = strings.Clone(host) // do not pin the request's Host string
		hs = &hostState{profile: ProfileFor(s.cfg.Seed, host)}
		s.hosts[host] = hs
	}
	return hs
}

func (s *Server) lookup(host string) *hostState {
	s.hostsMu.RLock()
	defer s.hostsMu.RUnlock()
	return s.hosts[strings.ToLower(host)]
}

// MaxConcurrent returns the most requests to host (name without port) that
// the server was handling at the same moment, refused ones included.
func (s *Server) MaxConcurrent(host string) int {
	if hs := s.lookup(host); hs != nil {
		return int(hs.maxSeen.Load())
	}
	return 0
}

// Requests returns how many requests host received.
func (s *Server) Requests(host string) int64 {
	if hs := s.lookup(host); hs != nil {
		return hs.requests.Load()
	}
	return 0
}

// TooMany returns how many requests to host were refused with 429.
func (s *Server) TooMany(host string) int64 {
	if hs := s.lookup(host); hs != nil {
		return hs.tooMany.Load()
	}
	return 0
}

// Stats is a snapshot of the server's totals.
type Stats struct {
	Requests int64 // all requests received
	TooMany  int64 // requests refused with 429
	Hosts    int   // distinct host names seen
}

// Stats returns the server's totals.
func (s *Server) Stats() Stats {
	s.hostsMu.RLock()
	defer s.hostsMu.RUnlock()
	st := Stats{Requests: s.total.Load(), Hosts: len(s.hosts)}
	for _, hs := range s.hosts {
		st.TooMany += hs.tooMany.Load()
	}
	return st
}

// enter records the start of a request and returns the in-flight count.
func (hs *hostState) enter() {
	n := hs.inflight.Add(1)
	hs.requests.Add(1)
	for {
		m := hs.maxSeen.Load()
		if n <= m || hs.maxSeen.CompareAndSwap(m, n) {
			return
		}
	}
}

// admit applies lim; it reports whether the request may proceed and, if
// so, whether a concurrency slot must be released when it ends.
func (hs *hostState) admit(lim Limit) (ok, holdsSlot bool) {
	if lim.Concurrent > 0 {
		if hs.admitted.Add(1) > int64(lim.Concurrent) {
			hs.admitted.Add(-1)
			return false, false
		}
		holdsSlot = true
	}
	if lim.PerSecond > 0 {
		now := time.Now().Unix()
		hs.rateMu.Lock()
		if hs.rateWindow != now {
			hs.rateWindow, hs.rateCount = now, 0
		}
		hs.rateCount++
		over := hs.rateCount > lim.PerSecond
		hs.rateMu.Unlock()
		if over {
			if holdsSlot {
				hs.admitted.Add(-1)
			}
			return false, false
		}
	}
	return true, holdsSlot
}

// limitFor returns the politeness rule for this request: Config.HostLimits,
// then the host profile (for /page paths), then ?polite=K and ?rps=R.
func (s *Server) limitFor(host string, hs *hostState, r *http.Request) Limit {
	var lim Limit
	if s.cfg.HostLimits != nil {
		lim = s.cfg.HostLimits[host]
	}
	if strings.HasPrefix(r.URL.Path, "/page") && (hs.profile.MaxConcurrent > 0 || hs.profile.MaxRate > 0) {
		lim = Limit{Concurrent: hs.profile.MaxConcurrent, PerSecond: hs.profile.MaxRate}
	}
	q := r.URL.RawQuery
	if strings.Contains(q, "polite=") || strings.Contains(q, "rps=") {
		v := r.URL.Query()
		if k, err := strconv.Atoi(v.Get("polite")); err == nil && k > 0 {
			lim.Concurrent = k
		}
		if k, err := strconv.Atoi(v.Get("rps")); err == nil && k > 0 {
			lim.PerSecond = k
		}
	}
	return lim
}

// ServeHTTP counts the request against its host, applies politeness
// limits, then dispatches on the path (see the package documentation).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.active.Add(1)
	defer s.active.Add(-1)
	s.total.Add(1)
	host := hostKey(r.Host)
	hs := s.hostState(host)
	hs.enter()
	defer hs.inflight.Add(-1)
	if lim := s.limitFor(host, hs, r); lim.active() {
		ok, holdsSlot := hs.admit(lim)
		if !ok {
			hs.tooMany.Add(1)
			h := w.Header()
			h["Retry-After"] = hvRetryAfter1
			h["Content-Type"] = hvHTML
			w.WriteHeader(http.StatusTooManyRequests)
			w.Write(statusPage(http.StatusTooManyRequests))
			return
		}
		if holdsSlot {
			defer hs.admitted.Add(-1)
		}
	}
	s.route(w, r, host, hs)
}
