package fetch

import (
	"context"
	"io"
	"net"
	"net/http/httptrace"
	"strings"
	"testing"
	"time"
)

// speakFirstServer starts a loopback listener that, on each connection and
// before reading anything, writes greeting (nothing: it closes at once) and
// then holds the connection until the client closes it.
func speakFirstServer(t *testing.T, greeting string) string {
	t.Helper()
	return connServer(t, loopback(t), func(c net.Conn) {
		if greeting == "" {
			return
		}
		io.WriteString(c, greeting)
		io.Copy(io.Discard, c) // until the client closes, the test ends, or the deadline
	})
}

// TestServerThatSpeaksFirst: net/http reads a new connection from the
// moment it is made, and takes what arrives before the request is
// registered on it for an unsolicited reply on an idle connection. A
// server that speaks first (an SSH or SMTP banner) or closes at once then
// failed the request, at random (about 3% on loopback, more under load),
// as protocol with "readLoopPeekFailLocked: %!w(<nil>)" or "http: server
// closed idle connection", instead of what the same server gets otherwise:
// protocol quoting the banner, or reset. The trace's GotConn, which runs in
// that gap, sleeps here to make the gap wide.
func TestServerThatSpeaksFirst(t *testing.T) {
	t.Parallel()
	c := newTestClient(t, nil)
	for _, tc := range []struct {
		name, greeting string
		kind           ErrorKind
		want           string
	}{
		{"banner", "SSH-2.0-OpenSSH_9.6\r\n", KindProtocol, `"SSH-2.0-OpenSSH_9.6"`},
		{"close", "", KindReset, "without responding"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			addr := speakFirstServer(t, tc.greeting)
			for range 3 {
				ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
					GotConn: func(httptrace.GotConnInfo) { time.Sleep(50 * time.Millisecond) },
				})
				r := c.Fetch(ctx, Target{Input: addr, URL: "http://" + addr + "/", HostKey: addr})
				wantKind(t, r, tc.kind)
				if !strings.Contains(r.Error.Message, tc.want) {
					t.Fatalf("message %q, want it to contain %s", r.Error.Message, tc.want)
				}
			}
		})
	}
}

// A connection the transport dialled but gave no request (another one
// freed up first) waits in the idle pool. Its reads must not wait for a
// write for ever: net/http learns from them that the server closed it, and
// drops it, instead of sending a request into it later (a POST on it fails
// as reset, a GET is sent again). So the gate opens after a grace anyway.
func TestUnusedConnectionStillReads(t *testing.T) {
	t.Parallel()
	addr := speakFirstServer(t, "") // closes at once
	d := newDialer(Options{ConnectTimeout: 5 * time.Second})
	c, err := d.DialContext(context.Background(), "tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	got := make(chan error, 1)
	go func() {
		_, err := c.Read(make([]byte, 1))
		got <- err
	}()
	select {
	case err := <-got:
		if err != io.EOF {
			t.Errorf("Read: %v, want EOF (the server closed)", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a connection never written to did not read the server's close within 10s")
	}
}
