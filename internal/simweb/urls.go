package simweb

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"strconv"
	"time"
)

// portFor spreads host names over ports with a stable hash, so one host
// always maps to the same port and many hosts use all listeners (each
// listener port gives a client its own range of ephemeral ports).
func portFor(host string, ports []int) int {
	return ports[hashString(fnvOffset, host)%uint64(len(ports))]
}

func (s *Server) ipForURL() string {
	if ip := net.ParseIP(s.ip); ip != nil && ip.To4() == nil {
		return "[" + s.ip + "]"
	}
	return s.ip
}

// ResolveArgs returns curl-style --resolve entries "*:PORT:ADDR", one per
// listener, plain then TLS: with them any host name (h17.sim:PORT) reaches
// this server.
func (s *Server) ResolveArgs() []string {
	var out []string
	for _, p := range append(s.Ports(), s.tlsPorts...) {
		out = append(out, "*:"+strconv.Itoa(p)+":"+s.ipForURL())
	}
	return out
}

// URL returns "http://HOST:PORT" + path for host on one of the plain
// listeners (chosen by hash of host). It panics when there is none.
func (s *Server) URL(host, path string) string {
	return "http://" + net.JoinHostPort(host, strconv.Itoa(portFor(host, s.ports))) + path
}

// TLSURL is URL for the TLS listeners. It panics when there is none.
func (s *Server) TLSURL(host, path string) string {
	return "https://" + net.JoinHostPort(host, strconv.Itoa(portFor(host, s.tlsPorts))) + path
}

// BaseURLs returns "http://IP:PORT" for each plain listener.
func (s *Server) BaseURLs() []string {
	var out []string
	for _, a := range s.addrs {
		out = append(out, "http://"+a)
	}
	return out
}

// TLSBaseURLs returns "https://IP:PORT" for each TLS listener.
func (s *Server) TLSBaseURLs() []string {
	var out []string
	for _, a := range s.tlsAddrs {
		out = append(out, "https://"+a)
	}
	return out
}

// DialContext dials the server's IP on the port of addr, whatever its host
// name: the in-process equivalent of the ResolveArgs entries.
func (s *Server) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	var d net.Dialer
	return d.DialContext(ctx, network, net.JoinHostPort(s.ip, port))
}

// Client returns a plain net/http client for tests: it dials every host
// name to this server, trusts its CA, keeps connections alive, and times
// out after 30 s. Callers may change its fields.
func (s *Server) Client() *http.Client {
	return &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			DialContext:         s.DialContext,
			TLSClientConfig:     &tls.Config{RootCAs: s.CertPool()},
			MaxIdleConns:        1000,
			MaxIdleConnsPerHost: 100,
			IdleConnTimeout:     30 * time.Second,
			ForceAttemptHTTP2:   false,
		},
	}
}
