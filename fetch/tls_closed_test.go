package fetch

import (
	"io"
	"net"
	"strings"
	"testing"
)

// TestClosedInTheTLSHandshakeSaysSo: a server that reads the ClientHello and
// closes the connection (a filter, a port that does not speak TLS and hangs
// up on it) ended the target as tls with the message "EOF".
func TestClosedInTheTLSHandshakeSaysSo(t *testing.T) {
	t.Parallel()
	addr := connServer(t, loopback(t), func(c net.Conn) {
		// The whole ClientHello record is read, so that the close is a
		// clean one (FIN), not a reset for unread bytes.
		var hdr [5]byte
		if _, err := io.ReadFull(c, hdr[:]); err == nil {
			io.CopyN(io.Discard, c, int64(hdr[3])<<8|int64(hdr[4]))
		}
	})
	r := get(newTestClient(t, nil), "https://"+addr+"/")
	wantKind(t, r, KindTLS)
	if want := "the server closed the connection during the TLS handshake"; !strings.Contains(r.Error.Message, want) {
		t.Errorf("message %q, want %q", r.Error.Message, want)
	}
}

// TestPlainHTTPOnTheTLSPort: an https URL whose port answers in plain HTTP
// said only "first record does not look like a TLS handshake"; it now says
// what the server spoke. Another protocol gets no such hint.
func TestPlainHTTPOnTheTLSPort(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, reply string
		hint        bool
	}{
		{"http", "HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n", true},
		{"ssh", "SSH-2.0-OpenSSH_9.6\r\n", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			addr := connServer(t, loopback(t), func(c net.Conn) {
				io.WriteString(c, tc.reply)
				io.Copy(io.Discard, c)
			})
			r := get(newTestClient(t, nil), "https://"+addr+"/")
			wantKind(t, r, KindTLS)
			if r.Error != nil && strings.Contains(r.Error.Message, "plain HTTP: use http://") != tc.hint {
				t.Errorf("message %q: want the plain-HTTP hint %v", r.Error.Message, tc.hint)
			}
		})
	}
}
