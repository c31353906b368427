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
	hold := make(chan struct{})
	addr := connServer(t, loopback(t), func(net.Conn) { <-hold }) // holds it, reads nothing
	t.Cleanup(func() { close(hold) })                             // before connServer's, which waits for the handler
	c := newTestClient(t, func(o *Options) {
		o.Body = make([]byte, 64<<20) // far beyond loopback's socket buffers
		o.Timeout = 500 * time.Millisecond
	})
	r := get(c, "http://"+addr+"/")
	wantKind(t, r, KindTimeout)
	if !strings.Contains(r.Error.Message, "sending the request") {
		t.Errorf("message %q, want it to say the request was being sent", r.Error.Message)
	}
}
