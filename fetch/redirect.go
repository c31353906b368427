package fetch

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/fanout/fanout/internal/ipv4"
)

// maxRedirectURL is the longest URL a redirect is followed to, the same as
// the longest input line (input.MaxLineBytes): every hop's URL is kept in
// the result, and servers refuse much shorter request lines anyway.
const maxRedirectURL = 8 << 10

// follow runs the redirect chain from first, t's URL or its http form,
// filling r, and returns the trace of the last hop, through tr. abort
// cancels ctx, the attempt's.
func (c *Client) follow(ctx context.Context, abort func(), tr *http.Transport, r *Result, t *Target, first string) (*hopTrace, error) {
	method, body := c.method, c.o.Body
	r.Method = method
	originKey := "" // scheme://host:port of first, computed at the first redirect
	cur, sameOrigin := first, true
	visited := []string{method + " " + first} // the requests made, to tell a loop
	for {
		ht := newHopTrace(abort)
		ht.body = body != nil
		hctx := httptrace.WithClientTrace(ctx, &ht.ct)
		if strings.HasPrefix(cur, "https:") {
			hctx = context.WithValue(hctx, certHopKey{}, ht)
			if c.mayTunnel {
				hctx = context.WithValue(hctx, hopKey{}, ht)
			}
		}
		if c.envSOCKS {
			hctx = context.WithValue(hctx, hopKey{}, ht)
		}
		req, err := c.newRequest(hctx, method, cur, body, sameOrigin)
		if err != nil {
			return ht, err
		}
		if c.o.Prepare != nil && sameOrigin {
			if err := c.prepare(req, t); err != nil {
				return ht, err
			}
		}
		r.FinalURL = cur
		resp, err := tr.RoundTrip(req)
		if err != nil {
			return ht, err
		}
		c.record(r, resp)
		ht.markResponse()
		if resp.StatusCode < 100 {
			// net/http takes any three digits; a status below 100 is not
			// HTTP, and as 0 it would pass for "no response" without an
			// error.
			_ = resp.Body.Close()
			return ht, &kindError{kind: KindProtocol,
				msg: fmt.Sprintf("invalid status code %03d", resp.StatusCode)}
		}
		if resp.StatusCode == http.StatusSwitchingProtocols {
			// What follows a 101 is not HTTP: its Body is the raw
			// connection, which the transport no longer closes when the
			// attempt's context ends, so reading it could wait as long as
			// the server likes. Close it unread.
			_ = resp.Body.Close()
			if req.Header.Get("Upgrade") != "" {
				return ht, nil // asked for with -H Upgrade: the 101 is the answer
			}
			return ht, &kindError{kind: KindProtocol,
				msg: "server switched protocols (101) without being asked to"}
		}
		loc := resp.Header.Get("Location")
		if loc == "" || !isRedirect(resp.StatusCode) {
			return ht, c.readFinal(r, resp, ht, true)
		}
		// Every response that redirects is listed, followed or not: with
		// --no-follow, a redirect loop or a bad Location, the last entry
		// is also the final response.
		r.Redirects = append(r.Redirects, Hop{URL: cur, Status: resp.StatusCode})
		next, err := resp.Request.URL.Parse(loc)
		if err == nil {
			next.RawQuery = escapeQuery(next.RawQuery)
		}
		// Where it points, in case the chain ends here; a followed hop
		// clears it.
		r.Location = loc
		if err == nil {
			r.Location = next.String()
		}
		size := len(r.Location) // of the URL that would be requested: no fragment
		if err == nil && next.Fragment != "" {
			u := *next
			u.Fragment, u.RawFragment = "", ""
			size = len(u.String())
		}
		long := size > maxRedirectURL
		r.Location = capText(r.Location, maxRedirectURL)
		if !c.o.Follow {
			return ht, c.readFinal(r, resp, ht, true)
		}
		if originKey == "" {
			originKey = resp.Request.URL.Scheme + "://" + HostPort(resp.Request.URL)
		}
		nextMethod, nextBody := redirectMethod(resp.StatusCode, method, body)
		var nextKey string
		if err == nil {
			next.Fragment, next.RawFragment = "", ""
			nextKey = nextMethod + " " + next.String()
		}
		switch {
		case err != nil:
			err = &kindError{kind: KindInvalidURL, msg: fmt.Sprintf("redirect to invalid location %q", loc)}
		case next.Scheme != "http" && next.Scheme != "https":
			err = &kindError{kind: KindInvalidURL, msg: fmt.Sprintf("redirect to unsupported scheme %q", next.Scheme)}
		case long:
			err = &kindError{kind: KindInvalidURL, msg: fmt.Sprintf("redirect to a URL of more than %d bytes (%d): not followed", maxRedirectURL, size)}
		case next.Hostname() == "":
			err = &kindError{kind: KindInvalidURL, msg: fmt.Sprintf("redirect to %q: empty host", loc)}
		case !validPort(next.Port()):
			// net/url takes any digits; a dial of port 0 or 99999 fails
			// as if refused, and would be retried.
			err = &kindError{kind: KindInvalidURL, msg: fmt.Sprintf("redirect to %q: port out of range", loc)}
		case ipv4.Ambiguous([]byte(strings.ToLower(next.Hostname()))):
			// Refused as an input line would be: resolvers disagree on
			// what it means, and Go's would look it up in DNS.
			err = &kindError{kind: KindInvalidURL, msg: fmt.Sprintf("redirect to %q: invalid ipv4 address (only the dotted-quad form, as 127.0.0.1, is followed)", loc)}
		case len(r.Redirects) > c.o.MaxRedirects:
			err = &kindError{kind: KindTooManyRedirects,
				msg: fmt.Sprintf("more than %d redirect%s (--max-redirects)", c.o.MaxRedirects, plural(c.o.MaxRedirects))}
		case slices.Contains(visited, nextKey):
			// The same request again, with no cookie jar to change its
			// answer: it would go round until --max-redirects.
			err = &kindError{kind: KindTooManyRedirects,
				msg: fmt.Sprintf("redirect loop: back to %s after %d redirect%s", next, len(r.Redirects), plural(len(r.Redirects)))}
		}
		if err == nil {
			err = gateHop(ctx, resp.Request.URL, next)
		}
		if err != nil {
			if rerr := c.readFinal(r, resp, ht, false); rerr != nil {
				return ht, rerr
			}
			return ht, err
		}
		if derr := discardBody(resp); derr != nil && ctx.Err() != nil {
			// The redirect's own body ran out the attempt's time: that is
			// where it ended, not at a next hop that was never asked.
			return ht, derr
		}
		r.Location = ""
		method, body = nextMethod, nextBody
		visited = append(visited, nextKey)
		cur = next.String()
		sameOrigin = next.Scheme+"://"+HostPort(next) == originKey
	}
}

