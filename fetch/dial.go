package fetch

import (
	"context"
	"errors"
	"net"
	"net/http/httptrace"
	"strconv"
	"strings"
	"sync"
	"time"
)

// dnsCacheMax bounds the DNS cache so memory stays flat on inputs with
// millions of distinct hosts; past it an arbitrary settled entry is evicted.
const dnsCacheMax = 1 << 16

// How long the DNS cache keeps an answer. Go's resolver does not give the
// records' TTL, so these are fixed: long enough that a run over many paths
// of a host resolves it about once, short enough that a long-lived Client
// (an uptime checker, an always-on dist worker) sees a host move within
// minutes, and a name that did not exist yet resolve soon after it does.
// A lookup that failed otherwise (a resolver timeout) is not kept at all.
const (
	dnsTTL         = 5 * time.Minute  // addresses
	dnsNegativeTTL = 30 * time.Second // no such host
)

// minDialSlice is the least time one address gets when a host has several
// (as in net.Dialer, which gives each remaining address an equal share).
const minDialSlice = 2 * time.Second

// dialer opens TCP connections for the transport: --resolve entries first,
// then a per-client DNS cache (answers kept dnsTTL, "no such host"
// dnsNegativeTTL), then the addresses in order within one ConnectTimeout
// budget (name resolution included, as curl and net.Dialer count it).
type dialer struct {
	timeout    time.Duration
	resolve    map[string][]net.IP // "host:port" and "*:port"
	lookupIP   func(ctx context.Context, host string) ([]net.IPAddr, error)
	now        func() time.Time // the DNS cache's clock
	maxEntries int

	mu    sync.RWMutex
	cache map[string]*dnsEntry
}

// dnsEntry is one host's lookup. done is closed when ips, err and expires
// are set; concurrent misses for the same host wait on it instead of each
// asking the resolver.
type dnsEntry struct {
	done    chan struct{}
	ips     []net.IP
	err     error
	expires time.Time
}

// fresh reports whether e may answer at now: still being looked up (its
// waiters share that lookup), or settled and not yet expired.
func (e *dnsEntry) fresh(now func() time.Time) bool {
	select {
	case <-e.done:
		return now().Before(e.expires)
	default:
		return true
	}
}

func newDialer(o Options) *dialer {
	d := &dialer{
		timeout:    o.ConnectTimeout,
		lookupIP:   net.DefaultResolver.LookupIPAddr,
		now:        time.Now,
		maxEntries: dnsCacheMax,
		cache:      make(map[string]*dnsEntry),
	}
	if len(o.Resolve) > 0 {
		d.resolve = make(map[string][]net.IP, len(o.Resolve))
		for _, r := range o.Resolve {
			host, err := resolveHost(r.Host)
			if err != nil {
				continue // refused by Options.Validate
			}
			key := strings.TrimSuffix(host, ".") + ":" + strconv.Itoa(r.Port)
			for _, a := range r.Addrs {
				if ip := net.ParseIP(a); ip != nil {
					d.resolve[key] = append(d.resolve[key], ip)
				}
			}
		}
	}
	return d
}

// pinned returns the --resolve addresses for addr ("host:port"): an exact
// host match first, then a "*" entry for the port. A trailing dot is
// dropped on both sides: "name.example." is name.example (its HostKey is
// one), and a miss would ask DNS.
func (d *dialer) pinned(host, port string) []net.IP {
	if d.resolve == nil {
		return nil
	}
	if ips, ok := d.resolve[strings.TrimSuffix(strings.ToLower(host), ".")+":"+port]; ok {
		return ips
	}
	return d.resolve["*:"+port]
}

// Dial implements golang.org/x/net/proxy.Dialer, for the SOCKS dialer's
// connection to its proxy.
func (d *dialer) Dial(network, addr string) (net.Conn, error) {
	return d.DialContext(context.Background(), network, addr)
}

// DialContext connects to addr. The transport calls it with a context that
// keeps the request's values (and so its httptrace hooks) but not its
// cancellation; the dial is bounded by ConnectTimeout here.
func (d *dialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, &net.OpError{Op: "dial", Net: network, Err: err}
	}
	deadline := time.Now().Add(d.timeout)
	ips := d.pinned(host, port)
	if ips == nil {
		if ip := net.ParseIP(host); ip != nil {
			ips = []net.IP{ip}
		} else {
			ips, err = d.lookup(ctx, host, deadline)
			if err != nil {
				return nil, &net.OpError{Op: "dial", Net: network, Err: err}
			}
		}
	}
	var firstErr error
	for i, ip := range ips {
		remaining := time.Until(deadline)
		if remaining <= 0 {
			break
		}
		slice := remaining / time.Duration(len(ips)-i)
		if slice < minDialSlice {
			slice = min(minDialSlice, remaining)
		}
		nd := net.Dialer{Timeout: slice}
		c, err := nd.DialContext(ctx, network, net.JoinHostPort(ip.String(), port))
		if err == nil {
			return newWriteFirst(c), nil
		}
		// The first address's error, unless that one says only that this
		// machine could not try (an IPv6 address on a host without IPv6):
		// then what another address said of the target is more use.
		if firstErr == nil || localShortage(firstErr) && !localShortage(err) {
			firstErr = err
		}
		if ctx.Err() != nil {
			break
		}
	}
	if firstErr == nil {
		firstErr = &net.OpError{Op: "dial", Net: network, Err: &timeoutError{"connect timed out"}}
	}
	return nil, firstErr
}

