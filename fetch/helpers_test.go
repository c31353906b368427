package fetch

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
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

// rawReplyServer starts a loopback listener that reads each request's
// header and writes reply as is, then closes the connection, or with hold
// keeps it open and silent until the test ends. It returns its address.
func rawReplyServer(t *testing.T, reply string, hold bool) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { close(done); ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				conn.SetDeadline(time.Now().Add(10 * time.Second))
				br := bufio.NewReader(conn)
				for {
					l, err := br.ReadString('\n')
					if err != nil || l == "\r\n" {
						break
					}
				}
				io.WriteString(conn, reply)
				if hold {
					select {
					case <-done:
					case <-time.After(10 * time.Second):
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}
