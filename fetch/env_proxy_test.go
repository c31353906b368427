package fetch

import (
	"context"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// TestEnvProxyChecked: a malformed $HTTPS_PROXY or $HTTP_PROXY fails
// NewClient with its variable named, where every target used to fail on
// its own (a typo such as "http//proxy:3128" sent them all to a proxy
// host named "http"). Scheme-less values are net/http's http:// ones.
func TestEnvProxyChecked(t *testing.T) {
	for _, c := range []struct {
		name, value, err string
	}{
		{"HTTPS_PROXY", "http//proxy:3128", `$HTTPS_PROXY "http//proxy:3128": not a proxy URL`},
		{"https_proxy", "ftp://proxy:21", `$https_proxy "ftp://proxy:21": scheme must be`},
		{"HTTP_PROXY", "http://proxy:99999", `$HTTP_PROXY "http://proxy:99999": port out of range`},
		{"HTTP_PROXY", "http://u:s3cret@proxy:3128/x", `$HTTP_PROXY "http://u:xxxxx@proxy:3128/x": not a proxy URL`},
		{"HTTPS_PROXY", "127.0.0.1:3128", ""},
		{"HTTPS_PROXY", "http://127.0.0.1:3128/", ""},
		{"HTTP_PROXY", "socks5h://127.0.0.1:1080", ""},
		{"ALL_PROXY", "socks5h//127.0.0.1:1080", `$ALL_PROXY "socks5h//127.0.0.1:1080": not a proxy URL`},
		{"all_proxy", "socks5://127.0.0.1:1080", ""},
	} {
		t.Run(c.name+"="+c.value, func(t *testing.T) {
			clearProxyEnv(t)
			t.Setenv(c.name, c.value)
			cl, err := NewClient(testOptions())
			if c.err == "" {
				if err != nil {
					t.Fatalf("NewClient: %v", err)
				}
				cl.Close()
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("NewClient error %v, want %q", err, c.err)
			}
		})
	}
	for _, c := range []struct{ name, also, value string }{
		// NO_PROXY=* uses no proxy at all: a malformed one is no error.
		{"no proxy", "NO_PROXY", "*"},
		// The upper-case name wins, as in net/http: a malformed
		// lower-case one beside it is never used.
		{"shadowed", "HTTPS_PROXY", "http://127.0.0.1:3128"},
	} {
		t.Run(c.name, func(t *testing.T) {
			clearProxyEnv(t)
			t.Setenv("https_proxy", "http//typo")
			t.Setenv(c.also, c.value)
			cl, err := NewClient(testOptions())
			if err != nil {
				t.Fatalf("NewClient: %v", err)
			}
			cl.Close()
		})
	}
	// ALL_PROXY beside proxies for both schemes is never used either.
	clearProxyEnv(t)
	t.Setenv("ALL_PROXY", "socks5//typo")
	t.Setenv("HTTPS_PROXY", "http://127.0.0.1:3128")
	t.Setenv("HTTP_PROXY", "http://127.0.0.1:3128")
	cl, err := NewClient(testOptions())
	if err != nil {
		t.Fatalf("an unused ALL_PROXY: NewClient: %v", err)
	}
	cl.Close()
}

// TestShownProxyHidesPassword: a proxy's password never reaches a message,
// whatever its form: with a scheme, without one (it then parses with the
// user as the scheme), or unparseable.
func TestShownProxyHidesPassword(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"http://u:s3cret@proxy:3128", "http://u:xxxxx@proxy:3128"},
		{"u:s3cret@proxy:3128/x", "u:xxxxx@proxy:3128/x"},
		{"u:s3cret@proxy:99999", "u:xxxxx@proxy:99999"},
		{"http://u:s3cret@proxy:3128/%zz", "http://u:xxxxx@proxy:3128/%zz"},
		{"proxy:3128", "proxy:3128"},
	} {
		if got := shownProxy(c.in); got != c.want {
			t.Errorf("shownProxy(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	t.Setenv("HTTPS_PROXY", "u:s3cret@proxy:3128/x")
	if _, err := NewClient(testOptions()); err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("NewClient error %v: want an error without the password", err)
	}
}

// clearProxyEnv empties, for the test, the variables that name proxies.
func clearProxyEnv(t *testing.T) {
	for _, n := range []string{"HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy", "REQUEST_METHOD"} {
		t.Setenv(n, "")
	}
}

// ALL_PROXY (or all_proxy), as curl reads it, is the proxy of a scheme
// that has none of its own (a common way to send everything through a
// SOCKS proxy); HTTP_PROXY or HTTPS_PROXY, when set, wins for its scheme.
// fetch ignored it, and fetched directly. Not parallel: it sets the
// environment.
func TestAllProxy(t *testing.T) {
	ts := serve(t, func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("direct")) })
	port := portOf(t, ts.URL)
	p, _ := strconv.Atoi(port)
	socks, asked := socks5Server(t)
	px := serve(t, func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("http proxy")) })
	for _, c := range []struct {
		name string
		env  map[string]string
		want string // the body: who answered
	}{
		{"ALL_PROXY", map[string]string{"ALL_PROXY": "socks5://" + socks}, "direct"}, // through the SOCKS proxy, to the server
		{"HTTP_PROXY wins", map[string]string{"ALL_PROXY": "socks5://" + socks, "HTTP_PROXY": px.URL}, "http proxy"},
		{"NO_PROXY", map[string]string{"all_proxy": "socks5://" + socks, "NO_PROXY": "pinned.test"}, "direct"},
	} {
		t.Run(c.name, func(t *testing.T) {
			clearProxyEnv(t)
			for k, v := range c.env {
				t.Setenv(k, v)
			}
			before := len(asked())
			cl := newTestClient(t, func(o *Options) {
				o.Resolve = []Resolve{{Host: "pinned.test", Port: p, Addrs: []string{"127.0.0.1"}}}
			})
			cl.dial.lookupIP = func(_ context.Context, host string) ([]net.IPAddr, error) {
				t.Errorf("looked up %q", host)
				return nil, &net.DNSError{Err: "no lookups in this test", Name: host, IsNotFound: true}
			}
			r := get(cl, "http://pinned.test:"+port+"/")
			wantKind(t, r, "")
			if r.Status != 200 || r.Bytes != int64(len(c.want)) {
				t.Errorf("status %d, %d bytes; want %q", r.Status, r.Bytes, c.want)
			}
			viaSOCKS := len(asked()) > before
			if wantSOCKS := c.name == "ALL_PROXY"; viaSOCKS != wantSOCKS {
				t.Errorf("through the SOCKS proxy: %v, want %v", viaSOCKS, wantSOCKS)
			}
		})
	}
}
