package fetch

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestClientCertRefusedIsTLS: a server that wants a client certificate
// ends the connection when it gets none (or none it accepts). Over TLS 1.3
// it says so after the client's side of the handshake, and its alert races
// the request: over HTTP/2 about one attempt in three ended as reset
// ("write: broken pipe", retried) or protocol ("http2: client conn could
// not be established"), without a word about the certificate. Over TLS 1.2
// the alert is "handshake failure", which did not say it either.
func TestClientCertRefusedIsTLS(t *testing.T) {
	t.Parallel()
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	other := issueCert(t, "some other CA", nil) // a CA the client's certificate is not from
	others := x509.NewCertPool()
	others.AddCert(other.Leaf)
	for _, tc := range []struct {
		name     string
		max      uint16
		auth     tls.ClientAuthType
		pool     *x509.CertPool
		cert     bool // the client has a certificate
		insecure bool
		want     ErrorKind
		say, not string
	}{
		{name: "TLS 1.3, none", max: tls.VersionTLS13, auth: tls.RequireAnyClientCert, insecure: true,
			want: KindTLS, say: "--cert FILE --key FILE"},
		{name: "TLS 1.2, none", max: tls.VersionTLS12, auth: tls.RequireAnyClientCert, insecure: true,
			want: KindTLS, say: "--cert FILE --key FILE"},
		{name: "TLS 1.3, not from a CA the server takes", max: tls.VersionTLS13, auth: tls.RequireAndVerifyClientCert,
			pool: others, cert: true, insecure: true, want: KindTLS, say: "was not sent"},
		{name: "TLS 1.3, given and taken", max: tls.VersionTLS13, auth: tls.RequireAnyClientCert,
			cert: true, insecure: true, want: ""},
		{name: "TLS 1.3, server certificate untrusted", max: tls.VersionTLS13, auth: tls.RequireAnyClientCert,
			want: KindTLS, say: "unknown authority", not: "client certificate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ts := httptest.NewUnstartedServer(ok)
			ts.EnableHTTP2 = true
			ts.TLS = &tls.Config{ClientAuth: tc.auth, ClientCAs: tc.pool, MaxVersion: tc.max}
			ts.Config.ErrorLog = log.New(io.Discard, "", 0)
			ts.StartTLS()
			t.Cleanup(ts.Close)
			c := newTestClient(t, func(o *Options) {
				o.Insecure = tc.insecure
				if tc.cert {
					cc := issueCert(t, "client", nil)
					o.ClientCert = &cc
				}
			})
			// The race is lost now and then: try it on fresh connections.
			// It is still lost, rarely: 4 attempts in 16,000 under -race
			// (a CI run among them) ended as reset ("write: broken pipe")
			// or protocol ("http2: client conn could not be established",
			// a new connection closed before its first stream). Two in 20
			// pass; before certRefused it was one in three.
			lost := 0
			for i := range 20 {
				r := get(c, ts.URL+"/")
				if got := kindOf(r); got != tc.want {
					if tc.want == KindTLS && (got == KindReset || got == KindProtocol) && lost < 2 {
						lost++
						t.Logf("attempt %d: kind %q, the race lost (error %+v)", i, got, r.Error)
						continue
					}
					t.Fatalf("attempt %d: kind %q, want %q (error %+v)", i, got, tc.want, r.Error)
				}
				if r.Error == nil {
					continue
				}
				if m := r.Error.Message; !strings.Contains(m, tc.say) || tc.not != "" && strings.Contains(m, tc.not) {
					t.Fatalf("attempt %d: message %q, want one saying %q (and not %q)", i, m, tc.say, tc.not)
				}
			}
		})
	}
}
