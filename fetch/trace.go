package fetch

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http/httptrace"
	"sync"
	"time"
)

// hopTrace keeps the httptrace timestamps of one hop; phases are derived
// after the fact. The mutex is needed because the transport may call hooks
// from its dial goroutine after the hop has moved on (a dial started for
// this request that lost the race to an idle connection finishes later).
type hopTrace struct {
	mu                  sync.Mutex
	dnsStart, dnsDone   time.Time
	connStart, connDone time.Time
	tlsStart, tlsDone   time.Time
	gotConn, firstByte  time.Time
	bodyDone            time.Time
	reused              bool
	wrote               bool // the request and its body were written whole
	body                bool // the hop's request has a body (-d), set before it starts
	response            bool // the hop's final response (status and headers) arrived
	connected           bool // a TCP connection was made (to the server or a proxy)
	tlsErr              error
	certAsked, certSent bool // the server asked for a client certificate; one was sent
	remote              net.Addr
	ct                  httptrace.ClientTrace

	// sends counts the times the hop got a connection for its request:
	// once per send on HTTP/2, once per connection on HTTP/1. net/http's
	// HTTP/2 transport sends a request again, up to seven times and with
	// backoff of up to 32 s, when the server refuses or resets its stream
	// before working on it, all inside one attempt: a server refusing every
	// stream held the attempt to its timeout, and it ended as a timeout. A
	// third send on an HTTP/2 connection aborts the attempt instead (abort
	// cancels its context), before it goes out, and sets turnedAway. Only
	// then is the connection's protocol asked (ConnectionState copies the
	// TLS state: not for every request).
	sends      int
	turnedAway bool
	abort      func()

	// The connections dialled for this hop, by the context of their dial,
	// with the state of an http proxy's CONNECT over each (see
	// tunnelHooks). One hop can dial more than once, and at once (the
	// transport's resend after a dead keep-alive connection, while the dial
	// it started first still connects): each dial's deadline, and its
	// clearing, must reach its own connection.
	tunnels map[context.Context]*tunnel

	// socks is the $*_PROXY SOCKS proxy the hop's request goes through,
	// as its URL's String, "" when none (see useEnvProxy).
	socks string
}

// tunnel is one dial of a hop: armed when the CONNECT is about to be sent
// with a --connect-timeout deadline. The proxy's answer clears the
// deadline and forgets the dial.
type tunnel struct {
	conn  net.Conn
	armed bool
	proxy string // the proxy's URL without its password, once armed
}

// maxSends is how many times one hop may send its request: the transport's
// one silent resend after a connection that turned out to be dead, as
// HTTP/1 does (Fetch's doc).
const maxSends = 2

// newHopTrace returns a trace whose hooks record into it; abort ends the
// attempt (see sends).
func newHopTrace(abort func()) *hopTrace {
	h := &hopTrace{abort: abort}
	h.ct = httptrace.ClientTrace{
		DNSStart: func(httptrace.DNSStartInfo) {
			h.mu.Lock()
			if h.dnsStart.IsZero() {
				h.dnsStart = time.Now()
			}
			h.mu.Unlock()
		},
		DNSDone: func(httptrace.DNSDoneInfo) { h.set(&h.dnsDone) },
		ConnectStart: func(string, string) {
			h.mu.Lock()
			if h.connStart.IsZero() {
				h.connStart = time.Now()
			}
			h.mu.Unlock()
		},
		ConnectDone: func(_, _ string, err error) {
			h.mu.Lock()
			h.connDone = time.Now()
			if err == nil {
				h.connected = true
			}
			h.mu.Unlock()
		},
		TLSHandshakeStart: func() { h.set(&h.tlsStart) },
		TLSHandshakeDone: func(_ tls.ConnectionState, err error) {
			h.mu.Lock()
			h.tlsDone, h.tlsErr = time.Now(), err
			h.mu.Unlock()
		},
		GotConn: func(info httptrace.GotConnInfo) {
			h.mu.Lock()
			h.gotConn, h.reused, h.remote = time.Now(), info.Reused, info.Conn.RemoteAddr()
			h.sends++
			abort := h.sends > maxSends && !h.turnedAway && isH2(info.Conn)
			h.turnedAway = h.turnedAway || abort
			h.mu.Unlock()
			if abort && h.abort != nil {
				h.abort()
			}
		},
		WroteRequest: func(i httptrace.WroteRequestInfo) {
			// Called with an error too: a write the attempt's end cut off
			// (a -d body the server never read) did not send the request.
			h.mu.Lock()
			h.wrote = h.wrote || i.Err == nil
			h.mu.Unlock()
		},
		GotFirstResponseByte: func() { h.set(&h.firstByte) },
	}
	return h
}

func (h *hopTrace) set(t *time.Time) {
	h.mu.Lock()
	*t = time.Now()
	h.mu.Unlock()
}

// markResponse records that the hop's final response arrived.
func (h *hopTrace) markResponse() { h.mu.Lock(); h.response = true; h.mu.Unlock() }

// answered reports whether the hop's final response (status and headers)
// arrived.
func (h *hopTrace) answered() bool { h.mu.Lock(); defer h.mu.Unlock(); return h.response }

// firstByteSeen reports whether any byte of a response arrived on the hop.
func (h *hopTrace) firstByteSeen() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return !h.firstByte.IsZero()
}

