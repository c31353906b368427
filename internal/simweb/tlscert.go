package simweb

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// certs is the in-memory PKI of one server: a throw-away CA and leaves it
// signed. Clients that trust the CA (Server.CertPool, Server.CAPEM) see a
// valid certificate for every host name; clients that do not see an
// unknown authority, as with any self-signed site.
//
// Each SNI name gets its own leaf, made on first use and cached: OpenSSL
// (curl) refuses a wildcard directly under a top-level domain such as
// *.sim, and thousands of names in one certificate would bloat every
// handshake. All leaves share one key, so a new name costs one signature.
type certs struct {
	caPEM     []byte
	pool      *x509.CertPool
	ca        *x509.Certificate
	caKey     *ecdsa.PrivateKey
	leafKey   *ecdsa.PrivateKey
	now       time.Time
	good      tls.Certificate // no SNI: localhost, *.sim, 127.0.0.1, ::1
	wrongHost tls.Certificate // valid only for wrong.invalid
	byName    sync.Map        // "v:name" -> *tls.Certificate
}

func newCerts() (*certs, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate ca key: %w", err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "simweb test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(7 * 24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("create ca certificate: %w", err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, fmt.Errorf("parse ca certificate: %w", err)
	}
	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate leaf key: %w", err)
	}
	c := &certs{
		caPEM:   pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		pool:    x509.NewCertPool(),
		ca:      ca,
		caKey:   caKey,
		leafKey: leafKey,
		now:     now,
	}
	c.pool.AddCert(ca)
	loopIPs := []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
	if c.good, err = c.leaf([]string{"localhost", "*.sim"}, loopIPs, false); err != nil {
		return nil, err
	}
	if c.wrongHost, err = c.leaf([]string{"wrong.invalid"}, nil, false); err != nil {
		return nil, err
	}
	return c, nil
}

var serials atomic.Int64

// leaf signs a certificate for names and ips, valid for a week or, when
// expired is set, expired since yesterday.
func (c *certs) leaf(names []string, ips []net.IP, expired bool) (tls.Certificate, error) {
	from, until := c.now.Add(-time.Hour), c.now.Add(7*24*time.Hour)
	if expired {
		from, until = c.now.Add(-30*24*time.Hour), c.now.Add(-24*time.Hour)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serials.Add(1) + 1),
		Subject:      pkix.Name{CommonName: names[0]},
		DNSNames:     names,
		IPAddresses:  ips,
		NotBefore:    from,
		NotAfter:     until,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.ca, &c.leafKey.PublicKey, c.caKey)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("create leaf certificate %s: %w", names[0], err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: c.leafKey}, nil
}

// getCertificate picks the leaf by SNI: a first label starting with
// "expired" gets an expired certificate for the name, one starting with
// "wronghost" a certificate for another name, any other name its own valid
// certificate, and no SNI (a client dialing an IP) the default one.
func (c *certs) getCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	name := strings.ToLower(hello.ServerName)
	switch {
	case name == "":
		return &c.good, nil
	case strings.HasPrefix(name, "wronghost"):
		return &c.wrongHost, nil
	}
	expired := strings.HasPrefix(name, "expired")
	key := "v:" + name
	if expired {
		key = "x:" + name
	}
	if cert, ok := c.byName.Load(key); ok {
		return cert.(*tls.Certificate), nil
	}
	cert, err := c.leaf([]string{name}, nil, expired)
	if err != nil {
		return nil, err
	}
	got, _ := c.byName.LoadOrStore(key, &cert)
	return got.(*tls.Certificate), nil
}