// writeFirst is a connection whose reads wait for its first write (or its
// close), or at most writeFirstGrace. net/http reads a new HTTP/1
// connection from the moment it is made, and takes what arrives before the
// request is registered on it for an unsolicited reply on an idle
// connection: a server that speaks first (an SSH or SMTP banner) or closes
// at once failed the request at random, as protocol with
// "readLoopPeekFailLocked: %!w(<nil>)" or "http: server closed idle
// connection", instead of as the reply it is. Every exchange fetch makes
// over TCP (HTTP, TLS, a proxy's CONNECT, SOCKS) starts with the client
// writing, so no read is held back for long.
//
// The grace is for a connection dialled for a request that another one
// served first: it waits in the idle pool unwritten, and its reads are how
// net/http learns that the server closed it, instead of sending a later
// request into it.
type writeFirst struct {
	net.Conn
	wrote chan struct{}
	once  sync.Once
	grace *time.Timer
	// rec, while set, keeps the first bytes read: a SOCKS proxy's answers
	// to its handshake (see socksForward).
	rec *[]byte
}

// writeFirstGrace is how long a connection's reads wait for its first
// write: far longer than a request takes to be written once it has its
// connection, far shorter than a server keeps an unused one.
const writeFirstGrace = time.Second

func newWriteFirst(c net.Conn) *writeFirst {
	w := &writeFirst{Conn: c, wrote: make(chan struct{})}
	// The timer's func must not read grace, which is set after it starts.
	w.grace = time.AfterFunc(writeFirstGrace, func() { w.once.Do(w.open) })
	return w
}

func (c *writeFirst) open() { close(c.wrote) }

// openUsed opens the reads at the connection's first write or its close.
func (c *writeFirst) openUsed() {
	c.open()
	c.grace.Stop()
}

func (c *writeFirst) used() { c.once.Do(c.openUsed) }

func (c *writeFirst) Read(p []byte) (int, error) {
	<-c.wrote
	n, err := c.Conn.Read(p)
	if c.rec != nil {
		*c.rec = append(*c.rec, p[:min(n, maxSOCKSAnswer-len(*c.rec))]...)
	}
	return n, err
}

func (c *writeFirst) Write(p []byte) (int, error) {
	c.used()
	return c.Conn.Write(p)
}

func (c *writeFirst) Close() error {
	c.used()
	return c.Conn.Close()
}

// timeoutError is a net.Error that reports a timeout.
type timeoutError struct{ msg string }

func (e *timeoutError) Error() string   { return e.msg }
func (e *timeoutError) Timeout() bool   { return true }
func (e *timeoutError) Temporary() bool { return true }

// lookup returns host's addresses from the cache, resolving them once per
// dnsTTL (dnsNegativeTTL for a name that does not exist). A cache miss,
// an expired entry's included, reports DNSStart/DNSDone to the request's
// httptrace hooks; a hit reports nothing, so its dns time is zero.
func (d *dialer) lookup(ctx context.Context, host string, deadline time.Time) ([]net.IP, error) {
	d.mu.RLock()
	e := d.cache[host]
	d.mu.RUnlock()
	if e != nil {
		select {
		case <-e.done:
			if d.now().Before(e.expires) {
				return e.ips, e.err
			}
			e = nil // expired: entry replaces it, or finds its replacement
		default:
		}
	}
	trace := httptrace.ContextClientTrace(ctx)
	if trace != nil && trace.DNSStart != nil {
		trace.DNSStart(httptrace.DNSStartInfo{Host: host})
	}
	if e == nil {
		e = d.entry(host)
	}
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	var ips []net.IP
	var err error
	select {
	case <-e.done:
		ips, err = e.ips, e.err
	case <-ctx.Done():
		err = ctx.Err()
	case <-timer.C:
		err = &net.DNSError{Err: "lookup timed out", Name: host, IsTimeout: true}
	}
	if trace != nil && trace.DNSDone != nil {
		addrs := make([]net.IPAddr, len(ips))
		for i, ip := range ips {
			addrs[i] = net.IPAddr{IP: ip}
		}
		trace.DNSDone(httptrace.DNSDoneInfo{Addrs: addrs, Err: err})
	}
	return ips, err
}

// entry returns host's cache entry, creating it and starting its lookup
// when there is none or it has expired.
func (d *dialer) entry(host string) *dnsEntry {
	d.mu.Lock()
	defer d.mu.Unlock()
	old := d.cache[host]
	if old != nil && old.fresh(d.now) {
		return old
	}
	if old == nil && len(d.cache) >= d.maxEntries {
		for k, v := range d.cache {
			select {
			case <-v.done:
				delete(d.cache, k)
			default:
				continue
			}
			break
		}
	}
	e := &dnsEntry{done: make(chan struct{})}
	d.cache[host] = e
	go d.resolveEntry(host, e)
	return e
}

// resolveEntry runs one lookup, detached from any one request so that a
// request that gives up does not poison the entry for the others. Only
// definite answers stay cached, addresses for dnsTTL and "no such host" for
// dnsNegativeTTL; a failure such as a resolver timeout is dropped so the
// next attempt asks again.
func (d *dialer) resolveEntry(host string, e *dnsEntry) {
	ctx, cancel := context.WithTimeout(context.Background(), d.timeout)
	defer cancel()
	addrs, err := d.lookupIP(ctx, host)
	if err == nil && len(addrs) == 0 {
		err = &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	e.ips = make([]net.IP, len(addrs))
	for i, a := range addrs {
		e.ips[i] = a.IP
	}
	e.err = err
	var dnsErr *net.DNSError
	switch {
	case err == nil:
		e.expires = d.now().Add(dnsTTL)
	case errors.As(err, &dnsErr) && dnsErr.IsNotFound && !dnsErr.IsTimeout:
		e.expires = d.now().Add(dnsNegativeTTL)
	default:
		d.mu.Lock()
		if d.cache[host] == e {
			delete(d.cache, host)
		}
		d.mu.Unlock()
	}
	close(e.done)
}
