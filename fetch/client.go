package fetch

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/fanout/fanout/internal/humantime"
)

// acceptEncoding lists the codings readBody can undo.
const acceptEncoding = "gzip, deflate, br, zstd"

// Client makes attempts with one set of Options. It is safe for concurrent
// use; its connection pool and DNS cache are shared by all its fetches.
// Make it with NewClient: a zero Client fetches nothing, and each of its
// results says so (kind other).
type Client struct {
	o  Options
	tr *http.Transport
	// bareTr, when not nil, is tr with a TLS handshake of at most half
	// Options.Timeout, for bare hosts' https tries: see NewClient.
	bareTr *http.Transport
	dial   *dialer
	method string
	// headers[cross][body]: request headers for hops on the first URL's
	// origin or not (no Authorization, no Cookie) and with a body or not.
	headers [2][2]http.Header
	host    string // a Host given with -H, for same-origin hops
	// mayTunnel: https targets may go through an http proxy's CONNECT
	// (--proxy, or $HTTPS_PROXY), which tunnelHooks bound.
	mayTunnel bool
	// envSOCKS: an environment proxy (envProxy) is a SOCKS proxy, which
	// every hop's trace tells its dial about (see useEnvProxy).
	envSOCKS bool
	// match is Options.Match made ready once for every response's search.
	match *matchSet
}

// NewClient validates o and builds a client from it.
func NewClient(o Options) (*Client, error) {
	if err := o.Validate(); err != nil {
		if o.Timeout == 0 || o.ConnectTimeout == 0 {
			// The mark of Options{}, whose zero values are not defaults.
			err = errors.Join(err, errors.New("(zero values are not defaults: start from fetch.DefaultOptions(), which has working values, and change what you need)"))
		}
		return nil, err
	}
	c := &Client{o: o, method: o.RequestMethod(), match: newMatchSet(o.Match)}
	c.buildHeaders()
	if o.Proxy != "" {
		// By the parsed scheme, which url.Parse lowercases: "HTTP://" is
		// an http proxy too.
		if u, err := parseProxy(o.Proxy); err == nil {
			c.mayTunnel = u.Scheme == "http" || u.Scheme == "https"
		}
	} else {
		if err := envProxies(); err != nil {
			return nil, err
		}
		env := envProxy()
		c.mayTunnel = env.HTTPSProxy != ""
		for _, s := range []string{env.HTTPProxy, env.HTTPSProxy} {
			u, err := url.Parse(s)
			c.envSOCKS = c.envSOCKS || err == nil && isSOCKS(u)
		}
	}
	if o.SaveDir != "" {
		if err := makeSaveDir(o.SaveDir); err != nil {
			return nil, err
		}
	}
	c.dial = newDialer(o)
	tr, err := newTransport(o, c.dial)
	if err != nil {
		return nil, err
	}
	c.tr = tr
	if hs := o.Timeout / 2; !o.NoFallback && hs < o.ConnectTimeout {
		// A bare host whose peer does not speak TLS and stays silent
		// on a ClientHello (waiting for a whole request) is found out
		// by the handshake's timeout, and falls back to http in what
		// is left of the attempt. With --timeout no longer than twice
		// --connect-timeout, the handshake would take all of it, and a
		// live http service would be reported as a timeout: bare
		// hosts' handshakes get half the attempt, the http try the
		// rest. (Targets with a scheme keep --connect-timeout.)
		bare, err := newTransport(o, c.dial)
		if err != nil {
			return nil, err
		}
		bare.TLSHandshakeTimeout = hs
		c.bareTr = bare
	}
	return c, nil
}

// Close closes the client's idle connections. The client stays usable: a
// later Fetch dials again.
func (c *Client) Close() {
	if c == nil {
		return
	}
	for _, tr := range []*http.Transport{c.tr, c.bareTr} {
		if tr != nil {
			tr.CloseIdleConnections()
		}
	}
}

