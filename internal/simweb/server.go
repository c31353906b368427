package simweb

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultMaxLifetime is how long a Server lives when Config.MaxLifetime is
// zero: a forgotten simweb process must not outlive the run that needed it.
const DefaultMaxLifetime = 10 * time.Minute

// Config says how many listeners a Server opens and how it behaves.
type Config struct {
	// Addr is the loopback IP to listen on: 127.0.0.1 (default), another
	// 127.0.0.0/8 address, ::1, or "localhost". Anything else is refused.
	Addr string
	// Ports is the number of plain HTTP listeners. When both Ports and
	// TLSPorts are zero, one plain listener is opened.
	Ports int
	// TLSPorts is the number of HTTPS listeners (HTTP/1.1 only, so that the
	// faults that hijack the connection work there too).
	TLSPorts int
	// BasePort, when non-zero, fixes the ports: plain listeners take
	// BasePort, BasePort+1, ... and TLS listeners the ports after them.
	// Zero picks free ephemeral ports.
	BasePort int
	// Seed drives every pseudo-random choice (host profiles, /mix, /page,
	// /latency); the same seed gives the same behaviour for the same URL.
	Seed uint64
	// MaxLifetime closes the server after this long; zero means
	// DefaultMaxLifetime. There is no way to live forever.
	MaxLifetime time.Duration
	// HostLimits enforces politeness limits on named hosts (lower-case, no
	// port) for every path, on top of ?polite=, ?rps= and host profiles.
	HostLimits map[string]Limit
}

// Limit is a politeness rule: requests beyond it get 429 with Retry-After.
type Limit struct {
	// Concurrent is the most requests the host serves at once (0: no limit).
	Concurrent int
	// PerSecond is the most requests the host accepts in one wall-clock
	// second (0: no limit).
	PerSecond int
}

func (l Limit) active() bool { return l.Concurrent > 0 || l.PerSecond > 0 }

// Server is a running simulated web. It is safe for concurrent use.
type Server struct {
	cfg      Config
	ip       string
	addrs    []string
	tlsAddrs []string
	ports    []int
	tlsPorts []int
	plain    *http.Server
	secure   *http.Server
	certs    *certs
	serving  sync.WaitGroup

	done      chan struct{}
	closeOnce sync.Once
	closeErr  error
	lifetime  atomic.Pointer[time.Timer] // set after the timer starts, read by Close
	active    atomic.Int64               // handlers running, so Close can wait for them

	hostsMu sync.RWMutex
	hosts   map[string]*hostState
	total   atomic.Int64

	flakyMu sync.Mutex
	flaky   map[string]int
}

// Start opens the listeners and serves until Close or MaxLifetime.
func Start(cfg Config) (*Server, error) {
	ip, err := loopbackIP(cfg.Addr)
	if err != nil {
		return nil, err
	}
	if cfg.Ports < 0 || cfg.TLSPorts < 0 {
		return nil, fmt.Errorf("simweb: negative listener count (ports %d, tls ports %d)", cfg.Ports, cfg.TLSPorts)
	}
	if cfg.Ports == 0 && cfg.TLSPorts == 0 {
		cfg.Ports = 1
	}
	if cfg.MaxLifetime <= 0 {
		cfg.MaxLifetime = DefaultMaxLifetime
	}
	s := &Server{
		cfg:   cfg,
		ip:    ip,
		done:  make(chan struct{}),
		hosts: make(map[string]*hostState),
		flaky: make(map[string]int),
	}
	quiet := log.New(io.Discard, "", 0) // no per-request logging, even of errors
	s.plain = &http.Server{Handler: s, ReadHeaderTimeout: time.Minute, IdleTimeout: 30 * time.Second, ErrorLog: quiet}
	plainLns, err := s.listen(cfg.Ports, 0)
	if err != nil {
		return nil, err
	}
	var tlsLns []net.Listener
	if cfg.TLSPorts > 0 {
		if s.certs, err = newCerts(); err != nil {
			closeAll(plainLns)
			return nil, fmt.Errorf("simweb: %w", err)
		}
		var protos http.Protocols
		protos.SetHTTP1(true)
		s.secure = &http.Server{Handler: s, ReadHeaderTimeout: time.Minute, IdleTimeout: 30 * time.Second,
			ErrorLog: quiet, Protocols: &protos}
		if tlsLns, err = s.listen(cfg.TLSPorts, cfg.Ports); err != nil {
			closeAll(plainLns)
			return nil, err
		}
	}
	for _, ln := range plainLns {
		s.addrs = append(s.addrs, ln.Addr().String())
		s.ports = append(s.ports, ln.Addr().(*net.TCPAddr).Port)
		s.serve(s.plain, ln)
	}
	tlsCfg := &tls.Config{GetCertificate: s.certs.getCertificateFunc(), NextProtos: []string{"http/1.1"}, MinVersion: tls.VersionTLS12}
	for _, ln := range tlsLns {
		s.tlsAddrs = append(s.tlsAddrs, ln.Addr().String())
		s.tlsPorts = append(s.tlsPorts, ln.Addr().(*net.TCPAddr).Port)
		s.serve(s.secure, tls.NewListener(ln, tlsCfg))
	}
	s.lifetime.Store(time.AfterFunc(cfg.MaxLifetime, func() { s.Close() }))
	return s, nil
}

