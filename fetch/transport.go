package fetch

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"time"

	"golang.org/x/net/proxy"
)

// buildHeaders merges the defaults with -H headers once, so fetches share
// them instead of building their own (the transport only reads them). There
// is one set per combination of same/cross origin and with/without body.
func (c *Client) buildHeaders() {
	// An empty User-Agent value makes net/http send none, instead of its
	// own "Go-http-client/1.1".
	h := http.Header{
		"User-Agent":      {c.o.UserAgent},
		"Accept":          {"*/*"},
		"Accept-Encoding": {acceptEncoding},
	}
	withBody := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}} // as curl -d
	for k, vs := range c.o.Header {
		ck := http.CanonicalHeaderKey(k)
		switch {
		case ck == "Host":
			if len(vs) > 0 {
				c.host = vs[len(vs)-1]
			}
		case len(vs) == 0 || (len(vs) == 1 && vs[0] == ""):
			// curl's "-H 'Name:'" removes a default header.
			if ck == "User-Agent" {
				h[ck] = []string{""}
			} else {
				delete(h, ck)
				delete(withBody, ck)
			}
		default:
			h[ck] = append([]string(nil), vs...)
			delete(withBody, ck)
		}
	}
	for _, cross := range []int{0, 1} {
		for _, body := range []int{0, 1} {
			hh := h.Clone()
			if body == 1 {
				for k, v := range withBody {
					hh[k] = v
				}
			}
			if cross == 1 {
				delete(hh, "Authorization")
				delete(hh, "Cookie")
			}
			c.headers[cross][body] = hh
		}
	}
}

// newTransport builds the transport. Compression is handled by readBody
// (net/http only knows gzip), and waits are bounded by the attempt context
// rather than per-phase transport timeouts, except the TLS handshake.
func newTransport(o Options, d *dialer) (*http.Transport, error) {
	tr := &http.Transport{
		DialContext: d.DialContext,
		TLSClientConfig: &tls.Config{
			InsecureSkipVerify: o.Insecure, //nolint:gosec // -k asks for it
			RootCAs:            o.RootCAs,
			ClientSessionCache: tls.NewLRUClientSessionCache(1024),
		},
		TLSHandshakeTimeout:    o.ConnectTimeout,
		DisableCompression:     true,
		ForceAttemptHTTP2:      !o.HTTP1,
		MaxIdleConns:           cmp.Or(o.MaxIdle, 2048), // bounded: idle sockets to hosts never seen again cost fds
		MaxIdleConnsPerHost:    cmp.Or(o.MaxIdlePerHost, 64),
		IdleConnTimeout:        30 * time.Second,
		ExpectContinueTimeout:  time.Second,
		MaxResponseHeaderBytes: MaxHeaderBytes,
		// An HTTP/2 connection is shared by its streams, and a cancelled
		// stream does not close it: a write that a server stopped reading
		// (a -d body, or frames once its window is full) would hold the
		// connection's write lock for as long as the server likes, with
		// the goroutine and the socket, and every later request to that
		// host would queue behind it until its own timeout. A write that
		// makes no progress for a whole attempt's time closes the
		// connection. (HTTP/1 closes the connection of a cancelled request.)
		//
		// A connection on which nothing at all arrives (a NAT or a load
		// balancer that dropped the flow) is found by a ping after half
		// the attempt's time without a frame, and closed when the ping
		// has no answer in another quarter: its stream ends as a reset,
		// before its timeout, retried on a new connection. Without it,
		// every later request to the host went to the dead connection and
		// timed out, for the rest of the run. (An idle pooled connection
		// is pinged too, every half --timeout, a few times before its
		// 30 s idle timeout closes it.)
		HTTP2: &http.HTTP2Config{WriteByteTimeout: o.Timeout,
			SendPingTimeout: max(o.Timeout/2, 250*time.Millisecond), PingTimeout: max(o.Timeout/4, 250*time.Millisecond)},
	}
	tr.TLSClientConfig.GetClientCertificate = clientCertHook(o.ClientCert)
	if o.HTTP1 {
		tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	}
	tr.OnProxyConnectResponse = proxyConnectResponse // --proxy's or the environment's
	tunnelHooks(tr, o.ConnectTimeout)
	if o.Proxy == "" {
		return tr, useEnvProxy(tr, o, d)
	}
	u, err := parseProxy(o.Proxy)
	if err != nil {
		return nil, err
	}
	if u.Scheme == "http" || u.Scheme == "https" {
		tr.Proxy = http.ProxyURL(u)
		return tr, nil
	}
	tr.Proxy = nil
	tr.DialContext, err = socksDial(u, "--proxy", o, d)
	return tr, err
}

