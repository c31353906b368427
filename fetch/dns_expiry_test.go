package fetch

import (
	"context"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeClock is the DNS cache's clock in tests: it moves only when told.
type fakeClock struct{ ns atomic.Int64 }

func (c *fakeClock) now() time.Time          { return time.Unix(1_800_000_000, c.ns.Load()) }
func (c *fakeClock) advance(d time.Duration) { c.ns.Add(int64(d)) }

// scriptedLookup answers with its current address, or its current error,
// or with neither when both are nil, after delay, and counts its calls.
type scriptedLookup struct {
	calls atomic.Int32
	delay time.Duration
	mu    sync.Mutex
	ip    net.IP
	err   error
}

func (l *scriptedLookup) set(ip net.IP, err error) {
	l.mu.Lock()
	l.ip, l.err = ip, err
	l.mu.Unlock()
}

func (l *scriptedLookup) lookup(context.Context, string) ([]net.IPAddr, error) {
	l.calls.Add(1)
	time.Sleep(l.delay)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ip == nil {
		return nil, l.err
	}
	return []net.IPAddr{{IP: l.ip}}, nil
}

// TestDNSCacheExpires: the cache kept every answer for the Client's life,
// so a long-lived one (an uptime checker, a dist worker) never saw a host
// move, nor a name that did not exist start to resolve. Addresses are now
// kept dnsTTL, "no such host" dnsNegativeTTL, and a timeout not at all.
func TestDNSCacheExpires(t *testing.T) {
	t.Parallel()
	notFound := &net.DNSError{Err: "no such host", Name: "h.test", IsNotFound: true}
	timeout := &net.DNSError{Err: "i/o timeout", Name: "h.test", IsTimeout: true}
	// An error marked both is a timeout all the same: the name may exist.
	both := &net.DNSError{Err: "i/o timeout", Name: "h.test", IsTimeout: true, IsNotFound: true}
	moved := net.IPv4(127, 0, 0, 2)
	tests := []struct {
		name     string
		firstIP  net.IP
		firstErr error
		ttl      time.Duration // how long the first answer is kept; 0: not kept
	}{
		{"addresses", net.IPv4(127, 0, 0, 1), nil, dnsTTL},
		{"no such host", nil, notFound, dnsNegativeTTL},
		{"empty answer", nil, nil, dnsNegativeTTL},
		{"timeout", nil, timeout, 0},
		{"timeout and not found", nil, both, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := newDialer(testOptions())
			clock := &fakeClock{}
			d.now = clock.now
			fake := &scriptedLookup{ip: tt.firstIP, err: tt.firstErr}
			d.lookupIP = fake.lookup
			lookup := func() ([]net.IP, error) {
				return d.lookup(context.Background(), "h.test", time.Now().Add(time.Second))
			}
			first, firstErr := lookup()
			// The host moves, or starts to resolve.
			fake.set(moved, nil)
			if tt.ttl > 0 {
				clock.advance(tt.ttl - time.Second)
				ips, err := lookup()
				if n := fake.calls.Load(); n != 1 || !sameAnswer(ips, err, first, firstErr) {
					t.Fatalf("%v after the first lookup: %v, %v after %d lookups; want the cached %v, %v after 1",
						tt.ttl-time.Second, ips, err, n, first, firstErr)
				}
				clock.advance(time.Second)
			}
			ips, err := lookup()
			if n := fake.calls.Load(); n != 2 || err != nil || len(ips) != 1 || !ips[0].Equal(moved) {
				t.Fatalf("%v after the first lookup: %v, %v after %d lookups; want [%v] after 2", tt.ttl, ips, err, n, moved)
			}
			// And the new answer is cached in its turn.
			if ips, err := lookup(); fake.calls.Load() != 2 || err != nil || !ips[0].Equal(moved) {
				t.Errorf("then: %v, %v after %d lookups; want [%v] cached", ips, err, fake.calls.Load(), moved)
			}
		})
	}
}

func sameAnswer(ips []net.IP, err error, wantIPs []net.IP, wantErr error) bool {
	if err != wantErr || len(ips) != len(wantIPs) {
		return false
	}
	for i := range ips {
		if !ips[i].Equal(wantIPs[i]) {
			return false
		}
	}
	return true
}

// TestDNSCacheExpiredCoalesces: the lookups that find a host's entry
// expired share one new lookup, as the first ones did.
func TestDNSCacheExpiredCoalesces(t *testing.T) {
	t.Parallel()
	d := newDialer(testOptions())
	clock := &fakeClock{}
	d.now = clock.now
	fake := &scriptedLookup{delay: 50 * time.Millisecond, ip: net.IPv4(127, 0, 0, 1)}
	d.lookupIP = fake.lookup
	lookupAll := func() {
		var wg sync.WaitGroup
		for range 20 {
			wg.Go(func() {
				if _, err := d.lookup(context.Background(), "h.test", time.Now().Add(5*time.Second)); err != nil {
					t.Errorf("lookup: %v", err)
				}
			})
		}
		wg.Wait()
	}
	lookupAll()
	clock.advance(dnsTTL)
	lookupAll()
	if n := fake.calls.Load(); n != 2 {
		t.Errorf("resolver called %d times for 20 lookups, then 20 after the entry expired; want 2", n)
	}
	// Those that saw the expired entry before it was replaced all ask for
	// a new one: the first replaces it, the others get its replacement
	// while it is still being looked up (for 50 ms).
	clock.advance(dnsTTL)
	e1, e2 := d.entry("h.test"), d.entry("h.test")
	if e1 != e2 {
		t.Error("an expired entry was replaced twice")
	}
	<-e1.done
	<-e2.done
	if n := fake.calls.Load(); n != 3 {
		t.Errorf("resolver called %d times, want 3", n)
	}
}

// TestDNSCacheNewNameOverHTTP: a Client that found a name missing fetches
// from it once it resolves and the negative answer has expired.
func TestDNSCacheNewNameOverHTTP(t *testing.T) {
	t.Parallel()
	ts := serve(t, func(w http.ResponseWriter, r *http.Request) {})
	c := newTestClient(t, nil)
	clock := &fakeClock{}
	c.dial.now = clock.now
	fake := &scriptedLookup{err: &net.DNSError{Err: "no such host", Name: "new.test", IsNotFound: true}}
	c.dial.lookupIP = fake.lookup
	url := "http://new.test:" + portOf(t, ts.URL) + "/"
	wantKind(t, get(c, url), KindDNS)
	fake.set(net.IPv4(127, 0, 0, 1), nil)
	wantKind(t, get(c, url), KindDNS) // cached
	clock.advance(dnsNegativeTTL)
	r := get(c, url)
	wantKind(t, r, "")
	if r.Status != 200 || fake.calls.Load() != 2 {
		t.Errorf("status %d, %d lookups; want 200 after 2", r.Status, fake.calls.Load())
	}
}
