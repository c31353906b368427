package fetch

import (
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"
)

// TestH2WriteToAServerThatStoppedReadingEnds: an HTTP/2 server that grants
// a large window and then stops reading leaves the client's write of a -d
// body blocked. The attempt ends at its timeout, but the connection is not
// idle, so Close did not close it: the goroutine writing (holding the
// connection's write lock, which every later request to the host queued
// behind) and the socket stayed for as long as the server kept the
// connection open. A write that makes no progress for the attempt's
// timeout now closes the connection. Not parallel: it looks at the
// process's goroutines.
func TestH2WriteToAServerThatStoppedReadingEnds(t *testing.T) {
	stop := make(chan struct{})
	addr := connServer(t, h2Listener(t), func(c net.Conn) {
		fr := h2Framer(c, http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1<<31 - 1})
		if fr == nil {
			return
		}
		fr.WriteWindowUpdate(0, 1<<31-1-65535)
		for {
			f, err := fr.ReadFrame()
			if err != nil {
				return
			}
			if sf, ok := f.(*http2.SettingsFrame); ok && !sf.IsAck() {
				fr.WriteSettingsAck()
				break
			}
		}
		<-stop // and never read again
	})
	t.Cleanup(func() { close(stop) }) // before connServer's cleanup waits for the handler
	c := newTestClient(t, func(o *Options) {
		o.Insecure = true
		o.Body = make([]byte, 32<<20) // far more than the socket buffers hold
		o.Timeout = time.Second
	})
	r := get(c, "https://"+addr+"/")
	if r.Error == nil {
		t.Fatalf("no error: %+v", r)
	}
	c.Close()
	writing := func() bool {
		buf := make([]byte, 1<<20)
		return strings.Contains(string(buf[:runtime.Stack(buf, true)]), "(*http2clientStream).writeRequest")
	}
	for deadline := time.Now().Add(15 * time.Second); writing(); {
		if time.Now().After(deadline) {
			t.Fatal("15s after the attempt and Close, a goroutine still writes the request to a server that stopped reading")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
