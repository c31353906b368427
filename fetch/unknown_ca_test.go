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
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestUnknownAuthoritySaysWhichIssuer: a certificate that chains to no
// trusted authority read "certificate signed by unknown authority (not one
// --cacert trusts ...)" whatever the cause: a self-signed certificate, a
// private CA, and a server that does not send its intermediate certificate
// (its root in --cacert, so the advice was wrong) all looked the same. The
// message now says self-signed, or names the issuer and whether the server
// sent it.
func TestUnknownAuthoritySaysWhichIssuer(t *testing.T) {
	t.Parallel()
	root := issueCert(t, "Test Root", nil)
	inter := issueCert(t, "Test Intermediate", &root)
	leaf := issueCert(t, "", &inter)
	self := issueCert(t, "", nil)
	roots := x509.NewCertPool()
	roots.AddCert(root.Leaf)
	withChain := leaf
	withChain.Certificate = append(withChain.Certificate[:1:1], inter.Certificate[0])
	for _, tc := range []struct {
		name     string
		cert     tls.Certificate
		rootCAs  *x509.CertPool
		say, not []string
	}{
		{"self-signed", self, roots, []string{"(self-signed; not one --cacert trusts"}, []string{"issued by"}},
		{"intermediate not sent", leaf, roots, []string{"issued by CN=Test Intermediate, which the server did not send"}, []string{"self-signed"}},
		{"chain sent, root untrusted", withChain, x509.NewCertPool(), []string{"issued by CN=Test Root;"}, []string{"did not send", "self-signed"}},
		{"system roots", self, nil, []string{"(self-signed; --cacert FILE trusts a private CA"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
			ts.TLS = &tls.Config{Certificates: []tls.Certificate{tc.cert}}
			ts.Config.ErrorLog = log.New(io.Discard, "", 0)
			ts.StartTLS()
			t.Cleanup(ts.Close)
			c := newTestClient(t, func(o *Options) { o.RootCAs = tc.rootCAs })
			r := get(c, ts.URL+"/")
			wantKind(t, r, KindTLS)
			for _, s := range tc.say {
				if !strings.Contains(r.Error.Message, s) {
					t.Errorf("message %q does not say %q", r.Error.Message, s)
				}
			}
			for _, s := range tc.not {
				if strings.Contains(r.Error.Message, s) {
					t.Errorf("message %q says %q", r.Error.Message, s)
				}
			}
		})
	}
}

// issueCert makes a certificate issued by parent (self-signed when parent
// is nil): a CA named name, or with name "" a server certificate for
// 127.0.0.1.
func issueCert(t *testing.T, name string, parent *tls.Certificate) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature,
	}
	if name != "" {
		tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
		tmpl.KeyUsage |= x509.KeyUsageCertSign
	} else {
		tmpl.Subject.CommonName = "server"
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	}
	issuer, signer := tmpl, any(key)
	if parent != nil {
		issuer, signer = parent.Leaf, parent.PrivateKey
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, issuer, &key.PublicKey, signer)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

// TestCertificateForAnAddressOnly: a certificate that names only an IP
// address, fetched by host name, read "certificate is not valid for any
// names", though it is valid, for the address; the message now says so.
// Fetched by its address it is fine.
func TestCertificateForAnAddressOnly(t *testing.T) {
	t.Parallel()
	root := issueCert(t, "Test Root", nil)
	leaf := issueCert(t, "", &root) // for 127.0.0.1 only
	roots := x509.NewCertPool()
	roots.AddCert(root.Leaf)
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	ts.TLS = &tls.Config{Certificates: []tls.Certificate{leaf}}
	ts.Config.ErrorLog = log.New(io.Discard, "", 0)
	ts.StartTLS()
	t.Cleanup(ts.Close)
	port := ts.Listener.Addr().(*net.TCPAddr).Port
	c := newTestClient(t, func(o *Options) {
		o.RootCAs = roots
		o.Resolve = []Resolve{{Host: "good.test", Port: port, Addrs: []string{"127.0.0.1"}}}
	})
	r := get(c, fmt.Sprintf("https://good.test:%d/", port))
	wantKind(t, r, KindTLS)
	if want := "(the certificate names only the address 127.0.0.1, no host name"; r.Error != nil && !strings.Contains(r.Error.Message, want) {
		t.Errorf("message %q, want it to say %q", r.Error.Message, want)
	}
	if r := get(c, ts.URL+"/"); r.Error != nil {
		t.Errorf("by its address: %+v, want no error", r.Error)
	}
}
