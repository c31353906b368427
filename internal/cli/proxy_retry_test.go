package cli

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// TestProxyRefusalRetries: a proxy that answers an https target's tunnel
// request with a 4xx (407: it wants credentials) gets that request once,
// since every retry would be refused the same way; one that answers 502
// (it could not reach the target), 429 or 408 (its load) is retried. Both are refused, the 407
// with a hint at the credentials.
func TestProxyRefusalRetries(t *testing.T) {
	for _, c := range []struct {
		status, want int
		hint         bool
	}{
		{http.StatusProxyAuthRequired, 1, true},
		{http.StatusForbidden, 1, false},
		{http.StatusBadGateway, 3, false},
		{http.StatusTooManyRequests, 3, false}, // a rotating proxy over its limit
		{http.StatusRequestTimeout, 3, false},
	} {
		t.Run(http.StatusText(c.status), func(t *testing.T) {
			var connects atomic.Int32
			px := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method == http.MethodConnect {
					connects.Add(1)
				}
				w.WriteHeader(c.status)
			}))
			defer px.Close()
			code, out, stderr := runCLI(t, "", "-q", "-f", "jsonl", "--retries", "2", "--proxy", px.URL, "https://secure.test/")
			if code != ExitFailures {
				t.Fatalf("exit %d, stderr %q", code, stderr)
			}
			rs := decodeLines(t, out)
			if len(rs) != 1 || rs[0].Error == nil {
				t.Fatalf("want one failed result, got %q", out)
			}
			r := rs[0]
			if r.Error.Kind != "refused" || r.Attempts != c.want || int(connects.Load()) != c.want {
				t.Errorf("kind %q, %d attempts, %d CONNECTs; want refused and %d", r.Error.Kind, r.Attempts, connects.Load(), c.want)
			}
			if got := strings.Contains(r.Error.Message, "credentials"); got != c.hint {
				t.Errorf("message %q: mentions credentials %v, want %v", r.Error.Message, got, c.hint)
			}
		})
	}
}
