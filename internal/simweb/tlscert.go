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
	"time"
)

// certs is the in-memory PKI of one server: a throw-away CA and leaves it
// signed. Clients that trust the CA (Server.CertPool, Server.CAPEM) see a
// valid certificate for every *.sim host; clients that do not see an
// unknown authority, as with any self-signed site.
type certs struct {
	caPEM     []byte
	pool      *x509.CertPool
	good      tls.Certificate // *.sim, localhost, 127.0.0.1, ::1
	expired   tls.Certificate // same names, NotAfter in the past
	wrongHost tls.Certificate // valid only for wrong.invalid
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
	c := &certs{
		caPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		pool:  x509.NewCertPool(),
	}
	c.pool.AddCert(ca)
	simNames := []string{"*.sim", "localhost"}
	loopIPs := []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
	if c.good, err = leaf(ca, caKey, 2, simNames, loopIPs, now.Add(-time.Hour), now.Add(7*24*time.Hour)); err != nil {
		return nil, err
	}
	if c.expired, err = leaf(ca, caKey, 3, simNames, loopIPs, now.Add(-30*24*time.Hour), now.Add(-24*time.Hour)); err != nil {
		return nil, err
	}
	if c.wrongHost, err = leaf(ca, caKey, 4, []string{"wrong.invalid"}, nil, now.Add(-time.Hour), now.Add(7*24*time.Hour)); err != nil {
		return nil, err
	}
	return c, nil
}

func leaf(ca *x509.Certificate, caKey *ecdsa.PrivateKey, serial int64, names []string, ips []net.IP, from, until time.Time) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("generate leaf key: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      pkix.Name{CommonName: names[0]},
		DNSNames:     names,
		IPAddresses:  ips,
		NotBefore:    from,
		NotAfter:     until,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("create leaf certificate %s: %w", names[0], err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}

// getCertificate picks the leaf by SNI: a first label starting with
// "expired" gets the expired certificate, one starting with "wronghost" a
// certificate for another name, anything else (or no SNI) the good one.
func (c *certs) getCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	name := strings.ToLower(hello.ServerName)
	switch {
	case strings.HasPrefix(name, "expired"):
		return &c.expired, nil
	case strings.HasPrefix(name, "wronghost"):
		return &c.wrongHost, nil
	}
	return &c.good, nil
}
