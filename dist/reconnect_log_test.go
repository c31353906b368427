package dist

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"
)

// TestConnLogsLossAndReconnect: a connection that loses its server says so
// once, and again when it is back (a worker's log showed only the
// timeouts of its requests meanwhile); closing it on purpose says nothing.
func TestConnLogsLossAndReconnect(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	srv, err := StartServer(ServerConfig{Host: "127.0.0.1", Port: -1, StoreDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	port := srv.Addr().(*net.TCPAddr).Port
	var log syncBuffer
	c, err := Connect(context.Background(), Options{URL: srv.ClientURL(), Name: "fanout worker w", Log: &log})
	if err != nil {
		t.Fatal(err)
	}
	waitFor := func(what string) {
		t.Helper()
		for deadline := time.Now().Add(20 * time.Second); !strings.Contains(log.String(), what); time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("the log has no %q within 20 s: %q", what, log.String())
			}
		}
	}
	srv.Shutdown()
	srv.WaitForShutdown()
	waitFor("fanout worker w: lost the connection to NATS")
	if srv, err = StartServer(ServerConfig{Host: "127.0.0.1", Port: port, StoreDir: dir}); err != nil {
		t.Fatal(err)
	}
	defer func() { srv.Shutdown(); srv.WaitForShutdown() }()
	waitFor("fanout worker w: reconnected to NATS at nats://127.0.0.1:")
	before := log.String()
	c.Close()
	time.Sleep(200 * time.Millisecond)
	if after := log.String(); after != before || strings.Count(after, "lost the connection") != 1 {
		t.Errorf("log %q: want one loss, and nothing at Close", after)
	}
}
