package fetch

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// When an http proxy breaks its answer to an https target's CONNECT (not
// HTTP, or the connection closed, or no answer in time), the message names
// that proxy, without its password: it read as the target's fault
// ("malformed HTTP response", "server closed the connection").
func TestBrokenCONNECTAnswerNamesProxy(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		answer func(c net.Conn) // after the CONNECT request was read
		want   ErrorKind
		msg    string
	}{
		{"not HTTP", func(c net.Conn) { io.WriteString(c, "SSH-2.0-OpenSSH_9.6\r\n\r\n") }, KindProtocol, "'s answer to CONNECT: malformed HTTP response"},
		{"closed", func(net.Conn) {}, KindReset, " closed the connection instead of answering CONNECT"},
		{"silent", func(c net.Conn) { io.Copy(io.Discard, c) }, KindConnectTimeout, " did not answer CONNECT"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			addr := connServer(t, loopback(t), func(c net.Conn) {
				if _, err := http.ReadRequest(bufio.NewReader(c)); err != nil {
					return
				}
				tc.answer(c)
			})
			c := newTestClient(t, func(o *Options) {
				o.Proxy = "http://alice:s3cret@" + addr
				o.ConnectTimeout = 200 * time.Millisecond
				o.Timeout = 10 * time.Second
			})
			r := get(c, "https://secure.test/")
			wantKind(t, r, tc.want)
			want := "proxy http://alice:xxxxx@" + addr + tc.msg
			if !strings.Contains(r.Error.Message, want) {
				t.Errorf("message %q, want it to contain %q", r.Error.Message, want)
			}
		})
	}
}

// A proxy that cannot be reached, or does not answer the tunnel request,
// is marked Error.Proxy (the engine then blames no target host); a
// target that cannot be reached directly is not.
func TestProxyFault(t *testing.T) {
	t.Parallel()
	silent := connServer(t, loopback(t), func(c net.Conn) { io.Copy(io.Discard, c) })
	for _, tc := range []struct {
		name, proxy, url string
		want             bool
	}{
		{"proxy refuses connections", "http://" + closedAddr(t), "http://site.test/", true},
		{"proxy silent to CONNECT", "http://" + silent, "https://secure.test/", true},
		{"no proxy, target refuses", "", "http://" + closedAddr(t) + "/", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := newTestClient(t, func(o *Options) {
				o.Proxy = tc.proxy
				o.ConnectTimeout = 200 * time.Millisecond
				o.Timeout = 5 * time.Second
			})
			r := get(c, tc.url)
			if r.Error == nil || r.Error.Proxy != tc.want {
				t.Errorf("error %+v, want Proxy %v", r.Error, tc.want)
			}
		})
	}
}

// closedAddr returns a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln := loopback(t)
	addr := ln.Addr().String()
	ln.Close()
	return addr
}
