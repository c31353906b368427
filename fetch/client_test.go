package fetch

import (
	"bufio"
	"context"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestFetchStatuses(t *testing.T) {
	t.Parallel()
	ts := serve(t, func(w http.ResponseWriter, r *http.Request) {
		code, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/"))
		w.Header().Set("Server", "test/1")
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(code)
		if code != 204 && code != 304 {
			fmt.Fprint(w, "hello")
		}
	})
	c := newTestClient(t, nil)
	for _, code := range []int{200, 201, 204, 304, 404, 429, 500, 503} {
		r := get(c, ts.URL+"/"+strconv.Itoa(code))
		wantKind(t, r, "")
		if r.Status != code {
			t.Errorf("status = %d, want %d", r.Status, code)
		}
		if r.Seq != 7 || r.Input != ts.URL+"/"+strconv.Itoa(code) || r.Attempts != 1 || r.StartedAt.IsZero() {
			t.Errorf("%d: seq/input/attempts/started_at not set: %+v", code, r)
		}
		if r.Proto != "HTTP/1.1" || r.Method != "GET" || r.Server != "test/1" || r.IP != "127.0.0.1" {
			t.Errorf("%d: proto %q method %q server %q ip %q", code, r.Proto, r.Method, r.Server, r.IP)
		}
		wantBytes := int64(5)
		if code == 204 || code == 304 {
			wantBytes = 0
		}
		if r.Bytes != wantBytes || (wantBytes == 0) != (r.BodySHA256 == "") {
			t.Errorf("%d: bytes %d sha %q, want %d bytes", code, r.Bytes, r.BodySHA256, wantBytes)
		}
	}
}

func TestRequestHeaders(t *testing.T) {
	t.Parallel()
	got := make(chan *http.Request, 1)
	ts := serve(t, func(w http.ResponseWriter, r *http.Request) { got <- r })
	tests := []struct {
		name   string
		mod    func(*Options)
		check  func(r *http.Request) string
		method string
	}{
		{"defaults", nil, func(r *http.Request) string {
			return r.Header.Get("User-Agent") + "|" + r.Header.Get("Accept") + "|" + r.Header.Get("Accept-Encoding")
		}, "GET"},
		{"override and remove", func(o *Options) {
			o.Header = http.Header{"User-Agent": {"custom"}, "Accept": {""}, "X-A": {"1"}, "Host": {"vhost.test"}}
		}, func(r *http.Request) string {
			return r.Header.Get("User-Agent") + "|" + strings.Join(r.Header["Accept"], ",") + "|" + r.Header.Get("X-A") + "|" + r.Host
		}, "GET"},
		{"no user agent", func(o *Options) { o.UserAgent = "" }, func(r *http.Request) string {
			return strings.Join(r.Header["User-Agent"], ",")
		}, "GET"},
		{"body means POST", func(o *Options) { o.Body = []byte("x=1") }, func(r *http.Request) string {
			return r.Header.Get("Content-Type")
		}, "POST"},
		{"explicit method", func(o *Options) { o.Method = "PUT"; o.Body = []byte("x") }, func(*http.Request) string { return "" }, "PUT"},
	}
	want := []string{
		"fanout/" + Version + "|*/*|gzip, deflate, br, zstd",
		"custom||1|vhost.test",
		"",
		"application/x-www-form-urlencoded",
		"",
	}
	for i, tt := range tests {
		c := newTestClient(t, tt.mod)
		res := get(c, ts.URL)
		wantKind(t, res, "")
		r := <-got
		if s := tt.check(r); s != want[i] || r.Method != tt.method || res.Method != tt.method {
			t.Errorf("%s: got %q %s (result %s), want %q %s", tt.name, s, r.Method, res.Method, want[i], tt.method)
		}
	}
}

func TestContentLengthAndRetryAfter(t *testing.T) {
	t.Parallel()
	ts := serve(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/chunked":
			w.Write([]byte("a"))
			w.(http.Flusher).Flush()
			w.Write([]byte("b"))
		case "/busy":
			w.Header().Set("Retry-After", "7")
			w.WriteHeader(http.StatusServiceUnavailable)
		default:
			w.Header().Set("Content-Length", "3")
			w.Write([]byte("abc"))
		}
	})
	c := newTestClient(t, nil)
	if r := get(c, ts.URL+"/chunked"); r.ContentLength != nil || r.Bytes != 2 {
		t.Errorf("chunked: content_length %v bytes %d, want nil and 2", r.ContentLength, r.Bytes)
	}
	if r := get(c, ts.URL+"/fixed"); r.ContentLength == nil || *r.ContentLength != 3 {
		t.Errorf("fixed: content_length %v, want 3", r.ContentLength)
	}
	if r := get(c, ts.URL+"/busy"); r.Status != 503 || r.RetryAfter != 7*time.Second {
		t.Errorf("busy: status %d retry-after %v, want 503 and 7s", r.Status, r.RetryAfter)
	}
}

