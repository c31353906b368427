package fetch

import (
	"net"
	"strings"
	"testing"
	"time"
)

// TestTimeoutSendingTheRequest: a server that accepts the connection but
// never reads a POST body too large for the sockets' buffers times the
// attempt out while the request is still being sent; the message said
// "waiting for a response", which no server could have given.
func TestTimeoutSendingTheRequest(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close() // held, never read, until the listener closes
		}
	}()
	c := newTestClient(t, func(o *Options) {
		o.Body = make([]byte, 64<<20) // far beyond loopback's socket buffers
		o.Timeout = 500 * time.Millisecond
	})
	r := get(c, "http://"+ln.Addr().String()+"/")
	wantKind(t, r, KindTimeout)
	if !strings.Contains(r.Error.Message, "sending the request") {
		t.Errorf("message %q, want it to say the request was being sent", r.Error.Message)
	}
}
