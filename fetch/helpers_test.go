package fetch

import (
	"bufio"
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http2"
)

// testOptions are DefaultOptions with short timeouts for loopback tests.
func testOptions() Options {
	o := DefaultOptions()
	o.Timeout = 3 * time.Second
	o.ConnectTimeout = time.Second
	return o
}

// newTestClient builds a client from testOptions changed by mod.
func newTestClient(t testing.TB, mod func(*Options)) *Client {
	t.Helper()
	o := testOptions()
	if mod != nil {
		mod(&o)
	}
	c, err := NewClient(o)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

// get fetches u as a target with a scheme.
func get(c *Client, u string) Result {
	return c.Fetch(context.Background(), Target{Seq: 7, Input: u, URL: u, HostKey: "k"})
}

// serve starts a plain loopback server with handler h.
func serve(t testing.TB, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	return ts
}

// kindOf is the error kind of r, "" when it has none.
func kindOf(r Result) ErrorKind {
	if r.Error == nil {
		return ""
	}
	return r.Error.Kind
}

// wantKind fails the test unless r has error kind want ("" for none).
func wantKind(t *testing.T, r Result, want ErrorKind) {
	t.Helper()
	if got := kindOf(r); got != want {
		t.Fatalf("error kind = %q, want %q (error %+v)", got, want, r.Error)
	}
}

// freePort returns a loopback address nothing listens on: listen, then
// close.
func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// hostPortOf returns the port of a test server's URL.
func portOf(t *testing.T, u string) string {
	t.Helper()
	_, port, err := net.SplitHostPort(strings.TrimPrefix(strings.TrimPrefix(u, "http://"), "https://"))
	if err != nil {
		t.Fatal(err)
	}
	return port
}

// connServer serves each connection ln accepts with handle, on a goroutine
// of its own, with a 10 s deadline (handle may set another), and closes it
// when handle returns. The test's end closes ln and every connection still
// open, and waits for the handlers, so that none outlives it (the leak
// check). It returns ln's address.
func connServer(t testing.TB, ln net.Listener, handle func(net.Conn)) string {
	t.Helper()
	var (
		mu    sync.Mutex
		conns []net.Conn
		wg    sync.WaitGroup
	)
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				c.SetDeadline(time.Now().Add(10 * time.Second))
				handle(c)
			}()
		}
	}()
	return ln.Addr().String()
}

// loopback returns a TCP listener on 127.0.0.1.
func loopback(t testing.TB) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// h2Listener returns a TLS listener on 127.0.0.1 that offers only h2, with
// httptest's certificate (clients need Options.Insecure).
func h2Listener(t testing.TB) net.Listener {
	t.Helper()
	cert := httptest.NewUnstartedServer(http.NotFoundHandler())
	cert.StartTLS() // for its certificate
	certs := cert.TLS.Certificates
	cert.Close()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: certs, NextProtos: []string{"h2"}})
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// h2Framer is a raw HTTP/2 server's start on c: it reads the client's
// preface and sends the server's settings. It returns nil when no preface
// came.
func h2Framer(c net.Conn, settings ...http2.Setting) *http2.Framer {
	if _, err := io.ReadFull(c, make([]byte, len(http2.ClientPreface))); err != nil {
		return nil
	}
	fr := http2.NewFramer(c, c)
	fr.WriteSettings(settings...)
	return fr
}

// rawReplyServer starts a loopback listener that reads each request's
// header and writes reply as is, then closes the connection, or with hold
// keeps it open and silent until the test ends. It returns its address.
func rawReplyServer(t *testing.T, reply string, hold bool) string {
	t.Helper()
	return connServer(t, loopback(t), func(conn net.Conn) {
		br := bufio.NewReader(conn)
		for {
			l, err := br.ReadString('\n')
			if err != nil || l == "\r\n" {
				break
			}
		}
		io.WriteString(conn, reply)
		if hold {
			io.Copy(io.Discard, conn) // until the test's end closes it, or the deadline
		}
	})
}
