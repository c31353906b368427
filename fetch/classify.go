package fetch

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/textproto"
	"strings"
	"syscall"
)

// kindError is an error whose kind Fetch decided itself (a redirect to
// another scheme, a body that does not decode, ...).
type kindError struct {
	kind       ErrorKind
	msg        string
	err        error // optional cause
	noFallback bool  // not a reason for a bare host's http fallback
	permanent  bool  // Error.Permanent: another attempt would fail the same way
	save       bool  // Error.Save: the body was read, and could not be saved
}

func (e *kindError) Error() string { return e.msg }
func (e *kindError) Unwrap() error { return e.err }

// permanent reports whether err says that another attempt would fail the
// same way (Error.Permanent).
func permanent(err error) bool {
	ke := (*kindError)(nil)
	return errors.As(err, &ke) && ke.permanent
}

// saveFailed reports whether err is a body that could not be saved
// (Error.Save).
func saveFailed(err error) bool {
	ke := (*kindError)(nil)
	return errors.As(err, &ke) && ke.save
}

// h2StreamError mirrors the field layout of net/http's bundled (unexported)
// http2StreamError, whose As method fills any struct with the same field
// names and convertible types. It lets Classify recognise HTTP/2 stream
// errors by type without importing x/net/http2.
type h2StreamError struct {
	StreamID uint32
	Code     uint32
	Cause    error
}

// HTTP/2 error codes (RFC 9113 section 7) that mean a malformed exchange.
const (
	h2CodeProtocol    = 0x1
	h2CodeFrameSize   = 0x6
	h2CodeCompression = 0x9
)

func (e h2StreamError) Error() string {
	return fmt.Sprintf("http2 stream %d error %d", e.StreamID, e.Code)
}

// Classify maps an error from an HTTP exchange to its kind, by type and
// never by message text. It returns "" for nil and KindOther when no kind
// fits. Fetch refines the answer with what it saw on the wire (for example
// an unrecognised error after the request was sent is a protocol error,
// and the attempt deadline outranks whatever error it caused).
func Classify(err error) ErrorKind {
	if err == nil {
		return ""
	}
	var ke *kindError
	if errors.As(err, &ke) {
		return ke.kind
	}
	if errors.Is(err, context.Canceled) {
		return KindCanceled
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return KindDNS
	}
	// Before DeadlineExceeded: a dial that ran out of its time says so with
	// either of two errors, net's own timeout (which matches
	// context.DeadlineExceeded) or the poller's (which does not), at random.
	// (Fetch has told an attempt deadline that cut a dial short already.)
	var opErr *net.OpError
	if errors.As(err, &opErr) && connecting(opErr) && opErr.Timeout() {
		return KindConnectTimeout
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return KindTimeout
	}
	if isTLSError(err) {
		return KindTLS
	}
	if errors.Is(err, syscall.ECONNREFUSED) {
		return KindRefused
	}
	if localShortage(err) && errors.As(err, &opErr) && connecting(opErr) {
		return KindLocal
	}
	var netErr net.Error
	if errors.As(err, &netErr) && netErr.Timeout() {
		return KindTimeout
	}
	if errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, syscall.ECONNABORTED) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
		// io.EOF here is the transport's "connection closed before any
		// response" (it wraps the read error); net.ErrClosed is a
		// connection torn down under a read.
		return KindReset
	}
	var h2 h2StreamError
	if errors.As(err, &h2) {
		// A stream the peer cancelled or failed is a reset; one broken by
		// malformed frames or headers (either side's verdict) is protocol.
		switch h2.Code {
		case h2CodeProtocol, h2CodeFrameSize, h2CodeCompression:
			return KindProtocol
		}
		return KindReset
	}
	var tpErr textproto.ProtocolError
	if errors.As(err, &tpErr) {
		return KindProtocol
	}
	if h2ConnLost(err) {
		return KindReset
	}
	if opErr != nil {
		// Some other socket error (unreachable network, no route, ...):
		// the connection could not be made or kept. Through a SOCKS
		// proxy, an error that is none of the above is the proxy's
		// answer: it refused our credentials or the connection.
		if connecting(opErr) {
			return KindRefused
		}
		return KindReset
	}
	return KindOther
}

