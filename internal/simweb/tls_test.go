package simweb

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net/http"
	"testing"
)

func TestTLS(t *testing.T) {
	s := start(t, Config{TLSPorts: 2})
	if len(s.Addrs()) != 0 || len(s.TLSAddrs()) != 2 {
		t.Fatalf("got %d plain and %d TLS listeners, want 0 and 2", len(s.Addrs()), len(s.TLSAddrs()))
	}
	c := client(t, s)
	for _, host := range []string{"h1.sim", "h2.sim", "localhost"} {
		resp, _ := get(t, c, s.TLSURL(host, "/ok"))
		if resp.StatusCode != 200 || resp.TLS == nil || resp.Proto != "HTTP/1.1" {
			t.Errorf("%s: status %d, proto %s", host, resp.StatusCode, resp.Proto)
		}
	}
	resp, _ := get(t, c, s.TLSBaseURLs()[0]+"/ok") // by IP, no SNI
	if resp.StatusCode != 200 {
		t.Errorf("by IP: status %d", resp.StatusCode)
	}

	var invalid x509.CertificateInvalidError
	if _, err := c.Get(s.TLSURL("expired.sim", "/ok")); !errors.As(err, &invalid) || invalid.Reason != x509.Expired {
		t.Errorf("expired.sim: got %v, want an expired certificate error", err)
	}
	var hostErr x509.HostnameError
	if _, err := c.Get(s.TLSURL("wronghost.sim", "/ok")); !errors.As(err, &hostErr) {
		t.Errorf("wronghost.sim: got %v, want a hostname error", err)
	}
	// A client that does not trust the CA sees an unknown authority.
	plain := &http.Client{Transport: &http.Transport{DialContext: s.DialContext, TLSClientConfig: &tls.Config{}}}
	defer plain.CloseIdleConnections()
	var unknown x509.UnknownAuthorityError
	if _, err := plain.Get(s.TLSURL("h1.sim", "/ok")); !errors.As(err, &unknown) {
		t.Errorf("untrusted: got %v, want an unknown authority error", err)
	}
	if len(s.CAPEM()) == 0 || s.CertPool() == nil {
		t.Error("no CA exported")
	}
}
