package dist

import (
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// Commands started at once with --nats embedded, on one address and one
// store: exactly one starts the server, the others wait for it and use it,
// and each can use JetStream.
func TestEmbeddedStartedOnce(t *testing.T) {
	o := Options{URL: Embedded, Listen: freeAddr(t), StoreDir: t.TempDir()}
	const n = 4
	conns := make([]*Conn, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { conns[i], errs[i] = Connect(context.Background(), o) })
	}
	wg.Wait()
	var host *Conn
	started := 0
	for i, c := range conns {
		if errs[i] != nil {
			t.Fatalf("Connect %d: %v", i, errs[i])
		}
		if _, err := c.JS.AccountInfo(context.Background()); err != nil {
			t.Errorf("Connect %d: JetStream: %v", i, err)
		}
		if c.Embedded() {
			started++
			host = c
		}
	}
	for _, c := range conns {
		if c != host {
			c.Close()
		}
	}
	if host != nil {
		host.Close()
	}
	if started != 1 {
		t.Fatalf("%d of %d commands started a server, want 1", started, n)
	}
}

// A command waiting for the embedded server that another process is
// starting keeps waiting through connections reset on the server's port:
// the starting process checks the port by listening on it for a moment,
// and a connection that lands there is reset (a CI run failed so).
func TestEmbeddedWaitsThroughResets(t *testing.T) {
	dir, addr := t.TempDir(), freeAddr(t)
	unlock, err := lockStore(dir) // another process is starting the server
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	go func() { // reset every connection, as the port check does
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.(*net.TCPConn).SetLinger(0)
			c.Close()
		}
	}()
	type result struct {
		c   *Conn
		err error
	}
	done := make(chan result, 1)
	go func() {
		c, err := Connect(context.Background(), Options{URL: Embedded, Listen: addr, StoreDir: dir})
		done <- result{c, err}
	}()
	// Past StartServer's 2 s of retrying a store in use: Connect waits.
	select {
	case r := <-done:
		t.Fatalf("Connect returned while the server was starting: %v", r.err)
	case <-time.After(2500 * time.Millisecond):
	}
	ln.Close()
	unlock()
	host, port, _ := net.SplitHostPort(addr)
	p, _ := strconv.Atoi(port)
	srv, err := StartServer(ServerConfig{Host: host, Port: p, StoreDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		srv.Shutdown()
		srv.WaitForShutdown()
	}()
	select {
	case r := <-done:
		if r.err != nil {
			t.Fatalf("Connect: %v", r.err)
		}
		if r.c.Embedded() {
			t.Error("Connect started a server of its own")
		}
		r.c.Close()
	case <-time.After(10 * time.Second):
		t.Fatal("Connect did not connect within 10 s of the server starting")
	}
}

// A second server on a store in use is refused at once; the store is free
// again once the first server stops.
func TestStoreLock(t *testing.T) {
	dir := t.TempDir()
	srv, err := StartServer(ServerConfig{Host: "127.0.0.1", Port: -1, StoreDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := StartServer(ServerConfig{Host: "127.0.0.1", Port: -1, StoreDir: dir}); !errors.Is(err, ErrStoreInUse) {
		t.Errorf("second server on the same store: %v, want ErrStoreInUse", err)
	}
	srv.Shutdown()
	srv.WaitForShutdown()
	for i := 0; ; i++ { // the lock is released just after the shutdown
		srv, err = StartServer(ServerConfig{Host: "127.0.0.1", Port: -1, StoreDir: dir})
		if err == nil {
			break
		}
		if i == 100 {
			t.Fatalf("store still locked after the server stopped: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	srv.Shutdown()
	srv.WaitForShutdown()
}

// A port another program listens on fails the start at once, not after
// the server's ten-second readiness wait, and leaves the store unlocked.
func TestStartServerBusyPort(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	dir := t.TempDir()
	start := time.Now()
	if _, err := StartServer(ServerConfig{Host: "127.0.0.1", Port: port, StoreDir: dir}); err == nil {
		t.Fatal("StartServer on a busy port: no error")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("StartServer on a busy port took %v", d)
	}
	srv, err := StartServer(ServerConfig{Host: "127.0.0.1", Port: -1, StoreDir: dir})
	if err != nil {
		t.Fatalf("store left locked by the failed start: %v", err)
	}
	srv.Shutdown()
	srv.WaitForShutdown()
}

// A server on the embedded address that refuses us is reported as such,
// at once; Connect does not try to start a second one on its port.
func TestEmbeddedRefusedIsReported(t *testing.T) {
	srv, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, NoSigs: true, NoLog: true, Authorization: "tok-secret"})
	if err != nil {
		t.Fatal(err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("server did not start")
	}
	defer func() { srv.Shutdown(); srv.WaitForShutdown() }()
	start := time.Now()
	_, err = Connect(context.Background(), Options{URL: Embedded, Listen: srv.Addr().String(), StoreDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "$FANOUT_NATS_TOKEN") {
		t.Errorf("Connect without the token: %v, want an error naming $FANOUT_NATS_TOKEN", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Connect took %v", d)
	}
}