// isSOCKS reports whether a proxy URL is a SOCKS proxy's.
func isSOCKS(u *url.URL) bool {
	return u != nil && (u.Scheme == "socks5" || u.Scheme == "socks5h")
}

// useEnvProxy has the transport use the environment's proxies (envProxy),
// and a socks5:// one through socksDial, as -x socks5:// does. net/http's own SOCKS handshake waited
// for a silent proxy as long as the attempt (--timeout, and a timeout
// rather than a connect timeout), although --connect-timeout bounds it.
// The proxy function tells the request's hop which SOCKS proxy it goes
// through and has net/http dial "directly"; the dial, which has the
// request's values, asks the hop (Client.follow gives every hop its trace
// when the environment names a SOCKS proxy). Connections are pooled by
// target, whose proxy the environment decides the same way every time.
func useEnvProxy(tr *http.Transport, o Options, d *dialer) error {
	env := envProxy()
	if env.HTTPProxy == "" && env.HTTPSProxy == "" {
		return nil
	}
	pf := env.ProxyFunc()
	tr.Proxy = func(req *http.Request) (*url.URL, error) { return pf(req.URL) }
	dials := map[string]func(context.Context, string, string) (net.Conn, error){}
	for _, s := range []string{env.HTTPProxy, env.HTTPSProxy} {
		u, err := url.Parse(s)
		if err != nil || !isSOCKS(u) || dials[u.String()] != nil {
			continue
		}
		dial, err := socksDial(u, "$*_PROXY", o, d)
		if err != nil {
			return err
		}
		dials[u.String()] = dial
	}
	if len(dials) == 0 {
		return nil
	}
	tr.Proxy = func(req *http.Request) (*url.URL, error) {
		u, err := pf(req.URL)
		if err != nil || !isSOCKS(u) {
			return u, err
		}
		h := hopOf(req.Context())
		if h == nil {
			return u, nil // net/http's own SOCKS dial: never directly
		}
		h.mu.Lock()
		h.socks = u.String()
		h.mu.Unlock()
		return nil, nil
	}
	direct := tr.DialContext
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		if h := hopOf(ctx); h != nil {
			h.mu.Lock()
			dial := dials[h.socks]
			h.mu.Unlock()
			if dial != nil {
				return dial(ctx, network, addr)
			}
		}
		return direct(ctx, network, addr)
	}
	return nil
}

// socksDial returns a dial through the SOCKS proxy u (from flag, for
// messages), bounded by the connect timeout.
func socksDial(u *url.URL, flag string, o Options, d *dialer) (func(context.Context, string, string) (net.Conn, error), error) {
	// A dialer for each handshake (see socksForward); this one checks u.
	if _, err := socksDialer(u, d); err != nil {
		return nil, fmt.Errorf("%s %q: %v", flag, u.Redacted(), err)
	}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		fw := &socksForward{d: d}
		cd, err := socksDialer(u, fw)
		if err != nil {
			return nil, err
		}
		// --resolve still applies: the proxy is asked for the pinned
		// address. Other names are resolved by the proxy.
		if host, port, err := net.SplitHostPort(addr); err == nil {
			if ips := d.pinned(host, port); len(ips) > 0 {
				addr = net.JoinHostPort(ips[0].String(), port)
			}
		}
		// The transport detaches dials from request cancellation; bound
		// the proxy handshake like a connect.
		dctx, cancel := context.WithTimeout(ctx, o.ConnectTimeout)
		defer cancel()
		c, err := cd.DialContext(dctx, network, addr)
		var ne net.Error
		if err != nil && ctx.Err() == nil && (dctx.Err() != nil || errors.As(err, &ne) && ne.Timeout()) {
			// The proxy did not connect us in time (the handshake's read
			// deadline may fire before the context says so): a connect
			// timeout, not the attempt's. As after a silent http proxy,
			// a bare host does not fall back to http through it.
			msg := "through " + flag + " " + u.Redacted()
			err = &kindError{kind: KindConnectTimeout, msg: msg, noFallback: true,
				err: &net.OpError{Op: "dial", Net: network, Err: &timeoutError{msg}}}
		} else if err != nil {
			if ke := fw.refusal(u, addr); ke != nil {
				ke.err = err
				err = ke
			}
		}
		fw.done()
		return c, err
	}, nil
}

