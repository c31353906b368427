package cli

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
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

// A SOCKS proxy's refusal of the password is not retried either; its
// report that the target refused the connection is.
func TestSOCKSRefusalRetries(t *testing.T) {
	for _, c := range []struct {
		name string
		rep  byte // the CONNECT reply's code, after a password accepted or not
		pass byte // the password verdict: 0 accepted
		want int
	}{
		{"wrong password", 0, 1, 1},
		{"target refused", 5, 0, 3},
	} {
		t.Run(c.name, func(t *testing.T) {
			var greetings atomic.Int32
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			go func() {
				for {
					conn, err := ln.Accept()
					if err != nil {
						return
					}
					go func() {
						defer conn.Close()
						conn.SetDeadline(time.Now().Add(10 * time.Second))
						io.ReadFull(conn, make([]byte, 4)) // 5, 2 methods: none and user/password
						greetings.Add(1)
						conn.Write([]byte{5, 2})
						io.ReadFull(conn, make([]byte, 2+5+1+5)) // 1, "alice", "wrong"
						conn.Write([]byte{1, c.pass})
						if c.pass != 0 {
							return
						}
						io.ReadFull(conn, make([]byte, 4+4+2)) // CONNECT to an IPv4 address
						conn.Write([]byte{5, c.rep, 0, 1, 0, 0, 0, 0, 0, 0})
					}()
				}
			}()
			code, out, stderr := runCLI(t, "", "-q", "-f", "jsonl", "--retries", "2", "--proxy", "socks5://alice:wrong@"+ln.Addr().String(), "http://127.0.0.1:1/")
			if code != ExitFailures {
				t.Fatalf("exit %d, stderr %q", code, stderr)
			}
			rs := decodeLines(t, out)
			if len(rs) != 1 || rs[0].Error == nil {
				t.Fatalf("want one failed result, got %q", out)
			}
			if r := rs[0]; r.Error.Kind != "refused" || r.Attempts != c.want || int(greetings.Load()) != c.want {
				t.Errorf("kind %q, %d attempts, %d handshakes; want refused and %d (%s)", r.Error.Kind, r.Attempts, greetings.Load(), c.want, r.Error.Message)
			}
		})
	}
}