// getCertificateFunc is nil-safe so Start can build one tls.Config.
func (c *certs) getCertificateFunc() func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	if c == nil {
		return nil
	}
	return c.getCertificate
}

func (s *Server) serve(srv *http.Server, ln net.Listener) {
	s.serving.Add(1)
	go func() {
		defer s.serving.Done()
		_ = srv.Serve(ln) // returns http.ErrServerClosed on Close
	}()
}

// listen opens n loopback listeners; offset is the index of the first one
// relative to BasePort.
func (s *Server) listen(n, offset int) ([]net.Listener, error) {
	var lns []net.Listener
	for i := range n {
		port := 0
		if s.cfg.BasePort != 0 {
			port = s.cfg.BasePort + offset + i
		}
		addr := net.JoinHostPort(s.ip, strconv.Itoa(port))
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			closeAll(lns)
			return nil, fmt.Errorf("simweb: listen on %s: %w", addr, err)
		}
		if tcp, ok := ln.Addr().(*net.TCPAddr); !ok || !tcp.IP.IsLoopback() {
			ln.Close()
			closeAll(lns)
			return nil, fmt.Errorf("simweb: listener %s is not on loopback", ln.Addr())
		}
		lns = append(lns, ln)
	}
	return lns, nil
}

func closeAll(lns []net.Listener) {
	for _, ln := range lns {
		ln.Close()
	}
}

// loopbackIP validates Config.Addr: only loopback IP literals and
// "localhost" are accepted, so a test server is never reachable from
// another machine.
func loopbackIP(addr string) (string, error) {
	switch addr {
	case "", "localhost":
		return "127.0.0.1", nil
	}
	ip := net.ParseIP(addr)
	if ip == nil {
		return "", fmt.Errorf("simweb: address %q is not an IP literal (only loopback addresses are allowed)", addr)
	}
	if !ip.IsLoopback() {
		return "", fmt.Errorf("simweb: address %q is not a loopback address", addr)
	}
	return ip.String(), nil
}

// Close stops every listener, ends held requests (silence, trickle,
// delays) and waits briefly for handlers to return. It is idempotent.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		if t := s.lifetime.Load(); t != nil {
			t.Stop()
		}
		close(s.done)
		err := s.plain.Close()
		if s.secure != nil {
			err = errors.Join(err, s.secure.Close())
		}
		s.serving.Wait()
		// Handlers watch s.done and the closed connections, so they return
		// within a few milliseconds; the bound only guards against a bug.
		deadline := time.Now().Add(5 * time.Second)
		for s.active.Load() > 0 && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		s.closeErr = err
	})
	return s.closeErr
}

// Done is closed when the server has begun closing, by Close or because
// MaxLifetime passed.
func (s *Server) Done() <-chan struct{} { return s.done }

// Seed returns the seed the server was started with.
func (s *Server) Seed() uint64 { return s.cfg.Seed }

// Addrs returns "IP:PORT" for each plain listener.
func (s *Server) Addrs() []string { return append([]string(nil), s.addrs...) }

// TLSAddrs returns "IP:PORT" for each TLS listener.
func (s *Server) TLSAddrs() []string { return append([]string(nil), s.tlsAddrs...) }

// Ports returns the port of each plain listener.
func (s *Server) Ports() []int { return append([]int(nil), s.ports...) }

// TLSPorts returns the port of each TLS listener.
func (s *Server) TLSPorts() []int { return append([]int(nil), s.tlsPorts...) }

// CertPool returns a pool holding the CA that signed the TLS certificates,
// or nil when the server has no TLS listener.
func (s *Server) CertPool() *x509.CertPool {
	if s.certs == nil {
		return nil
	}
	return s.certs.pool
}

// CAPEM returns the PEM of the CA that signed the TLS certificates (for a
// client's --cacert), or nil when the server has no TLS listener.
func (s *Server) CAPEM() []byte {
	if s.certs == nil {
		return nil
	}
	return append([]byte(nil), s.certs.caPEM...)
}
