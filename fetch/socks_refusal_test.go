package fetch

import (
	"io"
	"net"
	"strings"
	"testing"
)

// A SOCKS5 proxy that refuses the client (no acceptable authentication
// method, a wrong password) or the connection (its CONNECT reply) refused
// the connection: the kind is refused, not reset, and the message names
// the proxy's address.
func TestSOCKS5ProxyRefusal(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		user string // user:pass in the proxy URL
		// answer is the proxy's side after reading the greeting.
		answer func(c net.Conn)
	}{
		{"no acceptable method", "", func(c net.Conn) { c.Write([]byte{5, 0xff}) }},
		{"wrong password", "alice:wrong@", func(c net.Conn) {
			c.Write([]byte{5, 2})
			h := make([]byte, 2)
			io.ReadFull(c, h)
			io.ReadFull(c, make([]byte, int(h[1])))
			pl := make([]byte, 1)
			io.ReadFull(c, pl)
			io.ReadFull(c, make([]byte, int(pl[0])))
			c.Write([]byte{1, 1})
		}},
		{"not allowed by ruleset", "", func(c net.Conn) {
			c.Write([]byte{5, 0})
			io.ReadFull(c, make([]byte, 4+4+2)) // CONNECT to an IPv4 address
			c.Write([]byte{5, 2, 0, 1, 0, 0, 0, 0, 0, 0})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { l.Close() })
			go func() {
				for {
					c, err := l.Accept()
					if err != nil {
						return
					}
					go func() {
						defer c.Close()
						g := make([]byte, 2)
						io.ReadFull(c, g)
						io.ReadFull(c, make([]byte, int(g[1])))
						tc.answer(c)
						io.Copy(io.Discard, c)
					}()
				}
			}()
			c := newTestClient(t, func(o *Options) { o.Proxy = "socks5://" + tc.user + l.Addr().String() })
			r := get(c, "http://127.0.0.1:1/")
			wantKind(t, r, KindRefused)
			if r.Error != nil && !strings.Contains(r.Error.Message, l.Addr().String()) {
				t.Errorf("message %q does not name the proxy %s", r.Error.Message, l.Addr())
			}
		})
	}
}
