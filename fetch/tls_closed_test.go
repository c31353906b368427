package fetch

import (
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestClosedInTheTLSHandshakeSaysSo: a server that reads the ClientHello and
// closes the connection (a filter, a port that does not speak TLS and hangs
// up on it) ended the target as tls with the message "EOF".
func TestClosedInTheTLSHandshakeSaysSo(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			// The whole ClientHello record is read, so that the close is
			// a clean one (FIN), not a reset for unread bytes.
			c.SetDeadline(time.Now().Add(10 * time.Second))
			var hdr [5]byte
			if _, err := io.ReadFull(c, hdr[:]); err == nil {
				io.CopyN(io.Discard, c, int64(hdr[3])<<8|int64(hdr[4]))
			}
			c.Close()
		}
	}()
	r := get(newTestClient(t, nil), "https://"+ln.Addr().String()+"/")
	wantKind(t, r, KindTLS)
	if want := "the server closed the connection during the TLS handshake"; !strings.Contains(r.Error.Message, want) {
		t.Errorf("message %q, want %q", r.Error.Message, want)
	}
}