// h2ConnLost reports whether err is net/http's HTTP/2 transport saying that
// the connection under the stream is gone: its ping went unanswered, or it
// was closed. These two errors have no type, so here, and only here, the
// text decides (they were "protocol", which is not retried).
func h2ConnLost(err error) bool {
	for e := err; e != nil; e = errors.Unwrap(e) {
		switch e.Error() {
		case "http2: client connection lost", "http2: client connection force closed via ClientConn.Close":
			return true
		}
	}
	return false
}

// connecting reports whether opErr ended a connect: a dial, or a SOCKS
// proxy's handshake, whose errors (golang.org/x/net/proxy's and net/http's
// for a socks5:// $*_PROXY) are a net.OpError with Op "socks connect"
// around the proxy's dial error or its refusal.
func connecting(opErr *net.OpError) bool {
	return opErr.Op == "dial" || strings.HasPrefix(opErr.Op, "socks ")
}

// localShortage reports whether err says this machine lacks something a
// connection needs (Classify asks it of dials only: the same errors on a
// connection made say nothing of whether the request went out): file descriptors (the process's or the system's),
// ephemeral ports or a source address (EADDRNOTAVAIL: also an IPv6 target
// on a host without IPv6), socket buffers or memory. The target is not at fault, and
// calling it "refused", as any other failed dial, sent users looking at the
// wrong side.
func localShortage(err error) bool {
	for _, e := range [...]syscall.Errno{syscall.EMFILE, syscall.ENFILE, syscall.EADDRNOTAVAIL, syscall.ENOBUFS, syscall.ENOMEM} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// isTLSError reports whether err comes from TLS: certificate verification,
// a peer that answered with an alert, or one that does not speak TLS.
func isTLSError(err error) bool {
	var cve *tls.CertificateVerificationError
	var rhe tls.RecordHeaderError
	var alert tls.AlertError
	var unknownAuth x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var invalid x509.CertificateInvalidError
	var ech *tls.ECHRejectionError
	// Over TCP, crypto/tls reports an alert from the peer as a net.OpError
	// with Op "remote error" around its own unexported alert type
	// (tls.AlertError is QUIC's): over TLS 1.3 a server refuses a client
	// certificate (certificate required, bad certificate) after the
	// client's side of the handshake, so the alert comes with the response.
	var opErr *net.OpError
	return errors.As(err, &cve) || errors.As(err, &rhe) || errors.As(err, &alert) ||
		errors.As(err, &unknownAuth) || errors.As(err, &hostErr) || errors.As(err, &invalid) ||
		errors.As(err, &ech) || errors.Is(err, http.ErrSchemeMismatch) ||
		errors.As(err, &opErr) && opErr.Op == "remote error"
}

// proxyFault reports whether err is the proxy's failure, not the
// target's: net/http's "proxyconnect" (the dial of an http(s) proxy, its
// own TLS handshake), or a tunnel request the proxy never answered.
func proxyFault(err error, ht *hopTrace) bool {
	if oe := (*net.OpError)(nil); errors.As(err, &oe) && oe.Op == "proxyconnect" {
		return true
	}
	return ht != nil && ht.unansweredProxy() != ""
}

// fallbackable reports whether a failed https attempt for a bare host may
// be retried over http: nothing listened, the connect timed out, or the
// peer does not speak TLS (the target, not a proxy on the way). A
// certificate problem is not fallbackable: it must be reported, not hidden.
func fallbackable(err error, kind ErrorKind) bool {
	if ke := (*kindError)(nil); errors.As(err, &ke) && ke.noFallback {
		return false
	}
	// net/http's "proxyconnect" is the connection to an http(s) proxy
	// itself (its dial, its own TLS handshake): the http form goes through
	// the same proxy and fails the same way, after a second connect
	// timeout for a silent one.
	if oe := (*net.OpError)(nil); errors.As(err, &oe) && oe.Op == "proxyconnect" {
		return false
	}
	if kind == KindRefused || kind == KindConnectTimeout {
		return true
	}
	var rhe tls.RecordHeaderError
	return errors.As(err, &rhe) || errors.Is(err, http.ErrSchemeMismatch)
}
