package fetch

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"log"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
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
	other := selfSigned(t, "some other CA") // a CA the client's certificate is not from
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
					cc := selfSigned(t, "client")
					o.ClientCert = &cc
				}
			})
			// The race is lost now and then: try it on fresh connections.
			for i := range 20 {
				r := get(c, ts.URL+"/")
				if got := kindOf(r); got != tc.want {
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

// selfSigned makes a self-signed ECDSA certificate for 127.0.0.1, usable by
// a client or a server.
func selfSigned(t *testing.T, name string) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true,
		KeyUsage:    x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

// TestOptionalClientCertNotBlamed: a server that asks for a client
// certificate without requiring one (nginx's "optional", Go's
// RequestClientCert) takes the handshake without it and serves the
// request. When it then fails that request (an HTTP/2 stream it resets,
// an HTTP/1 connection it closes), the failure is the server's, as from
// any server: reset, retried, with no advice about --cert. It was tls,
// "the server wants a client certificate", and not retried.
func TestOptionalClientCertNotBlamed(t *testing.T) {
	t.Parallel()
	for _, h2 := range []bool{false, true} {
		t.Run(fmt.Sprintf("h2 %v", h2), func(t *testing.T) {
			t.Parallel()
			served := make(chan struct{}, 1)
			ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				served <- struct{}{}
				if hj, ok := w.(http.Hijacker); ok {
					c, _, err := hj.Hijack()
					if err == nil {
						c.Close()
					}
					return
				}
				panic(http.ErrAbortHandler) // HTTP/2: the stream is reset
			}))
			ts.EnableHTTP2 = h2
			ts.TLS = &tls.Config{ClientAuth: tls.RequestClientCert}
			ts.Config.ErrorLog = log.New(io.Discard, "", 0)
			ts.StartTLS()
			t.Cleanup(ts.Close)
			c := newTestClient(t, func(o *Options) { o.Insecure = true })
			r := get(c, ts.URL+"/")
			select {
			case <-served:
			default:
				t.Fatalf("the handler did not run: %+v", r.Error)
			}
			if got := kindOf(r); got != KindReset || strings.Contains(r.Error.Message, "client certificate") {
				t.Errorf("kind %q, error %+v; want reset, and no word about a client certificate", got, r.Error)
			}
		})
	}
}