// Fetch makes one attempt for t: the whole redirect chain, headers and body,
// bounded by ctx and by Options.Timeout. It always returns a Result (an
// error is recorded in it, never returned or panicked) with Seq and Input
// copied from t, Attempts 1 and StartedAt set; Error is nil for any
// completed exchange, whatever the status.
//
// On the wire, one attempt may carry a request twice: net/http's transport
// silently resends an idempotent request once when a reused keep-alive
// connection turns out to be closed before any response byte arrives.
// (Its HTTP/2 side would go on resending while the server refuses or
// resets the stream, for the whole timeout; the attempt ends as reset
// before a third send.)
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
	if c == nil || c.tr == nil {
		// Before the deferred recover would turn the nil dereference
		// into "internal error: runtime error: invalid memory address".
		r.Error = &Error{Kind: KindOther, Message: "fetch: nil *Client or one not made by fetch.NewClient: make one with fetch.NewClient"}
		return r
	}
	actx, cancel := context.WithTimeout(ctx, c.o.Timeout)
	defer cancel()

	tr := c.tr
	if t.Bare && c.bareTr != nil {
		tr = c.bareTr
	}
	ht, err := c.follow(actx, cancel, tr, &r, &t, t.URL)
	if err != nil && t.Bare && !c.o.NoFallback && r.Status == 0 && actx.Err() == nil {
		// (Not through a proxy that did not answer: plain text through it
		// would hide that, as after a refused tunnel.)
		if plain, ok := httpForm(t.URL); ok && fallbackable(err, c.kind(ctx, actx, err, ht)) && (ht == nil || !ht.tunnelTimedOut()) {
			r = Result{Seq: t.Seq, Input: t.Input, URL: plain, Attempts: 1, StartedAt: start}
			ht, err = c.follow(actx, cancel, tr, &r, &t, plain)
		}
	}
	if ht != nil {
		r.Timing = ht.timing()
		r.IP = ht.remoteIP()
	}
	if err != nil {
		kind := c.kind(ctx, actx, err, ht)
		r.Error = &Error{Kind: kind, Message: c.message(err, kind, ht, start), Transient: kind == KindDNS && dnsTimedOut(err),
			Permanent: permanent(err), Proxy: proxyFault(err, ht), Save: saveFailed(err)}
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
	// Port 443 was https's (the bare host's own default), port 80 is
	// http's: either way the http form leaves the port out, as input
	// normalisation does for a default port.
	if p := u.Port(); p == "443" || p == "80" {
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
// connection was made (to the server, or to a proxy that then answered its
// CONNECT with something that is not HTTP) is the peer breaking the protocol.
func (c *Client) kind(ctx, actx context.Context, err error, ht *hopTrace) ErrorKind {
	var ke *kindError
	if errors.As(err, &ke) && (ke.kind == KindInvalidURL || ke.kind == KindTooManyRedirects || ke.kind == KindSkipped || ke.kind == KindMismatch || ke.save) {
		return ke.kind // decided from a complete response, whatever the clock says since
	}
	if ctx.Err() != nil {
		if errors.Is(ctx.Err(), context.Canceled) {
			return KindCanceled
		}
		return KindTimeout
	}
	if ht != nil && ht.gaveUp() {
		return KindReset // the trace aborted the attempt: the server kept refusing the stream
	}
	if ht != nil && ht.tunnelTimedOut() && actx.Err() == nil {
		if ne := net.Error(nil); errors.As(err, &ne) && ne.Timeout() {
			return KindConnectTimeout // an http proxy did not answer CONNECT in time
		}
	}
	if actx.Err() != nil {
		return KindTimeout
	}
	kind := Classify(err)
	if ht == nil {
		return kind
	}
	wrote, gotConn, connected, tlsErr := ht.snapshot()
	if tlsErr != nil && kind != KindInvalidURL && kind != KindProtocol && kind != KindTooManyRedirects {
		var ne net.Error
		if errors.As(tlsErr, &ne) && ne.Timeout() {
			return KindConnectTimeout
		}
		return KindTLS
	}
	if (kind == KindReset || kind == KindOther) && ht.certRefused(err) {
		return KindTLS
	}
	if kind == KindOther && (wrote || gotConn || connected) {
		return KindProtocol
	}
	return kind
}

// maxMessage caps error messages, which may quote network text.
const maxMessage = 512

// maxHeaderValue caps the header values a result keeps (Server,
// Content-Type). The transport takes up to MaxHeaderBytes of headers; a result
// waiting in the window or the reorder buffer should not hold that much of
// them, nor an output line carry it.
const maxHeaderValue = 1024

// capText returns s cut to at most n bytes on a character boundary, with
// "..." after the cut, or s itself when it is short enough. The bytes kept
// are not changed: a value that was not UTF-8 stays as the server sent it.
func capText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := n
	for k := 0; k < utf8.UTFMax && i > 0 && !utf8.RuneStart(s[i]); k++ {
		i--
	}
	return s[:i] + "..."
}

// message is the short human text for a failed attempt.
func (c *Client) message(err error, kind ErrorKind, ht *hopTrace, start time.Time) string {
	switch kind {
	case KindCanceled:
		return "canceled"
	case KindTimeout:
		// The last hop's, not the result's status: after a redirect the
		// status is the redirect's while the next hop may have had no
		// answer at all.
		phase := "waiting for a response"
		if ht != nil {
			phase = ht.waitPhase()
		}
		return fmt.Sprintf("timed out after %s %s", humantime.Duration(time.Since(start)), phase)
	}
	if p := ""; ht != nil && kind != KindConnectTimeout {
		// Not the target's doing: the proxy closed the connection or
		// answered its CONNECT with something that is not HTTP.
		if p = ht.unansweredProxy(); p != "" && (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)) {
			return fmt.Sprintf("proxy %s closed the connection instead of answering CONNECT", p)
		} else if p != "" {
			return fmt.Sprintf("proxy %s's answer to CONNECT: %s", p, trimError(err))
		}
	}
	switch {
	case kind == KindReset && ht != nil && ht.gaveUp():
		return fmt.Sprintf("the server turned the request away %d times without an answer (its HTTP/2 stream refused or reset before it was processed)", maxSends)
	case kind == KindTLS && c.o.ClientCert == nil && (certRequired(err) || ht != nil && ht.certRefused(err)):
		return trimError(err) + " (the server wants a client certificate: --cert FILE --key FILE)"
	case kind == KindTLS && (certRequired(err) || ht != nil && ht.certRefused(err)):
		// TLS 1.3's "certificate required" alert means none was sent; a
		// certificate sent and refused gets another alert. (The hop's
		// trace may not know: a connection dialled for an earlier
		// request, whose trace the handshake noted, can serve this one.)
		return trimError(err) + " (the server wants a client certificate, and --cert's was not sent: it is not from a CA the server names, or of a kind it does not take)"
	case kind == KindTLS && (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)):
		// crypto/tls says only "EOF".
		return "the server closed the connection during the TLS handshake"
	case kind == KindTLS && addressesOnly(err) != "":
		// Go says "not valid for any names", though the certificate is
		// valid: for addresses.
		return trimError(err) + " (the certificate names only the address" + addressesOnly(err) + ", no host name; -k skips verification)"
	case kind == KindTLS && plainHTTP(err):
		return trimError(err) + " (the server answered in plain HTTP: use http://)"
	case kind == KindTLS && unknownAuthority(err) && c.o.RootCAs != nil:
		return trimError(err) + " (" + unknownIssuer(err) + "; not one --cacert trusts; -k skips verification)"
	case kind == KindTLS && unknownAuthority(err):
		return trimError(err) + " (" + unknownIssuer(err) + "; --cacert FILE trusts a private CA; -k skips verification)"
	case kind == KindConnectTimeout && ht != nil && ht.tunnelTimedOut():
		return fmt.Sprintf("no tunnel within %s (--connect-timeout): proxy %s did not answer CONNECT", humantime.Duration(c.o.ConnectTimeout), ht.unansweredProxy())
	case kind == KindConnectTimeout:
		return fmt.Sprintf("no connection within %s (--connect-timeout): %s", humantime.Duration(c.o.ConnectTimeout), trimError(err))
	case kind == KindReset && errors.Is(err, io.ErrUnexpectedEOF) && ht != nil && !ht.answered():
		// The same error ends a connection lost before the response
		// headers were complete (HTTP/1 cut inside them; HTTP/2 lost
		// before any): no body was being read.
		if ht.firstByteSeen() {
			return "connection closed before the response headers were complete"
		}
		return "server closed the connection without responding"
	case kind == KindReset && errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed before the body was complete"
	case kind == KindReset && errors.Is(err, io.EOF):
		return "server closed the connection without responding"
	}
	return trimError(err)
}

