package simweb

import (
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"
)

// waitIdle waits until no handler runs, proving held requests end.
func waitIdle(t *testing.T, s *Server) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for s.active.Load() > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d handlers still running 5s after the client left", s.active.Load())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestFaultErrors(t *testing.T) {
	s := start(t, Config{TLSPorts: 1, Ports: 1})
	tests := []struct {
		path  string
		check func(err error) bool
		what  string
	}{
		{"/fault/reset", func(err error) bool { return errors.Is(err, syscall.ECONNRESET) }, "connection reset"},
		{"/fault/close", func(err error) bool { return errors.Is(err, io.EOF) }, "EOF"},
		{"/fault/malformed", func(err error) bool { return err != nil && strings.Contains(err.Error(), "malformed HTTP status code") }, "malformed status"},
		{"/fault/bad-header", func(err error) bool { return err != nil && strings.Contains(err.Error(), "malformed MIME header") }, "malformed header"},
	}
	for _, tls := range []bool{false, true} {
		for _, tt := range tests {
			// A fresh client each time: net/http retries idempotent requests
			// that fail on a reused connection, hiding the fault.
			c := client(t, s)
			url := s.URL("h1.sim", tt.path)
			if tls {
				url = s.TLSURL("h1.sim", tt.path)
			}
			resp, err := c.Get(url)
			if err == nil {
				resp.Body.Close()
			}
			if !tt.check(err) {
				t.Errorf("%s: got error %v, want %s", url, err, tt.what)
			}
		}
	}
}

func TestFaultBodies(t *testing.T) {
	s := start(t, Config{})
	tests := []struct {
		path  string
		check func(err error) bool
		what  string
	}{
		{"/fault/short-body", func(err error) bool { return errors.Is(err, io.ErrUnexpectedEOF) }, "unexpected EOF"},
		{"/fault/reset-mid-body", func(err error) bool {
			return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.ErrUnexpectedEOF)
		}, "reset or unexpected EOF"},
	}
	for _, tt := range tests {
		c := client(t, s)
		resp, err := c.Get(s.URL("h1.sim", tt.path))
		if err != nil {
			t.Fatalf("%s: %v", tt.path, err)
		}
		_, err = io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !tt.check(err) {
			t.Errorf("%s: status %d, body error %v; want 200 and %s", tt.path, resp.StatusCode, err, tt.what)
		}
	}
}

func TestSilenceTimesOut(t *testing.T) {
	s := start(t, Config{})
	c := client(t, s)
	c.Timeout = 300 * time.Millisecond
	_, err := c.Get(s.URL("h1.sim", "/fault/silence"))
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("silence: got %v, want a timeout", err)
	}
	waitIdle(t, s)

	// silence-body: headers arrive, the body stalls.
	resp, err := c.Get(s.URL("h1.sim", "/fault/silence-body"))
	if err != nil {
		t.Fatalf("silence-body: %v", err)
	}
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || n != 512 || !errors.As(err, &ne) || !ne.Timeout() {
		t.Errorf("silence-body: status %d, %d bytes, err %v; want 200, 512 bytes, timeout", resp.StatusCode, n, err)
	}
	waitIdle(t, s)
}

func TestTrickleAndSlowHeaders(t *testing.T) {
	s := start(t, Config{})
	c := client(t, s)
	t0 := time.Now()
	resp, err := c.Get(s.URL("h1.sim", "/fault/trickle?every=50ms&n=6"))
	if err != nil {
		t.Fatal(err)
	}
	ttfb := time.Since(t0)
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	total := time.Since(t0)
	// Six bytes at one per 50ms: about 300ms, headers at once.
	if err != nil || len(body) != 6 || total < 250*time.Millisecond || ttfb > total/2 {
		t.Errorf("trickle: %d bytes (err %v), headers after %v, body after %v", len(body), err, ttfb, total)
	}

	t0 = time.Now()
	resp, body = get(t, client(t, s), s.URL("h1.sim", "/fault/slow-headers?every=5ms"))
	// About 90 bytes at one per 5ms: at least ~0.4s.
	if el := time.Since(t0); resp.StatusCode != 200 || string(body) != "ok" || el < 300*time.Millisecond {
		t.Errorf("slow-headers: status %d body %q after %v", resp.StatusCode, body, el)
	}
}

func TestEndless(t *testing.T) {
	s := start(t, Config{})
	c := client(t, s)
	resp, err := c.Get(s.URL("h1.sim", "/fault/endless"))
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, io.LimitReader(resp.Body, 20<<20))
	resp.Body.Close()
	if n != 20<<20 || err != nil {
		t.Errorf("endless: read %d bytes (err %v), want 20 MiB", n, err)
	}
	waitIdle(t, s)
}

func TestCloseEndsHeldRequests(t *testing.T) {
	s, err := Start(Config{})
	if err != nil {
		t.Fatal(err)
	}
	c := client(t, s)
	errc := make(chan error, 2)
	for _, p := range []string{"/fault/silence", "/delay/1h"} {
		go func() {
			resp, err := c.Get(s.URL("h1.sim", p))
			if err == nil {
				resp.Body.Close()
			}
			errc <- err
		}()
	}
	for s.active.Load() < 2 {
		time.Sleep(time.Millisecond)
	}
	t0 := time.Now()
	s.Close()
	for range 2 {
		if err := <-errc; err == nil {
			t.Error("held request succeeded after Close, want an error")
		}
	}
	if el := time.Since(t0); el > 3*time.Second {
		t.Errorf("Close took %v with held requests", el)
	}
	if s.active.Load() != 0 {
		t.Errorf("%d handlers still running after Close", s.active.Load())
	}
}

func TestMaxLifetime(t *testing.T) {
	s, err := Start(Config{MaxLifetime: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	select {
	case <-s.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("server still open 5s after a 200ms lifetime")
	}
	s.Close() // waits for the lifetime's own Close to finish
	c := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	if resp, err := c.Get(s.BaseURLs()[0] + "/ok"); err == nil {
		resp.Body.Close()
		t.Error("request succeeded after the lifetime ended")
	}
}

func TestLoopbackOnly(t *testing.T) {
	for _, addr := range []string{"0.0.0.0", "::", "192.0.2.1", "10.0.0.1", "example.com", "127.0.0.1:80"} {
		if s, err := Start(Config{Addr: addr}); err == nil {
			s.Close()
			t.Errorf("Start(Addr %q) succeeded, want a refusal", addr)
		}
	}
	for _, addr := range []string{"", "localhost", "127.0.0.1", "127.0.0.2"} {
		s, err := Start(Config{Addr: addr, Ports: 2})
		if err != nil {
			t.Errorf("Start(Addr %q): %v", addr, err)
			continue
		}
		for _, a := range s.Addrs() {
			host, _, _ := net.SplitHostPort(a)
			if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
				t.Errorf("Addr %q listens on %s", addr, a)
			}
		}
		s.Close()
	}
}
