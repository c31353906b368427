package fetch

import (
	"context"
	"net"
	"net/http"
	"net/url"
	"testing"
	"time"
)

// TestTunnelDeadlineFollowsItsConnection: one hop can dial twice (the
// transport's resend after a dead keep-alive connection, while the dial it
// started first is still connecting). The CONNECT deadline and its
// clearing must each reach the connection of their own dial: here the
// first dial completes after the second sent its CONNECT, and the second's
// answer cleared the first's connection (which had no deadline), leaving
// the open tunnel to time out --connect-timeout after its CONNECT.
func TestTunnelDeadlineFollowsItsConnection(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	peers := make(chan net.Conn, 2)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			peers <- c
		}
	}()
	const timeout = 100 * time.Millisecond
	tr := &http.Transport{
		DialContext:            (&net.Dialer{}).DialContext,
		OnProxyConnectResponse: proxyConnectResponse,
	}
	tunnelHooks(tr, timeout)
	ht := newHopTrace(func() {})
	hctx := context.WithValue(context.Background(), hopKey{}, ht)
	ctx1, cancel1 := context.WithCancel(context.WithoutCancel(hctx)) // as getConn makes one per dial
	defer cancel1()
	ctx2, cancel2 := context.WithCancel(context.WithoutCancel(hctx))
	defer cancel2()
	proxyURL := &url.URL{Scheme: "http", Host: ln.Addr().String()}
	req := &http.Request{Method: http.MethodConnect, Host: "secure.test:443", URL: &url.URL{Opaque: "secure.test:443"}}
	ok := &http.Response{StatusCode: http.StatusOK, Status: "200 OK"}

	c2, err := tr.DialContext(ctx2, "tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	p2 := <-peers
	defer p2.Close()
	if _, err := tr.GetProxyConnectHeader(ctx2, proxyURL, "secure.test:443"); err != nil {
		t.Fatal(err)
	}
	c1, err := tr.DialContext(ctx1, "tcp", ln.Addr().String()) // the slow first dial lands now
	if err != nil {
		t.Fatal(err)
	}
	defer c1.Close()
	p1 := <-peers
	defer p1.Close()
	if err := tr.OnProxyConnectResponse(ctx2, proxyURL, req, ok); err != nil {
		t.Fatal(err)
	}
	// c2 is an open tunnel now: a response later than the connect timeout
	// must still reach it.
	go func() {
		time.Sleep(3 * timeout)
		p2.Write([]byte("x"))
	}()
	var b [1]byte
	if _, err := c2.Read(b[:]); err != nil {
		t.Fatalf("reading the open tunnel: %v (the CONNECT's deadline stayed on it)", err)
	}
	if ht.tunnelTimedOut() {
		t.Errorf("tunnelTimedOut after the tunnel opened")
	}
}