// waitPhase says what the hop was waiting for when its attempt ran out of
// time: a connection (none was made, nor handed over from the pool), the
// TLS handshake, sending the request, the response, or the rest of the
// body. --timeout can be
// shorter than --connect-timeout, and a timeout message that said
// "waiting for a response" sent users looking at a server that had never
// accepted the connection.
func (h *hopTrace) waitPhase() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case h.response:
		return "reading the body"
	case !h.gotConn.IsZero() && !h.wrote && h.body:
		// A -d body the server does not read fills the socket's buffers:
		// the request never went out whole, nothing could be answered.
		// (Without a body the write is one small buffer; an HTTP/2
		// request may yet wait there for a stream, which is the server's
		// answer to give too.)
		return "sending the request (the server had not read all of it)"
	case !h.gotConn.IsZero():
		return "waiting for a response"
	case !h.tlsStart.IsZero() && h.tlsDone.IsZero():
		return "in the TLS handshake"
	case !h.connected:
		return "connecting"
	}
	return "waiting for a response"
}

// markBodyDone records the end of the body read.
func (h *hopTrace) markBodyDone() { h.set(&h.bodyDone) }

// span returns b-a in milliseconds, or 0 when either end is missing or
// they are out of order.
func span(a, b time.Time) float64 {
	if a.IsZero() || b.IsZero() || b.Before(a) {
		return 0
	}
	return ms(b.Sub(a))
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// timing derives the phases of this hop. TTFB runs from getting the
// connection to the first response byte: it covers writing the request
// (and any body) and the server's think time, so dns + connect + tls + ttfb
// + transfer add up to the hop's duration. A reused connection shows zero
// dns, connect and tls. Total is left to the caller.
func (h *hopTrace) timing() Timing {
	h.mu.Lock()
	defer h.mu.Unlock()
	t := Timing{
		TTFB:     span(h.gotConn, h.firstByte),
		Transfer: span(h.firstByte, h.bodyDone),
	}
	if !h.reused {
		t.DNS = span(h.dnsStart, h.dnsDone)
		t.Connect = span(h.connStart, h.connDone)
		t.TLS = span(h.tlsStart, h.tlsDone)
	}
	return t
}

// gaveUp reports whether the hop aborted the attempt because the server
// kept turning the request away (see sends).
func (h *hopTrace) gaveUp() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.turnedAway
}

// snapshot returns, under the lock, what error classification needs:
// whether the request was written, whether the transport handed it a
// connection, whether a TCP connection was made at all (a proxy's CONNECT
// happens after that but before GotConn), and the TLS handshake's error.
func (h *hopTrace) snapshot() (wrote, gotConn, connected bool, tlsErr error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.wrote, !h.gotConn.IsZero(), h.connected, h.tlsErr
}

// remoteIP returns the IP of the connection the hop used, without port.
func (h *hopTrace) remoteIP() string {
	h.mu.Lock()
	a := h.remote
	h.mu.Unlock()
	switch a := a.(type) {
	case nil:
		return ""
	case *net.TCPAddr:
		return a.IP.String()
	}
	host, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return ""
	}
	return host
}

// hopKey is the context key under which a proxied request carries its hop's
// trace, for the transport's dial and proxy hooks (the dial's context keeps
// the request's values).
type hopKey struct{}

// certHopKey is the context key under which an https request carries its
// hop's trace, for the client-certificate hook (see clientCertHook).
type certHopKey struct{}

// certRefused reports whether err, which ended the hop, is a server refusing
// a client certificate: it asked for one, none was sent, and it answered
// with an alert, or dropped the connection after the client's side of the
// handshake, without a byte of a response (over TLS 1.3 the alert comes
// then, and can lose the race with the request's write). A certificate of
// the server's own that failed to verify is not one, nor is an HTTP/2
// stream the server reset or a connection it closed cleanly (io.EOF): a
// server that asks for a certificate without requiring one takes the
// handshake without it, and those come from it serving the request.
func (h *hopTrace) certRefused(err error) bool {
	h.mu.Lock()
	asked, sent := h.certAsked, h.certSent
	done := !h.tlsDone.IsZero() && h.tlsErr == nil
	answered := !h.firstByte.IsZero()
	h.mu.Unlock()
	if !asked || sent || answered {
		return false
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Op == "remote error" {
		return true
	}
	var se h2StreamError
	return done && !errors.As(err, &se) && !errors.Is(err, io.EOF)
}

func hopOf(ctx context.Context) *hopTrace {
	h, _ := ctx.Value(hopKey{}).(*hopTrace)
	return h
}

// tunnelTimedOut reports whether the hop ended waiting for an http proxy's
// answer to its CONNECT.
func (h *hopTrace) tunnelTimedOut() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, tn := range h.tunnels {
		if tn.armed {
			return true
		}
	}
	return false
}

// unansweredProxy is the proxy (its URL without the password) whose answer
// to the hop's CONNECT never came or was not HTTP, "" when there is none:
// the hop's error is then the proxy's doing, not the target's.
func (h *hopTrace) unansweredProxy() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, tn := range h.tunnels {
		if tn.armed {
			return tn.proxy
		}
	}
	return ""
}

// isH2 reports whether c carries HTTP/2 (TLS with ALPN h2).
func isH2(c net.Conn) bool {
	tc, ok := c.(*tls.Conn)
	return ok && tc.ConnectionState().NegotiatedProtocol == "h2"
}
