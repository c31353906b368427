package fetch

import (
	"bytes"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// refusingH2 starts a TLS listener speaking just enough HTTP/2 to answer
// every request with RST_STREAM(code), and counts the requests (HEADERS
// frames) it turned away.
func refusingH2(t *testing.T, code http2.ErrCode) (url string, requests *atomic.Int64) {
	t.Helper()
	requests = new(atomic.Int64)
	addr := connServer(t, h2Listener(t), func(c net.Conn) {
		c.SetDeadline(time.Now().Add(30 * time.Second))
		fr := h2Framer(c)
		if fr == nil {
			return
		}
		for {
			f, err := fr.ReadFrame()
			if err != nil {
				return
			}
			switch f := f.(type) {
			case *http2.SettingsFrame:
				if !f.IsAck() {
					fr.WriteSettingsAck()
				}
			case *http2.HeadersFrame:
				requests.Add(1)
				fr.WriteRSTStream(f.StreamID, code)
			}
		}
	})
	return "https://" + addr + "/", requests
}

// TestH2StreamsTurnedAway: net/http's HTTP/2 transport sends a request
// again, up to seven times with growing backoff, when the server refuses its
// stream; a server refusing every stream held the attempt to its timeout, as
// a timeout. One attempt now sends it at most twice and ends as reset.
func TestH2StreamsTurnedAway(t *testing.T) {
	t.Parallel()
	for _, code := range []http2.ErrCode{http2.ErrCodeRefusedStream, http2.ErrCodeProtocol} {
		t.Run(code.String(), func(t *testing.T) {
			t.Parallel()
			url, requests := refusingH2(t, code)
			c := newTestClient(t, func(o *Options) { o.Insecure = true; o.Timeout = 20 * time.Second })
			start := time.Now()
			r := get(c, url)
			el := time.Since(start)
			if code == http2.ErrCodeRefusedStream {
				wantKind(t, r, KindReset)
				if !strings.Contains(r.Error.Message, "turned the request away") {
					t.Errorf("message %q", r.Error.Message)
				}
			} else if r.Error == nil {
				t.Fatalf("no error: %+v", r)
			}
			if n := requests.Load(); n > maxSends {
				t.Errorf("the request went out %d times in one attempt, want at most %d", n, maxSends)
			}
			if el > 10*time.Second {
				t.Errorf("the attempt took %v (timeout 20s)", el)
			}
		})
	}
}

// TestClosedBeforeTheResponseSaysSo: a connection lost before the response
// headers were complete ends with io.ErrUnexpectedEOF over HTTP/2 (the
// server closed it after reading the request) and over HTTP/1 (cut in the
// middle of the headers), as a body cut short does; the message said "before
// the body was complete" for a result with no status and no body.
func TestClosedBeforeTheResponseSaysSo(t *testing.T) {
	t.Parallel()
	// Reads the request's HEADERS, then closes the connection.
	h2 := connServer(t, h2Listener(t), func(c net.Conn) {
		fr := h2Framer(c)
		if fr == nil {
			return
		}
		for {
			f, err := fr.ReadFrame()
			if _, ok := f.(*http2.HeadersFrame); ok || err != nil {
				return
			}
		}
	})
	h1 := rawReplyServer(t, "HTTP/1.1 200 OK\r\nServer: half\r\n", false)
	for _, tc := range []struct{ name, url, want string }{
		{"h2 no response", "https://" + h2 + "/", "without responding"},
		{"h1 headers cut", "http://" + h1 + "/", "before the response headers were complete"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := get(newTestClient(t, func(o *Options) { o.Insecure = true }), tc.url)
			wantKind(t, r, KindReset)
			if r.Status != 0 || !strings.Contains(r.Error.Message, tc.want) {
				t.Errorf("status %d, message %q; want status 0 and %q", r.Status, r.Error.Message, tc.want)
			}
		})
	}
}

// TestH2DeadConnectionIsDropped: a server (or a NAT, a load balancer that
// dropped the flow) answers the first stream of a connection and then
// nothing at all, not even a ping. The stream after it ends as a reset
// within about three quarters of the attempt's time, not a timeout, and the request
// after that goes out on a new connection and is answered: every request
// to the host went to the dead connection before, and timed out, for the
// rest of the run.
func TestH2DeadConnectionIsDropped(t *testing.T) {
	t.Parallel()
	var conns atomic.Int64
	stop := make(chan struct{})
	addr := connServer(t, h2Listener(t), func(c net.Conn) {
		c.SetDeadline(time.Now().Add(30 * time.Second))
		fr := h2Framer(c)
		if fr == nil {
			return
		}
		conns.Add(1)
		for {
			f, err := fr.ReadFrame()
			if err != nil {
				return
			}
			switch f := f.(type) {
			case *http2.SettingsFrame:
				if !f.IsAck() {
					fr.WriteSettingsAck()
				}
			case *http2.HeadersFrame:
				fr.WriteHeaders(http2.HeadersFrameParam{StreamID: f.StreamID, BlockFragment: hpackStatus200(t), EndHeaders: true})
				fr.WriteData(f.StreamID, true, []byte("ok"))
				<-stop // silent from now on: reads nothing, answers nothing
				return
			}
		}
	})
	t.Cleanup(func() { close(stop) })
	c := newTestClient(t, func(o *Options) { o.Insecure = true; o.Timeout = 6 * time.Second })
	if r := get(c, "https://"+addr+"/1"); r.Error != nil || r.Status != 200 {
		t.Fatalf("first request: %+v", r)
	}
	start := time.Now()
	r := get(c, "https://"+addr+"/2")
	wantKind(t, r, KindReset) // before the timeout, which it would be otherwise
	t.Logf("the stream on the dead connection ended after %v (timeout 6s)", time.Since(start).Round(time.Millisecond))
	if r := get(c, "https://"+addr+"/3"); r.Error != nil || r.Status != 200 || conns.Load() != 2 {
		t.Errorf("the request after: %+v, on connection %d; want 200 on a second connection", r, conns.Load())
	}
}

// hpackStatus200 is a header block of ":status: 200" and a content-length
// of 2.
func hpackStatus200(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := hpack.NewEncoder(&buf)
	for _, f := range []hpack.HeaderField{{Name: ":status", Value: "200"}, {Name: "content-length", Value: "2"}} {
		if err := enc.WriteField(f); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}
