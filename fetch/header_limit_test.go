package fetch

import (
	"crypto/x509"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestResponseHeaderLimit: a reply whose headers pass MaxHeaderBytes ends
// the attempt as a protocol error, over HTTP/1.1 and HTTP/2, so that a
// hostile server cannot make each request in flight hold a megabyte; a
// reply with headers just under the limit (as a large cookie is) is read.
func TestResponseHeaderLimit(t *testing.T) {
	t.Parallel()
	for _, h2 := range []bool{false, true} {
		t.Run(fmt.Sprint("h2=", h2), func(t *testing.T) {
			t.Parallel()
			ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				n := MaxHeaderBytes * 9 / 10 // under the limit, framing included
				if r.URL.Path == "/big" {
					n = MaxHeaderBytes + 1
				}
				for i := 0; n > 0; i++ {
					v := strings.Repeat("x", min(n, 8<<10))
					w.Header().Set(fmt.Sprintf("X-Pad-%d", i), v)
					n -= len(v)
				}
				fmt.Fprint(w, "ok")
			}))
			ts.EnableHTTP2 = h2
			ts.StartTLS()
			t.Cleanup(ts.Close)
			pool := x509.NewCertPool()
			pool.AddCert(ts.Certificate())
			c := newTestClient(t, func(o *Options) {
				o.RootCAs, o.HTTP1 = pool, !h2
				o.ConnectTimeout, o.Timeout = 10*time.Second, 20*time.Second // handshakes under -race
			})
			r := get(c, ts.URL+"/small")
			wantKind(t, r, "")
			if want := map[bool]string{false: "HTTP/1.1", true: "HTTP/2.0"}[h2]; r.Proto != want {
				t.Errorf("proto %q, want %q", r.Proto, want)
			}
			r = get(c, ts.URL+"/big")
			wantKind(t, r, KindProtocol)
			t.Logf("over the limit: %v", r.Error)
		})
	}
}
