package fetch

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"strings"
	"time"

	"golang.org/x/net/proxy"
)

// acceptEncoding lists the codings readBody can undo.
const acceptEncoding = "gzip, deflate, br, zstd"

// Client makes attempts with one set of Options. It is safe for concurrent
// use; its connection pool and DNS cache are shared by all its fetches.
type Client struct {
	o      Options
	tr     *http.Transport
	dial   *dialer
	method string
	// headers[cross][body]: request headers for hops on the first URL's
	// origin or not (no Authorization, no Cookie) and with a body or not.
	headers [2][2]http.Header
	host    string // a Host given with -H, for same-origin hops
}

// NewClient validates o and builds a client from it.
func NewClient(o Options) (*Client, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	c := &Client{o: o, method: o.Method}
	if c.method == "" {
		c.method = http.MethodGet
		if o.Body != nil {
			c.method = http.MethodPost
		}
	}
	c.buildHeaders()
	c.dial = newDialer(o)
	tr, err := newTransport(o, c.dial)
	if err != nil {
		return nil, err
	}
	c.tr = tr
	return c, nil
}

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
		Proxy:       http.ProxyFromEnvironment,
		DialContext: d.DialContext,
		TLSClientConfig: &tls.Config{
			InsecureSkipVerify: o.Insecure, //nolint:gosec // -k asks for it
			ClientSessionCache: tls.NewLRUClientSessionCache(1024),
		},
		TLSHandshakeTimeout:    o.ConnectTimeout,
		DisableCompression:     true,
		ForceAttemptHTTP2:      !o.HTTP1,
		MaxIdleConns:           2048, // bounded: idle sockets to hosts never seen again cost fds
		MaxIdleConnsPerHost:    64,
		IdleConnTimeout:        30 * time.Second,
		ExpectContinueTimeout:  time.Second,
		MaxResponseHeaderBytes: 1 << 20,
	}
	if o.HTTP1 {
		tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	}
	if o.Proxy == "" {
		return tr, nil
	}
	u, err := parseProxy(o.Proxy)
	if err != nil {
		return nil, err
	}
	if u.Scheme == "http" || u.Scheme == "https" {
		tr.Proxy = http.ProxyURL(u)
		return tr, nil
	}
	pd, err := proxy.FromURL(u, d)
	if err != nil {
		return nil, fmt.Errorf("--proxy %q: %v", o.Proxy, err)
	}
	cd, ok := pd.(proxy.ContextDialer)
	if !ok {
		return nil, fmt.Errorf("--proxy %q: dialer cannot be cancelled", o.Proxy)
	}
	tr.Proxy = nil
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		// --resolve still applies: the proxy is asked for the pinned
		// address. Other names are resolved by the proxy.
		if host, port, err := net.SplitHostPort(addr); err == nil {
			if ips := d.pinned(host, port); len(ips) > 0 {
				addr = net.JoinHostPort(ips[0].String(), port)
			}
		}
		// The transport detaches dials from request cancellation; bound
		// the proxy handshake like a connect.
		ctx, cancel := context.WithTimeout(ctx, o.ConnectTimeout)
		defer cancel()
		return cd.DialContext(ctx, network, addr)
	}
	return tr, nil
}

// Close closes the client's idle connections.
func (c *Client) Close() { c.tr.CloseIdleConnections() }

// Fetch makes one attempt for t: the whole redirect chain, headers and body,
// bounded by ctx and by Options.Timeout. It always returns a Result (an
// error is recorded in it, never returned or panicked) with Seq and Input
// copied from t, Attempts 1 and StartedAt set; Error is nil for any
// completed exchange, whatever the status.
//
// On the wire, one attempt may carry a request twice: net/http's transport
// silently resends an idempotent request once when a reused keep-alive
// connection turns out to be closed before any response byte arrives.
func (c *Client) Fetch(ctx context.Context, t Target) (r Result) {
	start := time.Now()
	r = Result{Seq: t.Seq, Input: t.Input, URL: t.URL, Attempts: 1, StartedAt: start}
	defer func() {
		if p := recover(); p != nil {
			r.Error = &Error{Kind: KindOther, Message: fmt.Sprintf("internal error: %v", p)}
		}
		r.Timing.Total = ms(time.Since(start))
	}()
	if t.Invalid != "" {
		r.Error = &Error{Kind: KindInvalidURL, Message: t.Invalid}
		return r
	}
	actx, cancel := context.WithTimeout(ctx, c.o.Timeout)
	defer cancel()

	ht, err := c.follow(actx, &r, t.URL)
	if err != nil && t.Bare && !c.o.NoFallback && r.Status == 0 && actx.Err() == nil {
		if plain, ok := httpForm(t.URL); ok && fallbackable(err, c.kind(ctx, actx, err, ht)) {
			r = Result{Seq: t.Seq, Input: t.Input, URL: plain, Attempts: 1, StartedAt: start}
			ht, err = c.follow(actx, &r, plain)
		}
	}
	if ht != nil {
		r.Timing = ht.timing()
		r.IP = ht.remoteIP()
	}
	if err != nil {
		kind := c.kind(ctx, actx, err, ht)
		r.Error = &Error{Kind: kind, Message: c.message(err, kind, &r, start)}
	}
	return r
}

