package fetch

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"os"
	"strings"
	"syscall"
	"testing"
)

func TestClassify(t *testing.T) {
	t.Parallel()
	dialTimeout := &net.OpError{Op: "dial", Net: "tcp", Err: os.ErrDeadlineExceeded}
	readTimeout := &net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded}
	tests := []struct {
		err  error
		want ErrorKind
	}{
		{nil, ""},
		{context.Canceled, KindCanceled},
		{fmt.Errorf("wrapped: %w", context.DeadlineExceeded), KindTimeout},
		{&net.OpError{Op: "dial", Err: &net.DNSError{Name: "x.invalid", IsNotFound: true}}, KindDNS},
		{&net.OpError{Op: "dial", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}, KindRefused},
		{dialTimeout, KindConnectTimeout},
		// net's own dial timeout error also matches context.DeadlineExceeded.
		{&net.OpError{Op: "dial", Net: "tcp", Err: context.DeadlineExceeded}, KindConnectTimeout},
		{&net.OpError{Op: "dial", Err: os.NewSyscallError("socket", syscall.EMFILE)}, KindLocal},
		{&net.OpError{Op: "dial", Err: os.NewSyscallError("socket", syscall.ENFILE)}, KindLocal},
		{&net.OpError{Op: "dial", Err: os.NewSyscallError("connect", syscall.EADDRNOTAVAIL)}, KindLocal},
		{&net.OpError{Op: "dial", Err: os.NewSyscallError("connect", syscall.ENOBUFS)}, KindLocal},
		{&net.OpError{Op: "dial", Err: os.NewSyscallError("connect", syscall.EHOSTUNREACH)}, KindRefused},
		// A SOCKS proxy's refusal (its reply, or failed authentication),
		// and a failure to reach the proxy, are refused connections.
		{&net.OpError{Op: "socks connect", Net: "tcp", Err: errors.New("username/password authentication failed")}, KindRefused},
		{&net.OpError{Op: "socks connect", Net: "tcp", Err: errors.New("unknown error connection not allowed by ruleset")}, KindRefused},
		{&net.OpError{Op: "socks connect", Net: "tcp", Err: &net.OpError{Op: "dial", Err: os.NewSyscallError("connect", syscall.EHOSTUNREACH)}}, KindRefused},
		{&net.OpError{Op: "socks connect", Net: "tcp", Err: &net.OpError{Op: "dial", Err: os.NewSyscallError("socket", syscall.EMFILE)}}, KindLocal},
		{&net.OpError{Op: "socks connect", Net: "tcp", Err: os.NewSyscallError("socket", syscall.EMFILE)}, KindLocal},
		// The proxy closing the connection in the handshake is a reset.
		{&net.OpError{Op: "socks connect", Net: "tcp", Err: io.EOF}, KindReset},
		{readTimeout, KindTimeout},
		{&net.OpError{Op: "read", Err: os.NewSyscallError("read", syscall.ECONNRESET)}, KindReset},
		{&net.OpError{Op: "write", Err: os.NewSyscallError("write", syscall.EPIPE)}, KindReset},
		{io.ErrUnexpectedEOF, KindReset},
		{fmt.Errorf("transport: %w", io.EOF), KindReset},
		{&tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}, KindTLS},
		{x509.HostnameError{Host: "x"}, KindTLS},
		{tls.RecordHeaderError{Msg: "not tls"}, KindTLS},
		{tls.AlertError(40), KindTLS},
		{http.ErrSchemeMismatch, KindTLS},
		{fmt.Errorf("reading header: %w", textproto.ProtocolError("malformed MIME header line")), KindProtocol},
		{&kindError{kind: KindTooManyRedirects, msg: "x"}, KindTooManyRedirects},
		{errors.New("something else"), KindOther},
	}
	for _, tt := range tests {
		if got := Classify(tt.err); got != tt.want {
			t.Errorf("Classify(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
}

func TestErrorIsAnError(t *testing.T) {
	t.Parallel()
	var err error = &Error{Kind: KindDNS, Message: "lookup x: no such host"}
	if got := err.Error(); got != "dns: lookup x: no such host" {
		t.Errorf("Error() = %q", got)
	}
	if got := (&Error{Kind: KindCanceled}).Error(); got != "canceled" {
		t.Errorf("Error() without a message = %q", got)
	}
	var fe *Error
	if !errors.As(fmt.Errorf("wrapped: %w", err), &fe) || fe.Kind != KindDNS {
		t.Errorf("errors.As did not find the *Error")
	}
}

// TestServerAlertAfterHandshakeIsTLS: a server that requires a client
// certificate refuses it, over TLS 1.3, after the client's side of the
// handshake is done, with an alert the client reads with the response
// (crypto/tls reports it as a net.OpError whose Op is "remote error"). It
// was kind reset, retried, and grouped with dropped connections.
func TestServerAlertAfterHandshakeIsTLS(t *testing.T) {
	t.Parallel()
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	ts.TLS = &tls.Config{ClientAuth: tls.RequireAnyClientCert, MinVersion: tls.VersionTLS13}
	ts.Config.ErrorLog = log.New(io.Discard, "", 0)
	ts.StartTLS()
	t.Cleanup(ts.Close)
	c := newTestClient(t, func(o *Options) { o.Insecure = true; o.HTTP1 = true })
	r := get(c, ts.URL+"/")
	wantKind(t, r, KindTLS)
	if !strings.Contains(r.Error.Message, "certificate required") {
		t.Errorf("message %q does not say what the server refused", r.Error.Message)
	}
}
