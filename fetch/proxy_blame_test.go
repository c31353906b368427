package fetch

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
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
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			var mu sync.Mutex
			var conns []net.Conn
			var wg sync.WaitGroup
			t.Cleanup(func() {
				l.Close()
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
					c, err := l.Accept()
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
						if _, err := http.ReadRequest(bufio.NewReader(c)); err != nil {
							return
						}
						tc.answer(c)
					}()
				}
			}()
			c := newTestClient(t, func(o *Options) {
				o.Proxy = "http://alice:s3cret@" + l.Addr().String()
				o.ConnectTimeout = 200 * time.Millisecond
				o.Timeout = 10 * time.Second
			})
			r := get(c, "https://secure.test/")
			wantKind(t, r, tc.want)
			want := "proxy http://alice:xxxxx@" + l.Addr().String() + tc.msg
			if !strings.Contains(r.Error.Message, want) {
				t.Errorf("message %q, want it to contain %q", r.Error.Message, want)
			}
		})
	}
}