// httpForm turns a bare host's https URL into its http fallback, dropping
// an explicit :443.
func httpForm(s string) (string, bool) {
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "https" {
		return "", false
	}
	u.Scheme = "http"
	if u.Port() == "443" {
		u.Host = u.Hostname()
		if strings.Contains(u.Host, ":") {
			u.Host = "[" + u.Host + "]"
		}
	}
	return u.String(), true
}

// kind classifies err with what the attempt saw: a done context outranks
// the error it caused (a dial cut short by the attempt deadline is a
// timeout, not a connect timeout); a failed TLS handshake is tls (or
// connect_timeout when it timed out); an unrecognised error after the
// connection was made is the server breaking the protocol.
func (c *Client) kind(ctx, actx context.Context, err error, ht *hopTrace) ErrorKind {
	var ke *kindError
	if errors.As(err, &ke) && (ke.kind == KindInvalidURL || ke.kind == KindTooManyRedirects) {
		return ke.kind // decided from a complete response, whatever the clock says since
	}
	if ctx.Err() != nil {
		if errors.Is(ctx.Err(), context.Canceled) {
			return KindCanceled
		}
		return KindTimeout
	}
	if actx.Err() != nil {
		return KindTimeout
	}
	kind := Classify(err)
	if ht == nil {
		return kind
	}
	wrote, gotConn, tlsErr := ht.snapshot()
	if tlsErr != nil && kind != KindInvalidURL && kind != KindProtocol && kind != KindTooManyRedirects {
		var ne net.Error
		if errors.As(tlsErr, &ne) && ne.Timeout() {
			return KindConnectTimeout
		}
		return KindTLS
	}
	if kind == KindOther && (wrote || gotConn) {
		return KindProtocol
	}
	return kind
}

// maxMessage caps error messages, which may quote network text.
const maxMessage = 512

// message is the short human text for a failed attempt.
func (c *Client) message(err error, kind ErrorKind, r *Result, start time.Time) string {
	switch kind {
	case KindCanceled:
		return "canceled"
	case KindTimeout:
		phase := "waiting for a response"
		if r.Status != 0 {
			phase = "reading the body"
		}
		return fmt.Sprintf("timed out after %v %s", time.Since(start).Round(time.Millisecond), phase)
	}
	switch {
	case kind == KindReset && errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed before the body was complete"
	case kind == KindReset && errors.Is(err, io.EOF):
		return "server closed the connection without responding"
	}
	s := err.Error()
	for _, p := range []string{"net/http: HTTP/1.x transport connection broken: ", "dial tcp: ", "dial tcp "} {
		s = strings.TrimPrefix(s, p)
	}
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) > maxMessage {
		s = strings.ToValidUTF8(s[:maxMessage], "") + "..."
	}
	return s
}

// follow runs the redirect chain from first, filling r, and returns the
// trace of the last hop.
func (c *Client) follow(ctx context.Context, r *Result, first string) (*hopTrace, error) {
	method, body := c.method, c.o.Body
	r.Method = method
	originKey := "" // scheme://host:port of first, computed at the first redirect
	cur, sameOrigin := first, true
	for {
		ht := newHopTrace()
		req, err := c.newRequest(httptrace.WithClientTrace(ctx, &ht.ct), method, cur, body, sameOrigin)
		if err != nil {
			return ht, err
		}
		r.FinalURL = cur
		resp, err := c.tr.RoundTrip(req)
		if err != nil {
			return ht, err
		}
		c.record(r, resp)
		loc := resp.Header.Get("Location")
		if loc == "" || !isRedirect(resp.StatusCode) {
			return ht, c.readFinal(r, resp, ht)
		}
		// Every response that redirects is listed, followed or not: with
		// --no-follow, a redirect loop or a bad Location, the last entry
		// is also the final response.
		r.Redirects = append(r.Redirects, Hop{URL: cur, Status: resp.StatusCode})
		if !c.o.Follow {
			return ht, c.readFinal(r, resp, ht)
		}
		if originKey == "" {
			originKey = resp.Request.URL.Scheme + "://" + hostPort(resp.Request.URL)
		}
		next, err := resp.Request.URL.Parse(loc)
		switch {
		case err != nil:
			err = &kindError{kind: KindInvalidURL, msg: fmt.Sprintf("redirect to invalid location %q", loc)}
		case next.Scheme != "http" && next.Scheme != "https":
			err = &kindError{kind: KindInvalidURL, msg: fmt.Sprintf("redirect to unsupported scheme %q", next.Scheme)}
		case len(r.Redirects) > c.o.MaxRedirects:
			err = &kindError{kind: KindTooManyRedirects,
				msg: fmt.Sprintf("more than %d redirects (--max-redirects)", c.o.MaxRedirects)}
		}
		if err != nil {
			if rerr := c.readFinal(r, resp, ht); rerr != nil {
				return ht, rerr
			}
			return ht, err
		}
		discardBody(resp)
		method, body = redirectMethod(resp.StatusCode, method, body)
		next.Fragment, next.RawFragment = "", ""
		cur = next.String()
		sameOrigin = next.Scheme+"://"+hostPort(next) == originKey
	}
}