func TestNetworkErrors(t *testing.T) {
	t.Parallel()
	hijack := func(write string, linger bool) *httptest.Server {
		return serve(t, func(w http.ResponseWriter, r *http.Request) {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err != nil {
				return
			}
			if linger {
				conn.(*net.TCPConn).SetLinger(0) // close sends RST
			}
			conn.Write([]byte(write))
			conn.Close()
		})
	}
	reset := hijack("", true)
	malformed := hijack("HTTP/1.1 abc\r\n\r\n", false)
	badHeader := hijack("HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", false)
	closed := hijack("", false)
	tests := []struct {
		name string
		url  string
		want ErrorKind
	}{
		{"refused", "http://" + freePort(t) + "/", KindRefused},
		{"dns", "http://nohost.invalid/", KindDNS},
		{"reset", reset.URL, KindReset},
		{"closed before response", closed.URL, KindReset},
		{"malformed status", malformed.URL, KindProtocol},
		{"malformed header", badHeader.URL, KindProtocol},
	}
	c := newTestClient(t, nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := get(c, tt.url)
			wantKind(t, r, tt.want)
			if r.Status != 0 || r.Error.Message == "" {
				t.Errorf("status %d message %q, want 0 and a message", r.Status, r.Error.Message)
			}
		})
	}
}

func TestInvalidAndCanceled(t *testing.T) {
	t.Parallel()
	c := newTestClient(t, nil)
	r := c.Fetch(context.Background(), Target{Seq: 3, Input: "::", Invalid: "missing host"})
	wantKind(t, r, KindInvalidURL)
	if r.Seq != 3 || r.Input != "::" || r.Error.Message != "missing host" {
		t.Errorf("invalid target: %+v", r)
	}
	for _, u := range []string{"", "http://[::1", "ftp://example.invalid/", "/relative", "http://"} {
		r := c.Fetch(context.Background(), Target{Input: u, URL: u})
		wantKind(t, r, KindInvalidURL)
	}
	ts := serve(t, func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	r = c.Fetch(ctx, Target{URL: ts.URL})
	wantKind(t, r, KindCanceled)
}

func TestTimeouts(t *testing.T) {
	t.Parallel()
	ts := serve(t, func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		switch r.URL.Path {
		case "/silent":
			<-ctx.Done()
		case "/trickle":
			w.Header().Set("Content-Type", "text/plain")
			for i := 0; i < 30 && ctx.Err() == nil; i++ {
				w.Write([]byte("x"))
				w.(http.Flusher).Flush()
				select {
				case <-ctx.Done():
				case <-time.After(time.Second):
				}
			}
		case "/endless":
			chunk := make([]byte, 32<<10)
			deadline := time.Now().Add(10 * time.Second)
			for ctx.Err() == nil && time.Now().Before(deadline) {
				if _, err := w.Write(chunk); err != nil {
					return
				}
			}
		}
	})
	const timeout = 400 * time.Millisecond
	c := newTestClient(t, func(o *Options) { o.Timeout = timeout; o.MaxBody = 1 << 40 })
	for _, tt := range []struct {
		path   string
		status int
	}{{"/silent", 0}, {"/trickle", 200}, {"/endless", 200}} {
		t.Run(tt.path, func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			r := get(c, ts.URL+tt.path)
			if took := time.Since(start); took > timeout+time.Second {
				t.Errorf("took %v, want under %v", took, timeout+time.Second)
			}
			wantKind(t, r, KindTimeout)
			if r.Status != tt.status {
				t.Errorf("status = %d, want %d", r.Status, tt.status)
			}
		})
	}
}

