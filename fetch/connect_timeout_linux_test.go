package fetch

import (
	"net"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// silentPort returns a loopback port whose listener never accepts and
// whose accept queue is full, so that the kernel drops further SYNs: a
// connect there hangs, as to a firewalled host.
func silentPort(t *testing.T) int {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	port := sa.(*syscall.SockaddrInet4).Port
	// A backlog of 0 holds one connection; a few more make sure it is full.
	for range 4 {
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), 200*time.Millisecond)
		if err != nil {
			break // the queue is full
		}
		t.Cleanup(func() { c.Close() })
	}
	return port
}

// A connect that gets no answer is connect_timeout, however the dial
// reports its deadline: Go's dialer says so with one of two error types
// (its own timeout error, which matches context.DeadlineExceeded, or the
// poller's), and the first was taken for the attempt's timeout, which also
// kept bare hosts from their http fallback.
func TestSilentConnectIsConnectTimeout(t *testing.T) {
	t.Parallel()
	port := silentPort(t)
	c := newTestClient(t, func(o *Options) { o.ConnectTimeout = 100 * time.Millisecond })
	u := "http://127.0.0.1:" + strconv.Itoa(port) + "/"
	for i := range 20 {
		r := get(c, u)
		if k := kindOf(r); k != KindConnectTimeout {
			t.Fatalf("attempt %d: kind %q (%v), want connect_timeout", i+1, k, r.Error)
		}
		if want := "no connection within 100ms (--connect-timeout)"; !strings.HasPrefix(r.Error.Message, want) {
			t.Fatalf("attempt %d: message %q, want it to start %q", i+1, r.Error.Message, want)
		}
	}
}

// A SOCKS proxy that never answers its handshake is a connect timeout too,
// not the attempt's timeout.
func TestSilentProxyIsConnectTimeout(t *testing.T) {
	t.Parallel()
	addr := holdingListener(t)
	c := newTestClient(t, func(o *Options) {
		o.ConnectTimeout = 100 * time.Millisecond
		o.Proxy = "socks5://" + addr
	})
	r := get(c, "http://target.test/")
	if k := kindOf(r); k != KindConnectTimeout || !strings.Contains(r.Error.Message, "--proxy") {
		t.Fatalf("kind %q (%v), want connect_timeout naming --proxy", k, r.Error)
	}
}

// With --timeout below --connect-timeout, a silent connect ends at the
// attempt's deadline: a timeout, every time, although the dial's error is
// one Classify alone calls connect_timeout (the attempt's deadline
// outranks it in Fetch).
func TestSilentConnectPastAttemptDeadlineIsTimeout(t *testing.T) {
	t.Parallel()
	port := silentPort(t)
	c := newTestClient(t, func(o *Options) { o.Timeout, o.ConnectTimeout = 100*time.Millisecond, time.Second })
	u := "http://127.0.0.1:" + strconv.Itoa(port) + "/"
	for i := range 20 {
		r := get(c, u)
		if kindOf(r) != KindTimeout {
			t.Fatalf("attempt %d: kind %q (%v), want timeout", i+1, kindOf(r), r.Error)
		}
		// No connection was made: the message says so, not that a
		// server was slow to answer.
		if !strings.HasSuffix(r.Error.Message, " connecting") {
			t.Fatalf("attempt %d: message %q, want it to say the attempt ran out connecting", i+1, r.Error.Message)
		}
	}
}

// The same for a server that accepts the connection and never answers the
// TLS handshake: the attempt ran out in the handshake, and said it was
// waiting for a response.
func TestSilentHandshakePastAttemptDeadlineSaysHandshake(t *testing.T) {
	t.Parallel()
	addr := holdingListener(t)
	c := newTestClient(t, func(o *Options) { o.Timeout, o.ConnectTimeout = 100*time.Millisecond, time.Second })
	r := get(c, "https://"+addr+"/")
	if kindOf(r) != KindTimeout || !strings.HasSuffix(r.Error.Message, " in the TLS handshake") {
		t.Fatalf("kind %q message %v, want timeout in the TLS handshake", kindOf(r), r.Error)
	}
}