// HopGate says why a redirect to a host (its HostKey) must not be
// followed, or "" when it may be. See WithHopGate.
type HopGate func(hostKey string) (why string)

type hopGateKey struct{}

// WithHopGate returns a context whose fetches ask gate before following a
// redirect to another host, and end at the redirect, with kind skipped and
// gate's answer, when it says no. The engine uses it so that a host it is
// skipping (--max-host-errors) gets no requests through other hosts'
// redirects either. gate is called from many goroutines at once.
func WithHopGate(ctx context.Context, gate HopGate) context.Context {
	return context.WithValue(ctx, hopGateKey{}, gate)
}

// gateHop asks the context's HopGate, if any, about a redirect from cur to
// next on another host.
func gateHop(ctx context.Context, cur, next *url.URL) error {
	gate, _ := ctx.Value(hopGateKey{}).(HopGate)
	if gate == nil {
		return nil
	}
	key := hostKey(next)
	if key == hostKey(cur) {
		return nil
	}
	if why := gate(key); why != "" {
		return &kindError{kind: KindSkipped, msg: fmt.Sprintf("redirect to %s not followed: %s", next, why)}
	}
	return nil
}

// validPort reports whether a URL's port (digits, as net/url checks) is
// empty or 1 to 65535.
func validPort(port string) bool {
	if port == "" {
		return true
	}
	n, err := strconv.Atoi(port)
	return err == nil && n >= 1 && n <= 65535
}

// HostPort returns u's lower-cased host, as written, with its port made
// explicit: the origin that -H credentials are kept to across redirects.
// A HostKey (HostKeyOf) is looser: it also unifies spellings of one host.
func HostPort(u *url.URL) string {
	return net.JoinHostPort(strings.ToLower(u.Hostname()), defaultPort(u))
}

func defaultPort(u *url.URL) string {
	if port := u.Port(); port != "" {
		return port
	}
	if u.Scheme == "https" {
		return "443"
	}
	return "80"
}

// HostKeyOf returns the HostKey input.Parse gives a target of rawURL (a
// normalised URL, as in Target.URL), or "" when it does not parse. It is
// for targets built by hand, which have none: whoever schedules or routes
// them by host derives the same key.
//
// The key names the host the requests reach, so spellings of one host
// share its per-host limits: an IP address in its canonical form, an
// IPv4-mapped IPv6 address ([::ffff:127.0.0.1]) as the IPv4 address it is
// dialled as, and a name without its trailing dot ("example.com." is
// example.com). The URL keeps what was written: it is the Host header the
// server sees.
func HostKeyOf(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return ""
	}
	return hostKey(u)
}