func TestTLS(t *testing.T) {
	t.Parallel()
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "<title>secure</title>")
	}))
	ts.EnableHTTP2 = true
	ts.StartTLS()
	t.Cleanup(ts.Close)
	// Handshakes under -race on a loaded machine can take a second: a
	// handshake timeout here would be the machine, not the certificate.
	client := func(mod func(*Options)) *Client {
		return newTestClient(t, func(o *Options) {
			o.ConnectTimeout, o.Timeout = 10*time.Second, 20*time.Second
			if mod != nil {
				mod(o)
			}
		})
	}

	r := get(client(nil), ts.URL)
	wantKind(t, r, KindTLS)
	if !strings.Contains(r.Error.Message, "--cacert FILE trusts a private CA; -k skips verification") {
		t.Errorf("unknown authority: message %q, want the way out", r.Error.Message)
	}
	// --cacert: the server's own (self-signed) certificate as the CA.
	pool := x509.NewCertPool()
	pool.AddCert(ts.Certificate())
	r = get(client(func(o *Options) { o.RootCAs = pool }), ts.URL)
	wantKind(t, r, "")
	if r.Status != 200 {
		t.Errorf("with its CA trusted: status %d", r.Status)
	}

	r = get(client(func(o *Options) { o.Insecure = true }), ts.URL)
	wantKind(t, r, "")
	if r.Status != 200 || r.Proto != "HTTP/2.0" || r.Title != "secure" || r.Timing.TLS <= 0 {
		t.Errorf("insecure: status %d proto %q title %q tls %vms", r.Status, r.Proto, r.Title, r.Timing.TLS)
	}
	r = get(client(func(o *Options) { o.Insecure = true; o.HTTP1 = true }), ts.URL)
	if r.Status != 200 || r.Proto != "HTTP/1.1" {
		t.Errorf("--http1.1: status %d proto %q, want 200 HTTP/1.1", r.Status, r.Proto)
	}
	// A bare host with a bad certificate reports tls; no fallback hides it.
	bare := Target{URL: ts.URL, Bare: true}
	r = client(nil).Fetch(context.Background(), bare)
	wantKind(t, r, KindTLS)
	if r.URL != ts.URL {
		t.Errorf("url = %q, want the https form %q", r.URL, ts.URL)
	}
}

func TestBareHostFallback(t *testing.T) {
	t.Parallel()
	ts := serve(t, func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "plain") })
	hostport := strings.TrimPrefix(ts.URL, "http://")
	target := Target{Input: hostport, URL: "https://" + hostport, Bare: true}
	r := newTestClient(t, nil).Fetch(context.Background(), target)
	wantKind(t, r, "")
	if r.URL != "http://"+hostport || r.Status != 200 || r.FinalURL != "http://"+hostport {
		t.Errorf("fallback: url %q final %q status %d, want http://%s 200", r.URL, r.FinalURL, r.Status, hostport)
	}
	r = newTestClient(t, func(o *Options) { o.NoFallback = true }).Fetch(context.Background(), target)
	if r.Error == nil || r.URL != "https://"+hostport {
		t.Errorf("no fallback: url %q error %+v, want an error on the https form", r.URL, r.Error)
	}
	// Nothing listening on the https port: fall back too (and fail again).
	refused := freePort(t)
	r = newTestClient(t, nil).Fetch(context.Background(), Target{URL: "https://" + refused, Bare: true})
	wantKind(t, r, KindRefused)
	if r.URL != "http://"+refused {
		t.Errorf("refused: url %q, want the http form", r.URL)
	}
}

