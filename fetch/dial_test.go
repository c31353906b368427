package fetch

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// countingLookup is a fake resolver answering 127.0.0.1 after a delay, or
// err, and counting its calls.
type countingLookup struct {
	calls atomic.Int32
	delay time.Duration
	err   error
}

func (l *countingLookup) lookup(ctx context.Context, host string) ([]net.IPAddr, error) {
	l.calls.Add(1)
	time.Sleep(l.delay)
	if l.err != nil {
		return nil, l.err
	}
	return []net.IPAddr{{IP: net.IPv4(127, 0, 0, 1)}}, nil
}

// listen accepts and closes connections on a loopback port until the test
// ends.
func listen(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	return l.Addr().String()
}

func TestDNSCacheResolvesOnce(t *testing.T) {
	t.Parallel()
	_, port, _ := net.SplitHostPort(listen(t))
	d := newDialer(testOptions())
	fake := &countingLookup{delay: 50 * time.Millisecond}
	d.lookupIP = fake.lookup
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for range 20 {
		wg.Go(func() {
			c, err := d.DialContext(context.Background(), "tcp", "counted.test:"+port)
			if err == nil {
				c.Close()
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
	}
	if c, err := d.DialContext(context.Background(), "tcp", "counted.test:"+port); err == nil {
		c.Close()
	}
	if n := fake.calls.Load(); n != 1 {
		t.Errorf("resolver called %d times for one host, want 1", n)
	}
}

func TestDNSCacheErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		err       error
		wantCalls int32
	}{
		{"not found is cached", &net.DNSError{Err: "no such host", Name: "x", IsNotFound: true}, 1},
		{"timeout is retried", &net.DNSError{Err: "timeout", Name: "x", IsTimeout: true}, 2},
	}
	for _, tt := range tests {
		d := newDialer(testOptions())
		fake := &countingLookup{err: tt.err}
		d.lookupIP = fake.lookup
		for range 2 {
			_, err := d.DialContext(context.Background(), "tcp", "x.test:80")
			if Classify(err) != KindDNS {
				t.Fatalf("%s: error %v, want a dns error", tt.name, err)
			}
		}
		if n := fake.calls.Load(); n != tt.wantCalls {
			t.Errorf("%s: %d lookups, want %d", tt.name, n, tt.wantCalls)
		}
	}
}

func TestDNSCacheBounded(t *testing.T) {
	t.Parallel()
	d := newDialer(testOptions())
	d.lookupIP = (&countingLookup{}).lookup
	d.maxEntries = 4
	for i := range 20 {
		if _, err := d.lookup(context.Background(), fmt.Sprintf("h%d.test", i), time.Now().Add(time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	d.mu.RLock()
	n := len(d.cache)
	d.mu.RUnlock()
	if n > 4 {
		t.Errorf("cache holds %d entries, want at most 4", n)
	}
}

// TestDialAddressOrder pins a host to an address that refuses, then a
// working one: the dial moves on to the second.
func TestDialAddressOrder(t *testing.T) {
	t.Parallel()
	ts := serve(t, func(w http.ResponseWriter, r *http.Request) {})
	port, _ := strconv.Atoi(portOf(t, ts.URL))
	c := newTestClient(t, func(o *Options) {
		o.Resolve = []Resolve{{Host: "two.test", Port: port, Addrs: []string{"::1", "127.0.0.1"}}}
	})
	r := get(c, fmt.Sprintf("http://two.test:%d/", port))
	wantKind(t, r, "")
	if r.IP != "127.0.0.1" {
		t.Errorf("ip = %q, want 127.0.0.1", r.IP)
	}
}

// TestDNSTiming checks that a cache miss shows in timing.dns.
func TestDNSTiming(t *testing.T) {
	t.Parallel()
	ts := serve(t, func(w http.ResponseWriter, r *http.Request) {})
	c := newTestClient(t, nil)
	c.dial.lookupIP = (&countingLookup{delay: 30 * time.Millisecond}).lookup
	r := get(c, "http://slow-dns.test:"+portOf(t, ts.URL)+"/")
	wantKind(t, r, "")
	if r.Timing.DNS < 25 {
		t.Errorf("dns = %vms, want about 30", r.Timing.DNS)
	}
}

// socks5Server is a minimal SOCKS5 proxy (no auth, CONNECT only) that
// records the addresses it was asked for and connects every request to
// 127.0.0.1 on the asked port, as a remote-resolving proxy would.
func socks5Server(t *testing.T) (addr string, asked func() []string) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	var mu sync.Mutex
	var seen []string
	read := func(c net.Conn, n int) []byte {
		b := make([]byte, n)
		io.ReadFull(c, b)
		return b
	}
	handle := func(c net.Conn) error {
		defer c.Close()
		greeting := read(c, 2)
		read(c, int(greeting[1]))
		c.Write([]byte{5, 0})
		req := read(c, 4)
		var host string
		switch req[3] {
		case 1:
			host = net.IP(read(c, 4)).String()
		case 3:
			host = string(read(c, int(read(c, 1)[0])))
		default:
			return errors.New("unsupported address type")
		}
		port := strconv.Itoa(int(binary.BigEndian.Uint16(read(c, 2))))
		mu.Lock()
		seen = append(seen, net.JoinHostPort(host, port))
		mu.Unlock()
		up, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", port))
		if err != nil {
			c.Write([]byte{5, 5, 0, 1, 0, 0, 0, 0, 0, 0})
			return err
		}
		defer up.Close()
		c.Write([]byte{5, 0, 0, 1, 0, 0, 0, 0, 0, 0})
		go io.Copy(up, c)
		io.Copy(c, up)
		return nil
	}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go handle(c)
		}
	}()
	return l.Addr().String(), func() []string { mu.Lock(); defer mu.Unlock(); return append([]string(nil), seen...) }
}

func TestSOCKS5Proxy(t *testing.T) {
	t.Parallel()
	ts := serve(t, func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "via socks") })
	port := portOf(t, ts.URL)
	addr, asked := socks5Server(t)
	p, _ := strconv.Atoi(port)
	c := newTestClient(t, func(o *Options) {
		o.Proxy = "socks5://" + addr
		o.Resolve = []Resolve{{Host: "pinned.test", Port: p, Addrs: []string{"127.0.0.1"}}}
	})
	for _, host := range []string{"remote.test", "pinned.test"} {
		r := get(c, "http://"+host+":"+port+"/")
		wantKind(t, r, "")
		if r.Status != 200 || r.Bytes != 9 {
			t.Errorf("%s: status %d bytes %d", host, r.Status, r.Bytes)
		}
	}
	want := []string{"remote.test:" + port, "127.0.0.1:" + port}
	if got := asked(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("proxy asked for %v, want %v (names resolved by the proxy, --resolve applied first)", got, want)
	}
}

// A lookup that timed out is a dns failure marked transient, which the
// engine retries; a name that does not exist is final.
func TestDNSTimeoutIsTransient(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		err  *net.DNSError
		want bool
	}{
		{&net.DNSError{Err: "i/o timeout", Name: "slow.test", IsTimeout: true}, true},
		{&net.DNSError{Err: "no such host", Name: "gone.test", IsNotFound: true}, false},
	} {
		c := newTestClient(t, nil)
		c.dial.lookupIP = func(context.Context, string) ([]net.IPAddr, error) { return nil, tc.err }
		r := get(c, "http://"+tc.err.Name+"/")
		if kindOf(r) != KindDNS || r.Error.Transient != tc.want {
			t.Errorf("%s: kind %q, transient %v; want dns, %v", tc.err.Err, kindOf(r), r.Error != nil && r.Error.Transient, tc.want)
		}
	}
}
