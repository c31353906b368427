package fetch

import (
	"context"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// A SOCKS5 proxy that refuses the client (no acceptable authentication
// method, a wrong password) or the connection (its CONNECT reply) refused
// the connection: the kind is refused, not reset, and the message names
// the proxy's address and what it refused. A refusal of the client, or by
// the proxy's rules, is permanent (the engine does not retry it: every
// attempt would meet it again); an unreachable target is not. For a bare
// host, a refused password is no reason to try http through the proxy.
func TestSOCKS5ProxyRefusal(t *testing.T) {
	t.Parallel()
	// reply is the proxy's CONNECT reply with code rep, after reading the
	// request (to an IPv4 address).
	reply := func(rep byte) func(c net.Conn) {
		return func(c net.Conn) {
			c.Write([]byte{5, 0})
			io.ReadFull(c, make([]byte, 4+4+2))
			c.Write([]byte{5, rep, 0, 1, 0, 0, 0, 0, 0, 0})
		}
	}
	for _, tc := range []struct {
		name string
		user string // user:pass in the proxy URL
		// answer is the proxy's side after reading the greeting.
		answer    func(c net.Conn)
		bare      bool
		want      string // in the message
		permanent bool
	}{
		{"no acceptable method", "", func(c net.Conn) { c.Write([]byte{5, 0xff}) }, false,
			"wants a user name and password (give them in its URL", true},
		{"no acceptable method with a password", "alice:pw@", func(c net.Conn) { c.Write([]byte{5, 0xff}) }, false,
			"accepts neither", true},
		{"wrong password", "alice:wrong@", func(c net.Conn) {
			c.Write([]byte{5, 2})
			h := make([]byte, 2)
			io.ReadFull(c, h)
			io.ReadFull(c, make([]byte, int(h[1])))
			pl := make([]byte, 1)
			io.ReadFull(c, pl)
			io.ReadFull(c, make([]byte, int(pl[0])))
			c.Write([]byte{1, 1})
		}, false, "refused the user name and password", true},
		{"unsupported method", "alice:pw@", func(c net.Conn) { c.Write([]byte{5, 0x80}) }, false,
			"authentication method fanout does not support (method 128)", true},
		{"not allowed by ruleset", "", reply(2), false,
			"refused the connection to 127.0.0.1:1: connection not allowed by ruleset", true},
		{"target refused", "", reply(5), false,
			"refused the connection to 127.0.0.1:1: connection refused", false},
		{"general failure", "", reply(1), false, "general SOCKS server failure", false},
		{"unknown reply", "", reply(0x2a), false, "reply 42", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var greetings atomic.Int32
			addr := connServer(t, loopback(t), func(c net.Conn) {
				g := make([]byte, 2)
				io.ReadFull(c, g)
				io.ReadFull(c, make([]byte, int(g[1])))
				greetings.Add(1)
				tc.answer(c)
				io.Copy(io.Discard, c)
			})
			c := newTestClient(t, func(o *Options) { o.Proxy = "socks5://" + tc.user + addr })
			r := get(c, "http://127.0.0.1:1/")
			wantKind(t, r, KindRefused)
			if r.Error == nil {
				return
			}
			if !strings.Contains(r.Error.Message, addr) || !strings.Contains(r.Error.Message, tc.want) {
				t.Errorf("message %q: want the proxy %s and %q", r.Error.Message, addr, tc.want)
			}
			if strings.Contains(tc.user, "pw") && strings.Contains(r.Error.Message, "pw") {
				t.Errorf("message %q shows the password", r.Error.Message)
			}
			if r.Error.Permanent != tc.permanent {
				t.Errorf("permanent %v, want %v", r.Error.Permanent, tc.permanent)
			}
		})
	}
	t.Run("bare host, wrong password", func(t *testing.T) {
		t.Parallel()
		var greetings atomic.Int32
		addr := connServer(t, loopback(t), func(c net.Conn) {
			io.ReadFull(c, make([]byte, 4)) // 5, 2 methods: none and user/password
			greetings.Add(1)
			c.Write([]byte{5, 2})
			io.ReadFull(c, make([]byte, 2+5+1+5)) // 1, "alice", "wrong"
			c.Write([]byte{1, 1})
			io.Copy(io.Discard, c)
		})
		c := newTestClient(t, func(o *Options) { o.Proxy = "socks5://alice:wrong@" + addr })
		r := c.Fetch(context.Background(), Target{Input: "127.0.0.1:1", URL: "https://127.0.0.1:1/", HostKey: "127.0.0.1:1", Bare: true})
		wantKind(t, r, KindRefused)
		if r.URL != "https://127.0.0.1:1/" || greetings.Load() != 1 {
			t.Errorf("url %q after %d handshakes: fell back to http through the proxy that refused the password", r.URL, greetings.Load())
		}
	})
}

// A SOCKS proxy that never answers its handshake, from -x or from the
// environment: a bare host is not then tried as http through the same
// proxy (as after an http proxy's silence, TestSilentHTTPProxyIsConnectTimeout),
// which doubled the wait and reported the http URL. Not parallel: it sets
// the environment.
func TestSilentSOCKSProxyNoFallback(t *testing.T) {
	silent := holdingListener(t)
	for _, tc := range []struct {
		name string
		env  bool
	}{
		{"-x", false},
		{"$HTTPS_PROXY", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, k := range []string{"HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "NO_PROXY", "no_proxy", "REQUEST_METHOD"} {
				t.Setenv(k, "")
			}
			if tc.env {
				t.Setenv("HTTP_PROXY", "socks5://"+silent)
				t.Setenv("HTTPS_PROXY", "socks5://"+silent)
			}
			c := newTestClient(t, func(o *Options) {
				if !tc.env {
					o.Proxy = "socks5://" + silent
				}
				o.ConnectTimeout = 150 * time.Millisecond
				o.Timeout = 10 * time.Second
			})
			c.dial.lookupIP = func(_ context.Context, host string) ([]net.IPAddr, error) {
				t.Errorf("looked up %q", host)
				return nil, &net.DNSError{Err: "no lookups in this test", Name: host, IsNotFound: true}
			}
			r := c.Fetch(context.Background(), Target{Input: "secure.test", URL: "https://secure.test/", HostKey: "secure.test:443", Bare: true})
			wantKind(t, r, KindConnectTimeout)
			if r.URL != "https://secure.test/" || r.FinalURL != "https://secure.test/" {
				t.Errorf("url %q, final_url %q: fell back to http through the silent proxy", r.URL, r.FinalURL)
			}
			if !strings.Contains(r.Error.Message, silent) {
				t.Errorf("message %q does not name the proxy", r.Error.Message)
			}
		})
	}
}