// TestBareHostFallbackSilentOnTLS: a plain-http service that says nothing
// to a ClientHello (it waits for a whole request) is found out by the
// handshake's timeout, and a bare host falls back to http. With --timeout
// no longer than --connect-timeout the handshake took the whole attempt
// and the live service was reported as a timeout (found in review: with
// --timeout 5 and 3, while the defaults fell back).
func TestBareHostFallbackSilentOnTLS(t *testing.T) {
	t.Parallel()
	addr := connServer(t, loopback(t), func(c net.Conn) {
		br := bufio.NewReader(c)
		if b, err := br.Peek(1); err != nil || b[0] == 0x16 { // a TLS handshake record
			io.Copy(io.Discard, br) // silent until the client gives up
			return
		}
		if req, err := http.ReadRequest(br); err == nil {
			req.Body.Close()
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nplain")
		}
	})
	for _, tc := range []struct {
		name             string
		timeout, connect time.Duration
	}{
		{"timeout below connect timeout", 1500 * time.Millisecond, 5 * time.Second},
		{"timeout equal to it", 2 * time.Second, 2 * time.Second},
		{"timeout twice it", 2 * time.Second, time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := newTestClient(t, func(o *Options) { o.Timeout, o.ConnectTimeout = tc.timeout, tc.connect })
			r := c.Fetch(context.Background(), Target{Input: addr, URL: "https://" + addr, HostKey: addr, Bare: true})
			wantKind(t, r, "")
			if r.URL != "http://"+addr || r.Status != 200 || r.Bytes != 5 {
				t.Errorf("url %q status %d bytes %d, want the http form's 200", r.URL, r.Status, r.Bytes)
			}
			// A target with a scheme keeps --connect-timeout for its
			// handshake, and has no fallback.
			r = c.Fetch(context.Background(), Target{Input: "https://" + addr, URL: "https://" + addr, HostKey: addr})
			if r.Error == nil || r.URL != "https://"+addr {
				t.Errorf("with a scheme: url %q error %+v, want an error on the https form", r.URL, r.Error)
			}
		})
	}
}

func TestResolve(t *testing.T) {
	t.Parallel()
	if os.Getenv("HTTP_PROXY") != "" || os.Getenv("http_proxy") != "" {
		t.Skip("an HTTP proxy in the environment would receive site-a.test")
	}
	ts := serve(t, func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, r.Host) })
	port := portOf(t, ts.URL)
	p, _ := strconv.Atoi(port)
	for _, host := range []string{"site-a.test", "*"} {
		c := newTestClient(t, func(o *Options) {
			o.Resolve = []Resolve{{Host: host, Port: p, Addrs: []string{"127.0.0.1"}}}
		})
		r := get(c, "http://site-a.test:"+port+"/")
		wantKind(t, r, "")
		if r.Status != 200 || r.IP != "127.0.0.1" || r.Timing.DNS != 0 {
			t.Errorf("%s: status %d ip %q dns %v", host, r.Status, r.IP, r.Timing.DNS)
		}
	}

	// An international name, as given on the command line, pins the
	// punycode host that input makes of a target's: it never matched,
	// and the lookup went to DNS.
	rs, err := ParseResolve("Bücher.test:" + port + ":127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	c := newTestClient(t, func(o *Options) { o.Resolve = []Resolve{rs} })
	c.dial.lookupIP = func(_ context.Context, host string) ([]net.IPAddr, error) {
		t.Errorf("looked up %q", host)
		return nil, &net.DNSError{Err: "no lookups in this test", Name: host, IsNotFound: true}
	}
	r := get(c, "http://xn--bcher-kva.test:"+port+"/")
	wantKind(t, r, "")
	if r.Status != 200 || r.IP != "127.0.0.1" {
		t.Errorf("bücher.test: status %d ip %q", r.Status, r.IP)
	}
	if _, err := ParseResolve("bü cher.test:443:127.0.0.1"); err == nil || !strings.Contains(err.Error(), "not a host name") {
		t.Errorf("a host no lookup could make: %v, want an error", err)
	}
}

