package cli

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// oneHost is a loopback server that records the most requests it had in
// flight at once, whatever Host header they carried, and those headers.
type oneHost struct {
	*httptest.Server
	mu       sync.Mutex
	inflight int
	peak     int
	hosts    map[string]int
}

func newOneHost(t *testing.T) *oneHost {
	s := &oneHost{hosts: map[string]int{}}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.inflight++
		s.peak = max(s.peak, s.inflight)
		s.hosts[r.Host]++
		s.mu.Unlock()
		select {
		case <-time.After(150 * time.Millisecond):
		case <-r.Context().Done():
		}
		s.mu.Lock()
		s.inflight--
		s.mu.Unlock()
	}))
	t.Cleanup(s.Close)
	return s
}

// Spellings of one host share its --per-host limit: the server behind
// them sees one request at a time. Each spelling is still fetched as
// written (its own Host header), and the same path under two spellings is
// not a duplicate: the Host header differs, and a server may route by it.
func TestPerHostLimitAcrossSpellings(t *testing.T) {
	for _, tc := range []struct {
		name      string
		spellings []string // hosts, as in a URL
		resolve   bool     // pin names to 127.0.0.1 (with --resolve): no DNS
	}{
		{"ipv4-mapped ipv6", []string{"127.0.0.1", "[::ffff:127.0.0.1]"}, false},
		{"trailing dot", []string{"name.test", "name.test."}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newOneHost(t)
			port := s.Listener.Addr().(*net.TCPAddr).Port
			var args []string
			for i := range 3 {
				for _, h := range tc.spellings {
					args = append(args, fmt.Sprintf("http://%s:%d/%d", h, port, i))
				}
			}
			flags := []string{"-f", "jsonl", "-q", "-c", "8", "--per-host", "1", "--retries", "0"}
			if tc.resolve {
				flags = append(flags, "--resolve", fmt.Sprintf("*:%d:127.0.0.1", port))
			}
			code, out, errOut := runCLI(t, "", append(flags, args...)...)
			if rs := decodeLines(t, out); code != ExitOK || len(rs) != len(args) {
				t.Fatalf("exit %d, %d results, want %d fetched (stderr %q)", code, len(rs), len(args), errOut)
			}
			s.mu.Lock()
			defer s.mu.Unlock()
			if s.peak != 1 {
				t.Errorf("the server saw %d requests at once, want 1 (--per-host 1)", s.peak)
			}
			for _, h := range tc.spellings {
				if want := fmt.Sprintf("%s:%d", h, port); s.hosts[want] != 3 {
					t.Errorf("Host %s sent %d times, want 3 (hosts seen: %v)", want, s.hosts[want], s.hosts)
				}
			}
		})
	}
}