// hostPort returns u's lower-cased host with its port made explicit.
func hostPort(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = "80"
		if u.Scheme == "https" {
			port = "443"
		}
	}
	return net.JoinHostPort(strings.ToLower(u.Hostname()), port)
}

// isRedirect reports whether a status redirects when it carries a
// Location (304 Not Modified and 305 Use Proxy do not).
func isRedirect(code int) bool {
	switch code {
	case 300, 301, 302, 303, 307, 308:
		return true
	}
	return false
}

// redirectMethod applies the browsers' (and Go's) rewriting: 303 turns
// anything but HEAD into GET, 301/302 turn anything but GET/HEAD into GET,
// both dropping the body; 307/308 keep method and body.
func redirectMethod(code int, method string, body []byte) (string, []byte) {
	switch code {
	case 307, 308:
		return method, body
	case 303:
		if method != http.MethodHead {
			return http.MethodGet, nil
		}
	default:
		if method != http.MethodGet && method != http.MethodHead {
			return http.MethodGet, nil
		}
	}
	return method, body
}

// newRequest builds one hop's request. Credentials (-H Authorization and
// Cookie, a -H Host) go only to the first URL's scheme, host and port.
func (c *Client) newRequest(ctx context.Context, method, rawURL string, body []byte, sameOrigin bool) (*http.Request, error) {
	var req *http.Request
	var err error
	if body != nil {
		req, err = http.NewRequestWithContext(ctx, method, rawURL, bytes.NewReader(body))
	} else {
		req, err = http.NewRequestWithContext(ctx, method, rawURL, nil)
	}
	if err != nil {
		return nil, &kindError{kind: KindInvalidURL, msg: fmt.Sprintf("invalid URL %q", rawURL), err: err}
	}
	cross, withBody := 1, 0
	if sameOrigin {
		cross = 0
		if c.host != "" {
			req.Host = c.host
		}
	}
	if body != nil {
		withBody = 1
	}
	req.Header = c.headers[cross][withBody]
	if u := req.URL.User; u != nil {
		// As curl and http.Client do: credentials in the URL become Basic
		// auth unless -H gave an Authorization.
		if _, ok := req.Header["Authorization"]; !ok {
			pass, _ := u.Password()
			req.Header = req.Header.Clone()
			req.SetBasicAuth(u.Username(), pass)
		}
	}
	return req, nil
}

// record copies what the result reports from a response's status line and
// headers.
func (c *Client) record(r *Result, resp *http.Response) {
	r.Status = resp.StatusCode
	r.Proto = resp.Proto
	h := resp.Header
	r.Server = h.Get("Server")
	r.ContentType = h.Get("Content-Type")
	r.ContentLength = nil
	if v := h["Content-Length"]; len(v) > 0 {
		if n, err := strconv.ParseInt(strings.TrimSpace(v[0]), 10, 64); err == nil && n >= 0 {
			r.ContentLength = &n
		}
	}
	r.RetryAfter = 0
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
		r.RetryAfter, _ = ParseRetryAfter(h.Get("Retry-After"), time.Now())
	}
}

// readFinal reads the last response's body into r and closes it.
func (c *Client) readFinal(r *Result, resp *http.Response, ht *hopTrace) error {
	keep := 0
	if maybeHTML(r.ContentType) {
		keep = int(min(c.o.MaxBody, titleWindow))
	}
	info, err := readBody(resp.Body, resp.Header["Content-Encoding"], c.o.MaxBody, keep)
	ht.markBodyDone()
	_ = resp.Body.Close()
	r.Bytes, r.Truncated, r.BodySHA256 = info.n, info.truncated, info.sha256
	if info.prefix != nil {
		if p := *info.prefix; r.ContentType != "" || isSniffedHTML(p) {
			r.Title = Title(p, r.ContentType)
		}
		putPrefix(info.prefix)
	}
	return err
}

// maybeHTML reports whether a Content-Type is HTML, or absent (then the
// body is sniffed).
func maybeHTML(ct string) bool {
	if ct == "" {
		return true
	}
	mt, _, _ := strings.Cut(ct, ";")
	mt = strings.TrimSpace(mt)
	return strings.EqualFold(mt, "text/html") || strings.EqualFold(mt, "application/xhtml+xml")
}

// isSniffedHTML reports whether a body without Content-Type looks like HTML.
func isSniffedHTML(b []byte) bool {
	return strings.HasPrefix(http.DetectContentType(b), "text/html")
}