// A --resolve entry pins its name with or without a trailing dot, as the
// HostKey takes them for one host: a miss went to DNS, which --resolve is
// there to avoid.
func TestResolveTrailingDot(t *testing.T) {
	t.Parallel()
	ts := serve(t, func(w http.ResponseWriter, r *http.Request) {})
	port := portOf(t, ts.URL)
	for _, tc := range []struct{ entry, host string }{
		{"dot.test", "dot.test."},
		{"dot.test.", "dot.test"},
		{"Dot.Test.", "dot.test."},
	} {
		rs, err := ParseResolve(tc.entry + ":" + port + ":127.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		c := newTestClient(t, func(o *Options) { o.Resolve = []Resolve{rs} })
		c.dial.lookupIP = func(_ context.Context, host string) ([]net.IPAddr, error) {
			t.Errorf("--resolve %s: looked up %q", tc.entry, host)
			return nil, &net.DNSError{Err: "no lookups in this test", Name: host, IsNotFound: true}
		}
		r := get(c, "http://"+tc.host+":"+port+"/")
		wantKind(t, r, "")
		if r.Status != 200 || r.IP != "127.0.0.1" {
			t.Errorf("--resolve %s, host %s: status %d ip %q", tc.entry, tc.host, r.Status, r.IP)
		}
	}
}

func TestProxy(t *testing.T) {
	t.Parallel()
	px := serve(t, func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "proxied %s", r.URL) // a forward proxy sees the absolute URL
	})
	c := newTestClient(t, func(o *Options) { o.Proxy = px.URL })
	r := get(c, "http://site-b.test/page")
	wantKind(t, r, "")
	if r.Status != 200 || r.Bytes != int64(len("proxied http://site-b.test/page")) {
		t.Errorf("status %d bytes %d", r.Status, r.Bytes)
	}
}

// A proxy that refuses the tunnel for an https target: the connection is
// refused, and the message names the proxy (without its password), the
// target and the proxy's status. It was kind other with the bare reason
// phrase.
func TestProxyRefusesTunnel(t *testing.T) {
	t.Parallel()
	px := serve(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodConnect {
			t.Errorf("proxy got %s %s, want CONNECT", r.Method, r.URL)
		}
		w.WriteHeader(http.StatusProxyAuthRequired)
	})
	u := strings.Replace(px.URL, "http://", "http://user:secret@", 1)
	c := newTestClient(t, func(o *Options) { o.Proxy = u })
	r := get(c, "https://secure.test/")
	wantKind(t, r, KindRefused)
	for _, want := range []string{"proxy http://user:xxxxx@", "secure.test:443", "407 Proxy Authentication Required"} {
		if !strings.Contains(r.Error.Message, want) {
			t.Errorf("message %q does not say %q", r.Error.Message, want)
		}
	}
	if strings.Contains(r.Error.Message, "secret") {
		t.Errorf("message %q shows the proxy's password", r.Error.Message)
	}
	if !r.Error.Permanent {
		t.Error("a proxy's 407 is not Permanent: every retry would be refused alike")
	}
	// A bare host does not fall back to http through the proxy that
	// refused its https: that would hide the refusal behind plain text.
	b := c.Fetch(context.Background(), Target{Input: "secure.test", URL: "https://secure.test/", HostKey: "secure.test:443", Bare: true})
	if kindOf(b) != KindRefused || b.FinalURL != "https://secure.test/" {
		t.Errorf("bare host: kind %q, final_url %q; want refused at https://secure.test/", kindOf(b), b.FinalURL)
	}
}

func TestTimingAndReuse(t *testing.T) {
	t.Parallel()
	ts := serve(t, func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(5 * time.Millisecond)
		fmt.Fprint(w, "hello")
	})
	c := newTestClient(t, nil)
	first := get(c, ts.URL)
	second := get(c, ts.URL)
	for i, r := range []Result{first, second} {
		tm := r.Timing
		if tm.DNS < 0 || tm.Connect < 0 || tm.TLS < 0 || tm.TTFB < 5 || tm.Transfer < 0 || tm.Total < tm.TTFB {
			t.Errorf("fetch %d: timing %+v", i, tm)
		}
	}
	if first.Timing.Connect <= 0 || second.Timing.Connect != 0 {
		t.Errorf("connect: first %v, second %v; want >0 then 0 on the reused connection",
			first.Timing.Connect, second.Timing.Connect)
	}
}

// TestBasicAuthFromURL checks that user:pass@ in the URL becomes Basic auth.
func TestBasicAuthFromURL(t *testing.T) {
	t.Parallel()
	ts := serve(t, func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "ann" || p != "pw" {
			w.WriteHeader(http.StatusUnauthorized)
		}
	})
	r := get(newTestClient(t, nil), strings.Replace(ts.URL, "://", "://ann:pw@", 1))
	if r.Status != 200 {
		t.Errorf("status = %d, want 200", r.Status)
	}
}