// socksDialer is golang.org/x/net/proxy's SOCKS dialer for u, dialling the
// proxy with forward.
func socksDialer(u *url.URL, forward proxy.Dialer) (proxy.ContextDialer, error) {
	pd, err := proxy.FromURL(u, forward)
	if err != nil {
		return nil, err
	}
	cd, ok := pd.(proxy.ContextDialer)
	if !ok {
		return nil, errors.New("dialer cannot be cancelled")
	}
	return cd, nil
}

// clientCertHook answers a server's request for a client certificate as
// crypto/tls does with Config.Certificates (cert if the server can take it,
// else none), and notes the request in the hop's trace: a server that then
// refuses the handshake is telling about the certificate, and over TLS 1.3
// its alert may lose the race with the request's first write.
func clientCertHook(cert *tls.Certificate) func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
	return func(cri *tls.CertificateRequestInfo) (*tls.Certificate, error) {
		send := cert != nil && cri.SupportsCertificate(cert) == nil
		if h, _ := cri.Context().Value(certHopKey{}).(*hopTrace); h != nil {
			h.mu.Lock()
			h.certAsked, h.certSent = true, send
			h.mu.Unlock()
		}
		if send {
			return cert, nil
		}
		return new(tls.Certificate), nil
	}
}

// tunnelHooks bounds an http proxy's answer to CONNECT by the connect
// timeout, as the SOCKS handshake is: net/http waits for it as long as the
// attempt's context allows (a minute without one), so a silent proxy gave a
// timeout after --timeout, and a bare host never fell back. The dial
// records its connection in the hop's trace (the request carries the trace
// when a proxy may be used); just before the CONNECT the connection gets a
// deadline, which the proxy's answer clears.
func tunnelHooks(tr *http.Transport, timeout time.Duration) {
	dial := tr.DialContext
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		// net/http passes the same context to the dial, to
		// GetProxyConnectHeader and to OnProxyConnectResponse, and a new
		// one to each dial: it tells a hop's dials apart.
		if h := hopOf(ctx); h != nil && err == nil {
			h.mu.Lock()
			if h.tunnels == nil {
				h.tunnels = make(map[context.Context]*tunnel, 1)
			}
			h.tunnels[ctx] = &tunnel{conn: c}
			h.mu.Unlock()
		}
		return c, err
	}
	tr.GetProxyConnectHeader = func(ctx context.Context, proxyURL *url.URL, _ string) (http.Header, error) {
		if h := hopOf(ctx); h != nil {
			h.mu.Lock()
			if tn := h.tunnels[ctx]; tn != nil && timeout > 0 {
				tn.conn.SetDeadline(time.Now().Add(timeout))
				tn.armed, tn.proxy = true, proxyURL.Redacted()
			}
			h.mu.Unlock()
		}
		return nil, nil
	}
	answered := tr.OnProxyConnectResponse
	tr.OnProxyConnectResponse = func(ctx context.Context, proxyURL *url.URL, req *http.Request, res *http.Response) error {
		if h := hopOf(ctx); h != nil {
			h.mu.Lock()
			if tn := h.tunnels[ctx]; tn != nil {
				if tn.armed {
					tn.conn.SetDeadline(time.Time{})
				}
				delete(h.tunnels, ctx)
			}
			h.mu.Unlock()
		}
		return answered(ctx, proxyURL, req, res)
	}
}

// proxyConnectResponse turns a proxy's refusal of an https tunnel into a
// refused connection that says so: net/http's own error is the bare reason
// phrase ("Proxy Authentication Required"), of no kind fetch knows. It is
// no reason for a bare host's http fallback, which would go through the
// same proxy in plain text.
func proxyConnectResponse(_ context.Context, proxyURL *url.URL, req *http.Request, res *http.Response) error {
	if res.StatusCode == http.StatusOK {
		return nil
	}
	// A 4xx is the proxy's verdict on the request itself (its
	// credentials, its policy), which a retry would send again unchanged;
	// a 5xx is its trouble reaching the target, and a 408 or 429 (a
	// rotating proxy over its limit) its load, which may pass.
	permanent := res.StatusCode >= 400 && res.StatusCode < 500 &&
		res.StatusCode != http.StatusRequestTimeout && res.StatusCode != http.StatusTooManyRequests
	e := &kindError{kind: KindRefused, noFallback: true, permanent: permanent,
		msg: fmt.Sprintf("proxy %s refused a tunnel to %s: %s", proxyURL.Redacted(), req.Host, res.Status)}
	if res.StatusCode == http.StatusProxyAuthRequired {
		e.msg += " (give the proxy's credentials in its URL: http://user:password@host:port)"
	}
	return e
}
