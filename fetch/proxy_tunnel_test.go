package fetch

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// holdingListener accepts connections and never answers on them.
func holdingListener(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var held []net.Conn
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range held {
			c.Close()
		}
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c)
			mu.Unlock()
		}
	}()
	return ln.Addr().String()
}

// An http proxy that never answers an https target's CONNECT: the wait is
// bounded by --connect-timeout, as a connect is, not by --timeout, and a bare
// host does not fall back to plain http through that proxy. It was a
// timeout after --timeout.
func TestSilentHTTPProxyIsConnectTimeout(t *testing.T) {
	t.Parallel()
	c := newTestClient(t, func(o *Options) {
		o.Proxy = "http://" + holdingListener(t)
		o.ConnectTimeout = 150 * time.Millisecond
		o.Timeout = 10 * time.Second
	})
	start := time.Now()
	r := get(c, "https://secure.test/")
	if k := kindOf(r); k != KindConnectTimeout || !strings.Contains(r.Error.Message, "no tunnel within 150ms (--connect-timeout)") {
		t.Fatalf("kind %q (%v), want connect_timeout saying the proxy opened no tunnel", k, r.Error)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("took %v, want about the connect timeout", el)
	}
	b := c.Fetch(context.Background(), Target{Input: "secure.test", URL: "https://secure.test/", HostKey: "secure.test:443", Bare: true})
	if kindOf(b) != KindConnectTimeout || b.FinalURL != "https://secure.test/" {
		t.Errorf("bare host: kind %q, final_url %q; want connect_timeout at https://secure.test/", kindOf(b), b.FinalURL)
	}
}

// Through a proxy that opens the tunnel, the CONNECT's deadline is gone
// once the proxy answered: a target slower than --connect-timeout still
// answers within --timeout.
func TestHTTPProxyTunnelOutlivesConnectTimeout(t *testing.T) {
	t.Parallel()
	target := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(400 * time.Millisecond)
		fmt.Fprint(w, "<title>through</title>")
	}))
	target.Config.ErrorLog = log.New(io.Discard, "", 0)
	target.StartTLS()
	t.Cleanup(target.Close)
	targetAddr := target.Listener.Addr().String()
	var (
		mu      sync.Mutex
		conns   []net.Conn
		tunnels sync.WaitGroup
	)
	t.Cleanup(func() {
		mu.Lock() // after every Add: the handler adds before it locks
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		tunnels.Wait()
	})
	px := serve(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodConnect {
			http.Error(w, "CONNECT only", http.StatusMethodNotAllowed)
			return
		}
		up, err := net.Dial("tcp", targetAddr) // whatever the host asked
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		down, _, err := w.(http.Hijacker).Hijack()
		if err != nil {
			up.Close()
			return
		}
		// Written on the hijacked connection: a WriteHeader before Hijack
		// may stay in the server's buffer.
		if _, err := io.WriteString(down, "HTTP/1.1 200 Connection established\r\n\r\n"); err != nil {
			up.Close()
			down.Close()
			return
		}
		tunnels.Add(2)
		mu.Lock()
		conns = append(conns, up, down)
		mu.Unlock()
		go func() { defer tunnels.Done(); io.Copy(up, down); up.Close() }()
		go func() { defer tunnels.Done(); io.Copy(down, up); down.Close() }()
	})
	c := newTestClient(t, func(o *Options) {
		o.Proxy = px.URL
		o.Insecure = true
		o.ConnectTimeout = 150 * time.Millisecond
		o.Timeout = 10 * time.Second
	})
	r := get(c, "https://secure.test/")
	wantKind(t, r, "")
	if r.Status != 200 || r.Title != "through" {
		t.Errorf("status %d title %q, want 200 through the tunnel", r.Status, r.Title)
	}
}

// --proxy HTTP://HOST is an http proxy (the scheme is case-insensitive, and
// parseProxy takes it): its CONNECT is bounded as well.
func TestSilentHTTPProxyUpperCaseScheme(t *testing.T) {
	t.Parallel()
	c := newTestClient(t, func(o *Options) {
		o.Proxy = "HTTP://" + holdingListener(t)
		o.ConnectTimeout = 150 * time.Millisecond
		o.Timeout = 3 * time.Second
	})
	r := get(c, "https://secure.test/")
	if k := kindOf(r); k != KindConnectTimeout {
		t.Fatalf("kind %q (%v), want connect_timeout", k, r.Error)
	}
}

// A bare host whose https attempt could not reach the proxy itself (an
// https proxy that never finishes its own TLS handshake, or nothing
// listening there) does not fall back to http: the fallback goes through the same
// proxy, and fails the same way. Through a silent https proxy it took a
// second connect timeout, and ran into --timeout as "timed out in the TLS
// handshake" at the http URL, as if the target had stalled.
func TestBareHostNoFallbackThroughUnreachableProxy(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		proxy string
		kind  ErrorKind
	}{
		{"https proxy silent in its handshake", "https://" + holdingListener(t), KindConnectTimeout},
		{"http proxy refusing", "http://" + freePort(t), KindRefused},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := newTestClient(t, func(o *Options) {
				o.Proxy = tc.proxy
				o.ConnectTimeout = 300 * time.Millisecond
				o.Timeout = 500 * time.Millisecond
			})
			r := c.Fetch(context.Background(), Target{Input: "secure.test", URL: "https://secure.test/", HostKey: "secure.test:443", Bare: true})
			if kindOf(r) != tc.kind || r.URL != "https://secure.test/" {
				t.Errorf("kind %q at %q (%v), want %q at https://secure.test/, with no http fallback", kindOf(r), r.URL, r.Error, tc.kind)
			}
		})
	}
}