// TestAbortedResponse checks that a server abandoning a response mid-body
// is a reset over HTTP/1.1 (connection closed) and HTTP/2 (stream reset).
func TestAbortedResponse(t *testing.T) {
	t.Parallel()
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100")
		w.Write([]byte("partial"))
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler)
	})
	ts := httptest.NewUnstartedServer(h)
	ts.EnableHTTP2 = true
	ts.StartTLS()
	t.Cleanup(ts.Close)
	for _, http1 := range []bool{true, false} {
		c := newTestClient(t, func(o *Options) { o.Insecure = true; o.HTTP1 = http1 })
		r := get(c, ts.URL)
		wantKind(t, r, KindReset)
		if r.Status != 200 {
			t.Errorf("http1=%v: status %d, want 200 kept", http1, r.Status)
		}
	}
}

// TestSwitchingProtocols: a 101 makes the response body the raw connection,
// which the attempt's deadline does not close; a server that answers 101 and
// then holds the connection open must not hold the attempt past --timeout.
func TestSwitchingProtocols(t *testing.T) {
	// The connection is held, silent, after the 101 until the test ends.
	u := "http://" + rawReplyServer(t, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n", true) + "/"
	for _, tc := range []struct {
		name string
		hdr  map[string][]string
		want ErrorKind
	}{
		{"unasked", nil, KindProtocol},
		{"asked with -H Upgrade", map[string][]string{"Upgrade": {"websocket"}, "Connection": {"Upgrade"}}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newTestClient(t, func(o *Options) { o.Timeout = time.Second; o.Header = tc.hdr })
			start := time.Now()
			r := get(c, u)
			if d := time.Since(start); d > 3*time.Second {
				t.Fatalf("fetch took %v with a 1s timeout", d)
			}
			wantKind(t, r, tc.want)
			if r.Status != 101 {
				t.Errorf("status %d, want 101", r.Status)
			}
		})
	}
}

// A proxy that answers an https target's CONNECT with something that is not
// HTTP broke the protocol: it was kind other ("please report it"), while the
// same proxy answering a plain http request was protocol.
func TestProxyMalformedConnectReply(t *testing.T) {
	t.Parallel()
	addr := rawReplyServer(t, "SSH-2.0-OpenSSH_9.0\r\n\r\n", false)
	c := newTestClient(t, func(o *Options) { o.Proxy = "http://" + addr })
	for _, u := range []string{"https://secure.test/", "http://plain.test/"} {
		r := get(c, u)
		if kindOf(r) != KindProtocol {
			t.Errorf("%s through a proxy answering garbage: kind %q (%+v), want protocol", u, kindOf(r), r.Error)
		}
	}
}

// A status line with code 000 (or any below 100) is not HTTP: net/http
// accepts it, and status 0 without an error read as "no response" with
// nothing wrong, shown as ERR with no kind.
func TestStatusBelow100(t *testing.T) {
	t.Parallel()
	for _, code := range []string{"000", "099"} {
		addr := rawReplyServer(t, "HTTP/1.1 "+code+" Zero\r\nContent-Length: 0\r\n\r\n", false)
		r := get(newTestClient(t, nil), "http://"+addr+"/")
		if kindOf(r) != KindProtocol {
			t.Errorf("status %s: kind %q (status %d), want protocol", code, kindOf(r), r.Status)
		}
	}
}

// TestHTTPForm: the http form of a bare host's https URL, with the default
// port left out as input normalisation leaves it out ("127.0.0.1:80" came
// back as http://127.0.0.1:80/).
func TestHTTPForm(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"https://h.test/x?y", "http://h.test/x?y"},
		{"https://h.test:443/", "http://h.test/"},
		{"https://127.0.0.1:80/", "http://127.0.0.1/"},
		{"https://[::1]:80/a", "http://[::1]/a"},
		{"https://h.test:8443/", "http://h.test:8443/"},
	} {
		if got, ok := httpForm(tc.in); !ok || got != tc.want {
			t.Errorf("httpForm(%q) = %q, %v; want %q", tc.in, got, ok, tc.want)
		}
	}
	if _, ok := httpForm("http://h.test/"); ok {
		t.Error("httpForm of an http URL: ok")
	}
}
