package simweb

import (
	"bufio"
	"crypto/tls"
	"encoding/binary"
	"net"
	"net/http"
	"strconv"
	"time"
)

// serveFault implements /fault/NAME: servers that misbehave on purpose.
func (s *Server) serveFault(w http.ResponseWriter, r *http.Request, name string) {
	switch name {
	case "silence":
		// Accept and never answer; the handler ends when the client leaves
		// or the server closes.
		select {
		case <-r.Context().Done():
		case <-s.done:
			abort()
		}
	case "trickle":
		s.trickle(w, r)
	case "silence-body":
		h := w.Header()
		h["Content-Type"] = hvHTML
		h.Set("Content-Length", strconv.Itoa(len(okPage)*4))
		w.WriteHeader(http.StatusOK)
		w.Write(okPage[:512])
		http.NewResponseController(w).Flush()
		select {
		case <-r.Context().Done():
		case <-s.done:
			abort()
		}
	case "endless":
		w.Header()["Content-Type"] = hvHTML
		w.Header()["Cache-Control"] = hvNoStore
		w.Write([]byte("<!doctype html><html><head><title>endless</title></head><body>"))
		for {
			if _, err := w.Write(filler); err != nil {
				return
			}
			select {
			case <-s.done:
				abort()
			default:
			}
		}
	case "reset", "close", "malformed", "bad-header", "reset-mid-body", "slow-headers", "short-body":
		s.hijackFault(w, r, name)
	default:
		writeStatus(w, http.StatusNotFound)
	}
}

// trickle sends the headers at once, then one body byte per interval
// (?every=1s, ?n=60 bytes in all, announced in Content-Length).
func (s *Server) trickle(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	every, err := parseDuration(q.Get("every"))
	if err != nil || every <= 0 {
		every = time.Second
	}
	n, err := strconv.Atoi(q.Get("n"))
	if err != nil || n <= 0 {
		n = 60
	}
	w.Header()["Content-Type"] = hvText
	w.Header().Set("Content-Length", strconv.Itoa(n))
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	if rc.Flush() != nil {
		return
	}
	for i := range n {
		if !s.sleep(r, every) {
			return
		}
		if _, err := w.Write(filler[i%len(filler) : i%len(filler)+1]); err != nil {
			return
		}
		if rc.Flush() != nil {
			return
		}
	}
}

// hijackFault takes the raw connection to break the protocol in ways
// net/http would never allow.
func (s *Server) hijackFault(w http.ResponseWriter, r *http.Request, name string) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		// HTTP/2 cannot hijack; say so rather than pretend.
		badRequest(w, "fault "+name+" needs HTTP/1.1")
		return
	}
	defer conn.Close()
	conn.SetDeadline(time.Time{})
	switch name {
	case "reset":
		resetConn(conn)
	case "close":
		// Clean FIN without a byte of reply.
	case "malformed":
		conn.Write([]byte("HTTP/1.1 abc\r\n\r\n"))
	case "bad-header":
		conn.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nBad Header\x01: x\r\n\r\nok"))
	case "short-body":
		// Promise 2 KiB, send 1 KiB, then close cleanly: unexpected EOF.
		conn.Write([]byte("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 2048\r\n\r\n"))
		conn.Write(okPage)
	case "reset-mid-body":
		conn.Write([]byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 65536\r\n\r\n"))
		conn.Write(filler[:8192])
		// Give the client a moment to read what was sent: an RST discards
		// data still queued on either side.
		t := time.NewTimer(50 * time.Millisecond)
		select {
		case <-t.C:
		case <-s.done:
			t.Stop()
		}
		resetConn(conn)
	case "slow-headers":
		s.slowHeaders(conn, r)
	}
}

// slowHeaders writes a complete small response one byte per interval
// (?every=1s), headers included.
func (s *Server) slowHeaders(conn net.Conn, r *http.Request) {
	every, err := parseDuration(r.URL.Query().Get("every"))
	if err != nil || every <= 0 {
		every = time.Second
	}
	resp := []byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
	t := time.NewTimer(every)
	defer t.Stop()
	for i := range resp {
		if _, err := conn.Write(resp[i : i+1]); err != nil {
			return
		}
		if i == len(resp)-1 {
			return
		}
		t.Reset(every)
		select {
		case <-t.C:
		case <-s.done:
			return
		}
	}
}

// resetConn closes conn with SO_LINGER 0, so the peer gets an RST.
func resetConn(conn net.Conn) {
	if tc, ok := conn.(*tls.Conn); ok {
		conn = tc.NetConn()
	}
	if tcp, ok := conn.(*net.TCPConn); ok {
		tcp.SetLinger(0)
	}
	conn.Close()
}

// serveSize sends exactly N bytes of filler (?chunked=1 omits the
// Content-Length).
func (s *Server) serveSize(w http.ResponseWriter, r *http.Request, v string) {
	n, err := parseSize(v)
	if err != nil {
		badRequest(w, err.Error())
		return
	}
	w.Header()["Content-Type"] = hvText
	if r.URL.Query().Get("chunked") != "1" {
		w.Header().Set("Content-Length", strconv.FormatInt(n, 10))
	}
	for n > 0 {
		k := min(n, int64(len(filler)))
		if _, err := w.Write(filler[:k]); err != nil {
			return
		}
		n -= k
		select {
		case <-s.done:
			abort()
		default:
		}
	}
}

// serveBomb sends a valid gzip stream inflating to ?size= zero bytes
// (default 1GiB), assembled from one cached deflate segment per MiB, so
// serving it costs about 1 KB of writing per MiB claimed.
func (s *Server) serveBomb(w http.ResponseWriter, r *http.Request) {
	size := int64(1 << 30)
	if v := r.URL.Query().Get("size"); v != "" {
		n, err := parseSize(v)
		if err != nil {
			badRequest(w, err.Error())
			return
		}
		size = n
	}
	seg := bombSegment()
	full := size / bombUnit
	tail := bombTail(int(size % bombUnit))
	var trailer [8]byte
	binary.LittleEndian.PutUint32(trailer[:4], crc32Zeros(size))
	binary.LittleEndian.PutUint32(trailer[4:], uint32(size))
	total := int64(len(gzipHeader)) + full*int64(len(seg)) + int64(len(tail)+len(deflateFinal)+len(trailer))
	h := w.Header()
	h["Content-Type"] = hvHTML
	h["Content-Encoding"] = hvGzip
	h.Set("Content-Length", strconv.FormatInt(total, 10))
	bw := bufio.NewWriterSize(w, 32<<10)
	bw.Write(gzipHeader)
	for i := int64(0); i < full; i++ {
		if _, err := bw.Write(seg); err != nil {
			return
		}
		if i%256 == 0 {
			select {
			case <-s.done:
				abort()
			default:
			}
		}
	}
	bw.Write(tail)
	bw.Write(deflateFinal)
	bw.Write(trailer[:])
	bw.Flush()
}