// hostKey is HostKeyOf for a parsed URL.
func hostKey(u *url.URL) string {
	host := strings.ToLower(u.Hostname())
	if a, err := netip.ParseAddr(host); err == nil {
		if a.Zone() == "" {
			host = a.Unmap().String()
		}
	} else {
		host = strings.TrimSuffix(host, ".")
	}
	return net.JoinHostPort(host, defaultPort(u))
}

// isRedirect reports whether a status redirects when it carries a
// Location (304 Not Modified and 305 Use Proxy do not).
func isRedirect(code int) bool {
	switch code {
	case 300, 301, 302, 303, 307, 308:
		return true
	}
	return false
}

// redirectMethod applies the browsers' (and Go's) rewriting: 303 turns
// anything but HEAD into GET, 301/302 turn anything but GET/HEAD into GET,
// both dropping the body; 307/308 keep method and body.
func redirectMethod(code int, method string, body []byte) (string, []byte) {
	switch code {
	case 307, 308:
		return method, body
	case 303:
		if method != http.MethodHead {
			return http.MethodGet, nil
		}
	default:
		if method != http.MethodGet && method != http.MethodHead {
			return http.MethodGet, nil
		}
	}
	return method, body
}

// newRequest builds one hop's request. Credentials (-H Authorization and
// Cookie, a -H Host) go only to the first URL's scheme, host and port.
func (c *Client) newRequest(ctx context.Context, method, rawURL string, body []byte, sameOrigin bool) (*http.Request, error) {
	var req *http.Request
	var err error
	if body != nil {
		req, err = http.NewRequestWithContext(ctx, method, rawURL, bytes.NewReader(body))
	} else {
		req, err = http.NewRequestWithContext(ctx, method, rawURL, nil)
	}
	if err != nil {
		return nil, &kindError{kind: KindInvalidURL, msg: fmt.Sprintf("invalid URL %q", rawURL), err: err}
	}
	if s := req.URL.Scheme; (s != "http" && s != "https") || req.URL.Hostname() == "" {
		return nil, &kindError{kind: KindInvalidURL, msg: fmt.Sprintf("invalid URL %q: want an absolute http or https URL", rawURL)}
	}
	if !validPort(req.URL.Port()) {
		return nil, &kindError{kind: KindInvalidURL, msg: fmt.Sprintf("invalid URL %q: port out of range", rawURL)}
	}
	cross, withBody := 1, 0
	if sameOrigin {
		cross = 0
		if c.host != "" {
			req.Host = c.host
		}
	}
	if body != nil {
		withBody = 1
	}
	req.Header = c.headers[cross][withBody]
	if u := req.URL.User; u != nil {
		// As curl and http.Client do: credentials in the URL become Basic
		// auth unless -H gave an Authorization.
		if _, ok := req.Header["Authorization"]; !ok {
			pass, _ := u.Password()
			req.Header = req.Header.Clone()
			req.SetBasicAuth(u.Username(), pass)
		}
	}
	return req, nil
}

// prepare hands req to Options.Prepare. Its error ends the attempt with
// kind local, Permanent: the caller's code refused, not the target, and
// would refuse again.
func (c *Client) prepare(req *http.Request, t *Target) error {
	// The header maps newRequest gives are shared by every request.
	req.Header = req.Header.Clone()
	// A copy for the hook, which the compiler cannot see into: handed t
	// itself, every Fetch's Target moved to the heap, Prepare set or not.
	tc := *t
	if err := c.o.Prepare(req, &tc); err != nil {
		return &kindError{kind: KindLocal, permanent: true, noFallback: true, err: err,
			msg: fmt.Sprintf("not sent: Options.Prepare: %v", err)}
	}
	return nil
}

// escapeQuery percent-encodes the bytes of a redirect's query that may not
// appear raw in a URL (non-ASCII, a space and any of "<>\^`{|}), as input
// lines are normalised (browsers and curl escape the space, the quote, the
// angle brackets and non-ASCII, and leave the rest). net/url keeps a
// query as written, and net/http would send a space in it as is, breaking
// the request line (a strict server answers 400) and the URL in the output.
func escapeQuery(q string) string {
	const escaped, upperHex = " \"<>\\^`{|}", "0123456789ABCDEF"
	var b []byte
	for i := 0; i < len(q); i++ {
		c := q[i]
		if c < utf8.RuneSelf && strings.IndexByte(escaped, c) < 0 {
			if b != nil {
				b = append(b, c)
			}
			continue
		}
		if b == nil {
			b = append(make([]byte, 0, len(q)+16), q[:i]...)
		}
		b = append(b, '%', upperHex[c>>4], upperHex[c&15])
	}
	if b == nil {
		return q
	}
	return string(b)
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