// trimError is err's text without the transport's prefixes, valid UTF-8
// and at most maxMessage bytes.
func trimError(err error) string {
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

// record copies what the result reports from a response's status line and
// headers.
func (c *Client) record(r *Result, resp *http.Response) {
	r.Status = resp.StatusCode
	r.Proto = resp.Proto
	h := resp.Header
	r.Server = capText(h.Get("Server"), maxHeaderValue)
	r.ContentType = capText(h.Get("Content-Type"), maxHeaderValue)
	r.ContentLength = nil
	if v := h["Content-Length"]; len(v) > 0 {
		if n, err := strconv.ParseInt(strings.TrimSpace(v[0]), 10, 64); err == nil && n >= 0 {
			r.ContentLength = &n
		}
	}
	if c.o.ResponseHeaders {
		r.Header, r.HeadersTruncated = keptHeaders(h)
	}
	r.RetryAfter = 0
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
		r.RetryAfter, _ = ParseRetryAfter(h.Get("Retry-After"), time.Now())
	}
}

// readFinal reads the last response's body into r and closes it. With
// match, a body read well that lacks one of Options.Match is a mismatch
// (when Options.MatchStatus takes its status); without, the response ends
// the target with an error of its own that a mismatch must not hide.
func (c *Client) readFinal(r *Result, resp *http.Response, ht *hopTrace, match bool) error {
	keep := 0
	if maybeHTML(r.ContentType) {
		keep = int(min(c.o.MaxBody, titleWindow))
	}
	var save *bodySaver
	if c.o.SaveDir != "" {
		save = &bodySaver{dir: c.o.SaveDir}
		defer save.discard() // a body not read whole, or a panic: no file left
	}
	var m *matcher
	if match && c.match != nil && (c.o.MatchStatus == nil || c.o.MatchStatus(resp.StatusCode)) {
		m = c.match.matcher()
	}
	info, err := readBody(resp.Request.Context(), resp.Body, resp.Header["Content-Encoding"], c.o.MaxBody, keep, save, m)
	ht.markBodyDone()
	_ = resp.Body.Close()
	r.Bytes, r.Truncated, r.BodySHA256, r.ContentEncoding = info.n, info.truncated, info.sha256, info.coding
	if save != nil && err == nil {
		// A body cut by --max-body is saved (the result says truncated);
		// one whose read failed is not.
		saved, serr := save.commit(info.sha256, info.n)
		if serr != nil {
			err = saveError(c.o.SaveDir, serr)
		}
		r.Saved = saved
	}
	if err == nil {
		// A 204, a 304 or an empty 200 lacks every string: nothing in it
		// says the service is well.
		err = m.missing(info.truncated, info.n)
	}
	if info.prefix != nil {
		if p := *info.prefix; r.ContentType != "" || isSniffedHTML(p) {
			ct := r.ContentType
			if v := resp.Header["Content-Type"]; len(v) > 1 {
				// Sent twice: browsers read the lines as one list, in
				// which the last charset wins (see determineEncoding).
				ct = strings.Join(v, ", ")
			}
			r.Title = Title(p, ct)
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

// dnsTimedOut reports whether err is a lookup that got no answer in time.
func dnsTimedOut(err error) bool {
	var de *net.DNSError
	return errors.As(err, &de) && de.IsTimeout
}

// addressesOnly returns, for a certificate that did not match the name
// asked for and names IP addresses only, "es a, b" or " a" (at most three);
// "" otherwise.
func addressesOnly(err error) string {
	var he x509.HostnameError
	if !errors.As(err, &he) || he.Certificate == nil || len(he.Certificate.DNSNames) > 0 || len(he.Certificate.IPAddresses) == 0 {
		return ""
	}
	if net.ParseIP(he.Host) != nil {
		return "" // an address was asked for: Go's message lists the valid ones
	}
	ips := he.Certificate.IPAddresses
	var names []string
	for _, ip := range ips[:min(len(ips), 3)] {
		names = append(names, ip.String())
	}
	if len(ips) > 1 {
		return "es " + strings.Join(names, ", ")
	}
	return " " + names[0]
}

// certRequired reports whether err is TLS 1.3's alert saying the server
// wanted a client certificate and got none. It is read for the message
// only; the kind comes from the error's type.
func certRequired(err error) bool {
	return strings.Contains(err.Error(), "tls: certificate required")
}

// plainHTTP reports whether err is a TLS handshake that got an HTTP/1
// response instead: a plain-HTTP server on the port. (net/http's
// ErrSchemeMismatch, which says so, comes only from http.Client.)
func plainHTTP(err error) bool {
	var rh tls.RecordHeaderError
	return errors.As(err, &rh) && bytes.HasPrefix(rh.RecordHeader[:], []byte("HTTP/"))
}

// unknownIssuer says which authority a certificate that chains to no
// trusted one comes from: "self-signed", or the issuer's name, and, for the
// server's own certificate, whether the server left its issuer out of the
// chain it sent (a missing intermediate certificate looks like an untrusted
// CA otherwise).
func unknownIssuer(err error) string {
	var ua x509.UnknownAuthorityError
	if !errors.As(err, &ua) || ua.Cert == nil {
		return "issuer unknown"
	}
	if bytes.Equal(ua.Cert.RawIssuer, ua.Cert.RawSubject) {
		return "self-signed"
	}
	s := "issued by " + capText(ua.Cert.Issuer.String(), 256)
	// Only of the server's own certificate: a chain sent up to a root the
	// client does not trust leaves the root out, as it should.
	var cve *tls.CertificateVerificationError
	if errors.As(err, &cve) && len(cve.UnverifiedCertificates) > 0 && cve.UnverifiedCertificates[0].Equal(ua.Cert) &&
		!slices.ContainsFunc(cve.UnverifiedCertificates, func(c *x509.Certificate) bool {
			return bytes.Equal(c.RawSubject, ua.Cert.RawIssuer)
		}) {
		s += ", which the server did not send"
	}
	return s
}

// unknownAuthority reports whether err is a certificate signed by an
// authority not trusted here: a private CA, or a self-signed certificate.
func unknownAuthority(err error) bool {
	var ua x509.UnknownAuthorityError
	return errors.As(err, &ua)
}
