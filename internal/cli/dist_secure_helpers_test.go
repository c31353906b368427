package cli

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nkeys"
)

// startSecureNATS runs a JetStream server on a free 127.0.0.1 port with
// the authentication or TLS that secure sets, and returns its nats:// URL.
func startSecureNATS(t *testing.T, secure func(*server.Options)) string {
	t.Helper()
	o := &server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(),
		NoSigs: true, NoLog: true}
	secure(o)
	srv, err := server.NewServer(o)
	if err != nil {
		t.Fatal(err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats server did not start")
	}
	t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
	return "nats://" + srv.Addr().String()
}

// testCA is a certificate authority made for one test, in memory, whose
// certificates are written as PEM files to a temporary directory.
type testCA struct {
	t    *testing.T
	dir  string
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	// File is the CA certificate's PEM file, for --tls-ca.
	File string
}

func newTestCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	ca := &testCA{t: t, dir: t.TempDir(), cert: cert, key: key}
	ca.File = ca.write(name+"-ca.pem", "CERTIFICATE", der)
	return ca
}

func (ca *testCA) write(name, typ string, der []byte) string {
	ca.t.Helper()
	path := filepath.Join(ca.dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		ca.t.Fatal(err)
	}
	return path
}

// issue makes a certificate for 127.0.0.1 and localhost, for a server or
// a client, and returns its certificate and key files and the key's PEM.
func (ca *testCA) issue(name string, usage x509.ExtKeyUsage) (certFile, keyFile, keyPEM string) {
	ca.t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		ca.t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{usage},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		DNSNames:    []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		ca.t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		ca.t.Fatal(err)
	}
	keyFile = ca.write(name+"-key.pem", "EC PRIVATE KEY", kder)
	b, _ := os.ReadFile(keyFile)
	return ca.write(name+"-cert.pem", "CERTIFICATE", der), keyFile, string(b)
}

// serverTLS makes the server require TLS with a certificate from ca and,
// with clientCA set, a client certificate signed by it (verify: true).
func serverTLS(t *testing.T, ca *testCA, clientCA *testCA) func(*server.Options) {
	cert, key, _ := ca.issue("server", x509.ExtKeyUsageServerAuth)
	return func(o *server.Options) {
		tc := &server.TLSConfigOpts{CertFile: cert, KeyFile: key}
		if clientCA != nil {
			tc.CaFile, tc.Verify = clientCA.File, true
		}
		cfg, err := server.GenTLSConfig(tc)
		if err != nil {
			t.Fatal(err)
		}
		o.TLSConfig, o.TLS, o.TLSVerify, o.TLSTimeout = cfg, true, clientCA != nil, 5
	}
}

// operator is a decentralised-auth setup as nsc would make it: an
// operator, a system account, an account with JetStream, and users.
type operator struct {
	t       *testing.T
	claims  *jwt.OperatorClaims
	kp      nkeys.KeyPair
	sysPub  string
	sysJWT  string
	account nkeys.KeyPair
	accPub  string
	accJWT  string
}

func newOperator(t *testing.T) *operator {
	t.Helper()
	op := &operator{t: t}
	var err error
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	op.kp, err = nkeys.CreateOperator()
	must(err)
	opPub, _ := op.kp.PublicKey()
	op.claims = jwt.NewOperatorClaims(opPub)
	_, err = op.claims.Encode(op.kp)
	must(err)
	sys, err := nkeys.CreateAccount()
	must(err)
	op.sysPub, _ = sys.PublicKey()
	op.sysJWT, err = jwt.NewAccountClaims(op.sysPub).Encode(op.kp)
	must(err)
	op.account, err = nkeys.CreateAccount()
	must(err)
	op.accPub, _ = op.account.PublicKey()
	ac := jwt.NewAccountClaims(op.accPub)
	ac.Limits.JetStreamLimits = jwt.JetStreamLimits{MemoryStorage: -1, DiskStorage: -1, Streams: -1, Consumer: -1}
	op.accJWT, err = ac.Encode(op.kp)
	must(err)
	return op
}

// server trusts the operator and knows its two accounts.
func (op *operator) server(o *server.Options) {
	r := &server.MemAccResolver{}
	r.Store(op.sysPub, op.sysJWT)
	r.Store(op.accPub, op.accJWT)
	o.TrustedOperators = []*jwt.OperatorClaims{op.claims}
	o.SystemAccount = op.sysPub
	o.AccountResolver = r
}

// creds writes a .creds file for a new user of the account signed by
// signer (the account's key, or a stranger's for a user the server must
// refuse) and returns its path and the secrets it holds: the JWT and seed.
func (op *operator) creds(name string, signer nkeys.KeyPair) (string, []string) {
	op.t.Helper()
	u, err := nkeys.CreateUser()
	if err != nil {
		op.t.Fatal(err)
	}
	pub, _ := u.PublicKey()
	seed, _ := u.Seed()
	uc := jwt.NewUserClaims(pub)
	uc.Name = name
	ujwt, err := uc.Encode(signer)
	if err != nil {
		op.t.Fatal(err)
	}
	b, err := jwt.FormatUserConfig(ujwt, seed)
	if err != nil {
		op.t.Fatal(err)
	}
	path := filepath.Join(op.t.TempDir(), name+".creds")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		op.t.Fatal(err)
	}
	return path, []string{ujwt, string(seed)}
}
