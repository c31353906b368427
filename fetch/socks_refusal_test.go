package fetch

import (
	"context"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// A SOCKS5 proxy that refuses the client (no acceptable authentication
// method, a wrong password) or the connection (its CONNECT reply) refused
// the connection: the kind is refused, not reset, and the message names
// the proxy's address.
func TestSOCKS5ProxyRefusal(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		user string // user:pass in the proxy URL
		// answer is the proxy's side after reading the greeting.
		answer func(c net.Conn)
	}{
		{"no acceptable method", "", func(c net.Conn) { c.Write([]byte{5, 0xff}) }},
		{"wrong password", "alice:wrong@", func(c net.Conn) {
			c.Write([]byte{5, 2})
			h := make([]byte, 2)
			io.ReadFull(c, h)
			io.ReadFull(c, make([]byte, int(h[1])))
			pl := make([]byte, 1)
			io.ReadFull(c, pl)
			io.ReadFull(c, make([]byte, int(pl[0])))
			c.Write([]byte{1, 1})
		}},
		{"not allowed by ruleset", "", func(c net.Conn) {
			c.Write([]byte{5, 0})
			io.ReadFull(c, make([]byte, 4+4+2)) // CONNECT to an IPv4 address
			c.Write([]byte{5, 2, 0, 1, 0, 0, 0, 0, 0, 0})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			addr := connServer(t, loopback(t), func(c net.Conn) {
				g := make([]byte, 2)
				io.ReadFull(c, g)
				io.ReadFull(c, make([]byte, int(g[1])))
				tc.answer(c)
				io.Copy(io.Discard, c)
			})
			c := newTestClient(t, func(o *Options) { o.Proxy = "socks5://" + tc.user + addr })
			r := get(c, "http://127.0.0.1:1/")
			wantKind(t, r, KindRefused)
			if r.Error != nil && !strings.Contains(r.Error.Message, addr) {
				t.Errorf("message %q does not name the proxy %s", r.Error.Message, addr)
			}
		})
	}
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
