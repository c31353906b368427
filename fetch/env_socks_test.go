package fetch

import (
	"context"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// A socks5:// proxy from $HTTP_PROXY/$HTTPS_PROXY is used as -x's is: its
// handshake is bounded by --connect-timeout (net/http's own waited for the
// whole attempt, and said timeout), and --resolve still pins the address
// it is asked for. Not parallel: it sets the environment.
func TestEnvSOCKS5Proxy(t *testing.T) {
	silent := holdingListener(t) // a proxy that accepts and never answers
	ts := serve(t, func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("via socks")) })
	port, _ := strconv.Atoi(portOf(t, ts.URL))
	answering, asked := socks5Server(t)

	for _, tc := range []struct {
		name, proxy string
		want        ErrorKind
	}{
		{"silent proxy", silent, KindConnectTimeout},
		{"answering proxy", answering, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, k := range []string{"HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "NO_PROXY", "no_proxy", "REQUEST_METHOD"} {
				t.Setenv(k, "")
			}
			t.Setenv("HTTP_PROXY", "socks5://"+tc.proxy)
			t.Setenv("HTTPS_PROXY", "socks5://"+tc.proxy)
			c := newTestClient(t, func(o *Options) {
				o.ConnectTimeout = 300 * time.Millisecond
				o.Timeout = 5 * time.Second
				o.Resolve = []Resolve{{Host: "pinned.test", Port: port, Addrs: []string{"127.0.0.1"}}}
			})
			c.dial.lookupIP = func(_ context.Context, host string) ([]net.IPAddr, error) {
				t.Errorf("looked up %q", host)
				return nil, &net.DNSError{Err: "no lookups in this test", Name: host, IsNotFound: true}
			}
			start := time.Now()
			r := get(c, "http://pinned.test:"+strconv.Itoa(port)+"/")
			wantKind(t, r, tc.want)
			if tc.want == KindConnectTimeout {
				if d := time.Since(start); d > 4*time.Second {
					t.Errorf("took %v: not bounded by the connect timeout", d)
				}
				if !strings.Contains(r.Error.Message, tc.proxy) {
					t.Errorf("message %q does not name the proxy %s", r.Error.Message, tc.proxy)
				}
				return
			}
			if r.Status != 200 || r.Bytes != 9 {
				t.Errorf("status %d bytes %d", r.Status, r.Bytes)
			}
			if got := asked(); len(got) != 1 || got[0] != "127.0.0.1:"+strconv.Itoa(port) {
				t.Errorf("proxy asked for %v, want the pinned address", got)
			}
		})
	}
}
