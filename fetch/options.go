package fetch

import (
	"cmp"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/net/http/httpguts"
	"golang.org/x/net/http/httpproxy"
	"golang.org/x/net/idna"
)

// Version is fanout's version, sent in the default User-Agent. The CLI sets
// it (or the linker does, with -ldflags "-X ...fetch.Version=v1.2.3").
var Version = "dev"

// MaxHeaderBytes caps a response's header bytes; a reply with more ends
// its attempt as a protocol error. It is what browsers allow (Chromium's
// 256 KiB), since every request in flight may hold that much: net/http's
// default, 1 MiB, let a thousand hostile replies at once take a gigabyte.
const MaxHeaderBytes = 256 << 10

// Options configure how each request is made. Zero values are not
// defaults: start from DefaultOptions.
type Options struct {
	// Method is the request method; "" means GET, or POST when Body is not
	// nil (curl's -d rule).
	Method string
	// Header holds extra request headers (-H). They override the defaults
	// (User-Agent, Accept, Accept-Encoding); a header given with an empty
	// value removes that default. A Host header sets the request's host.
	Header http.Header
	// Body is the request body (-d), nil for none.
	Body []byte
	// UserAgent is sent as User-Agent; "" sends none.
	UserAgent string
	// Proxy is "" to use the environment (HTTP_PROXY, HTTPS_PROXY,
	// NO_PROXY), or an http://, https:// or socks5:// proxy URL.
	Proxy string
	// Insecure skips TLS certificate verification (-k).
	Insecure bool
	// RootCAs, if set, are the certificate authorities trusted instead of
	// the system's (--cacert: a private CA).
	RootCAs *x509.CertPool
	// ClientCert, if set, is presented to servers that ask for a client
	// certificate (--cert, --key: mutual TLS).
	ClientCert *tls.Certificate
	// Resolve pins host:port pairs to addresses (--resolve).
	Resolve []Resolve
	// HTTP1 disables HTTP/2 (--http1.1).
	HTTP1 bool
	// Follow makes Fetch follow redirects.
	Follow bool
	// MaxRedirects is how many redirects are followed at most; a further
	// one ends the target with error kind too_many_redirects.
	MaxRedirects int
	// MaxBody caps the decoded body bytes read, and the raw bytes read
	// (with a margin of MaxBody/64 + 4 KiB, as encoding can grow a body).
	// A body longer than that is cut and marked truncated.
	MaxBody int64
	// Timeout bounds one attempt: every hop, headers and body included.
	Timeout time.Duration
	// ConnectTimeout bounds name resolution plus TCP connect, and
	// separately the TLS handshake (a bare host's to half Timeout when
	// that is shorter, so that its http fallback has the rest).
	ConnectTimeout time.Duration
	// NoFallback makes bare hosts try https only, never http.
	NoFallback bool
	// SaveDir, when not "", is the directory each final response's body is
	// saved to as it is read (decoded, at most MaxBody bytes: the bytes
	// Result.BodySHA256 hashes), named after its hash: SaveDir/ab/abcdef...
	// A body is written to a temporary file in SaveDir and renamed once it
	// is whole, so a name never holds part of a body; identical bodies are
	// stored once; a body whose read failed, or an empty one, is not saved.
	// See Result.Saved and Error.Save. Validate checks that the directory
	// can be made or written; NewClient makes it.
	SaveDir string
	// ResponseHeaders makes each Result carry its last response's headers
	// in Result.Header (--response-headers). Off, a result costs nothing
	// more.
	ResponseHeaders bool
	// Prepare, if set, is called with each attempt's request just before
	// it is sent, and may change its header: a token per host, a
	// signature. t is the target fetched, not to be changed. It is called
	// again for each redirect hop back to the origin of the attempt's
	// first request (the same scheme, host and port), the hops that keep
	// an Authorization given in Header, and never for a hop to another
	// origin: a token meant for the target's host would go to whatever
	// host the redirect names (curl and net/http drop Authorization there
	// for the same reason). A bare host's http fallback is a new first
	// request, in cleartext: a Prepare that adds a secret should look at
	// req.URL.Scheme (t.URL still says https there). An error from
	// Prepare ends the target, unsent, with kind local, Error.Permanent
	// set: it is not retried, and does not count against the host.
	// Prepare is called from many goroutines at once.
	Prepare func(req *http.Request, t *Target) error
	// MaxIdle and MaxIdlePerHost bound the keep-alive pool, overall and
	// per host; 0 means 2048 and 64. The engine sizes them from its
	// concurrency: a pool smaller than the requests in flight to one host
	// closes and redials a connection for most of them.
	MaxIdle, MaxIdlePerHost int
	// Match lists strings the final response's body must each contain
	// (--match): byte-exact, searched in the decoded body as it is read,
	// within the MaxBody bytes read. A body that lacks one ends the target
	// with error kind mismatch, its status kept. Only responses whose
	// status MatchStatus accepts are searched.
	Match []string
	// MatchStatus says which statuses' bodies Match is for (the CLI's
	// --accept: a 404 page stays a plain 404); nil means every status.
	MatchStatus func(status int) bool
}

// DefaultOptions returns the options fanout uses when no flag says
// otherwise.
func DefaultOptions() Options {
	return Options{
		UserAgent:      "fanout/" + Version,
		Follow:         true,
		MaxRedirects:   10,
		MaxBody:        1 << 20,
		Timeout:        10 * time.Second,
		ConnectTimeout: 5 * time.Second,
	}
}

// Validate reports every problem in o, each a *FieldError naming the
// field at fault, joined with errors.Join. It returns nil when o is usable.
// It checks that SaveDir can be written, or made (NewClient makes it).
func (o Options) Validate() error {
	var errs []error
	if o.Method != "" && !httpguts.ValidHeaderFieldName(o.Method) {
		errs = append(errs, fieldError("Method", "%q is not a valid HTTP method", o.Method))
	}
	for name, values := range o.Header {
		if !httpguts.ValidHeaderFieldName(name) {
			errs = append(errs, fieldError("Header", "%q: invalid header name", name))
			continue
		}
		for _, v := range values {
			if !httpguts.ValidHeaderFieldValue(v) {
				// Not the value itself: it is often a credential, and
				// this goes to stderr and CI logs.
				i := badValueByte(v)
				errs = append(errs, fieldError("Header", "%q: the value has a control character %q at byte %d", name, v[i:i+1], i))
			}
		}
	}
	if !httpguts.ValidHeaderFieldValue(o.UserAgent) {
		errs = append(errs, fieldError("UserAgent", "%q: invalid header value", o.UserAgent))
	}
	if o.Proxy != "" {
		if _, err := parseProxy(o.Proxy); err != nil {
			errs = append(errs, err)
		}
	}
	for _, r := range o.Resolve {
		if err := r.validate(); err != nil {
			errs = append(errs, &FieldError{Field: "Resolve", Err: err})
		}
	}
	if o.MaxRedirects < 0 {
		errs = append(errs, fieldError("MaxRedirects", "must not be negative (got %d)", o.MaxRedirects))
	}
	if o.MaxBody < 0 {
		errs = append(errs, fieldError("MaxBody", "must not be negative (got %d)", o.MaxBody))
	}
	if o.Timeout <= 0 {
		errs = append(errs, fieldError("Timeout", "must be positive (got %v)", o.Timeout))
	}
	if o.ConnectTimeout <= 0 {
		errs = append(errs, fieldError("ConnectTimeout", "must be positive (got %v)", o.ConnectTimeout))
	}
	if o.SaveDir != "" {
		// Now, not at the first body: a run fetches nothing whose bodies
		// would have nowhere to go.
		if err := checkSaveDir(o.SaveDir); err != nil {
			errs = append(errs, err)
		}
	}
	if o.MaxIdle < 0 {
		errs = append(errs, fieldError("MaxIdle", "must not be negative (got %d)", o.MaxIdle))
	}
	if o.MaxIdlePerHost < 0 {
		errs = append(errs, fieldError("MaxIdlePerHost", "must not be negative (got %d)", o.MaxIdlePerHost))
	}
	if len(o.Match) > 0 && strings.EqualFold(o.Method, http.MethodHead) {
		errs = append(errs, fieldError("Match", "is for a body, and a HEAD request gets none: drop one or the other"))
	}
	if slices.Contains(o.Match, "") {
		errs = append(errs, fieldError("Match", "has an empty string, which is in every body: give the text the body must contain"))
	}
	return errors.Join(errs...)
}

// RequestMethod is the method a Client made from o sends first: Method,
// or POST with a Body (curl's -d rule), or GET.
func (o Options) RequestMethod() string {
	switch {
	case o.Method != "":
		return o.Method
	case o.Body != nil:
		return http.MethodPost
	}
	return http.MethodGet
}

// FieldError is a problem with one field of a configuration. Each error
// Validate joins is one, here and in engine.Config.Validate, so that a
// program can tell its users about the setting they know by another name:
// the CLI reports the flag that sets the field, with the same Err.
type FieldError struct {
	// Field is the field at fault as a Go program writes it, from the
	// value validated: "Timeout" in Options, "Request.Timeout" or
	// "Limits.Concurrency" in engine.Config.
	Field string
	// Err says what is wrong with the field, without naming it: "must be
	// positive (got 0s)".
	Err error
}

// Error names the field, then what is wrong with it.
func (e *FieldError) Error() string { return e.Field + " " + e.Err.Error() }

// Unwrap returns Err.
func (e *FieldError) Unwrap() error { return e.Err }

// fieldError returns a *FieldError for field, its Err formatted from
// format and a. Every check calls it with the field's name as a literal,
// or builds a FieldError with Field set to a literal: that is how
// internal/cli's test finds every field it must have a flag for.
func fieldError(field, format string, a ...any) error {
	return &FieldError{Field: field, Err: fmt.Errorf(format, a...)}
}

// parseProxy checks Options.Proxy (-x/--proxy) and returns it parsed. Its
// errors show the URL without its password (shownProxy).
func parseProxy(s string) (*url.URL, error) {
	u, err := parseProxyURL(s, false)
	if err != nil {
		return nil, &FieldError{Field: "Proxy", Err: err}
	}
	return u, nil
}

// parseProxyURL parses and checks proxy URL s; its errors begin with s,
// password hidden, for the caller to put the setting's name before. env
// (s is from an environment variable) reads s as net/http reads the
// environment: a value without a scheme or a host is http://s.
func parseProxyURL(s string, env bool) (*url.URL, error) {
	u, err := url.Parse(s)
	if env && (err != nil || u.Scheme == "" || u.Host == "") {
		if v, verr := url.Parse("http://" + s); verr == nil {
			u, err = v, nil
		}
	}
	if err != nil {
		// url.Error quotes the whole URL.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("%q: %v", shownProxy(s), err)
	}
	switch u.Scheme {
	case "http", "https", "socks5", "socks5h":
	default:
		return nil, fmt.Errorf("%q: scheme must be http, https or socks5", shownProxy(s))
	}
	if u.Host == "" {
		return nil, fmt.Errorf("%q: missing host", shownProxy(s))
	}
	// url.Parse takes any digits; a port out of range would fail every
	// target at dial time, as if the proxy had reset it.
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("%q: port out of range", shownProxy(s))
		}
	}
	// A proxy is a host and a port. A path is a typo that moved them
	// ("http//proxy:3128" is the host "http" with the path "//proxy:3128"):
	// every target would go to a proxy that does not exist, each failing
	// as if the sites were down.
	if u.Path != "" && u.Path != "/" || u.RawQuery != "" {
		return nil, fmt.Errorf("%q: not a proxy URL (want scheme://host:port)", shownProxy(s))
	}
	return u, nil
}

// envProxy is the environment's proxy configuration as fetch reads it:
// net/http's (HTTPS_PROXY, HTTP_PROXY, NO_PROXY, the upper-case name
// first, HTTP_PROXY ignored in a CGI program), and as curl does, ALL_PROXY
// (or all_proxy) for a scheme that has no proxy of its own. It is read
// when a Client is made (net/http's ProxyFromEnvironment reads it once
// for the process).
func envProxy() *httpproxy.Config {
	c := httpproxy.FromEnvironment()
	all := cmp.Or(os.Getenv("ALL_PROXY"), os.Getenv("all_proxy"))
	if all == "" {
		return c
	}
	if c.HTTPSProxy == "" {
		c.HTTPSProxy = all
	}
	if c.HTTPProxy == "" && os.Getenv("REQUEST_METHOD") == "" {
		c.HTTPProxy = all
	}
	return c
}

// envProxies checks the proxies the environment names, those fetch will
// use (the upper-case name first): the first error names its variable.
func envProxies() error {
	for _, n := range [...]string{"NO_PROXY", "no_proxy"} {
		if v := os.Getenv(n); v != "" {
			if v == "*" {
				return nil // no proxy is ever used: a bad one stops nothing
			}
			break
		}
	}
	c, all := envProxy(), cmp.Or(os.Getenv("ALL_PROXY"), os.Getenv("all_proxy"))
	for _, names := range [...][2]string{{"HTTPS_PROXY", "https_proxy"}, {"HTTP_PROXY", "http_proxy"}, {"ALL_PROXY", "all_proxy"}} {
		if names[0] == "ALL_PROXY" && c.HTTPSProxy != all && c.HTTPProxy != all {
			continue // not used: both schemes have a proxy of their own
		}
		for _, name := range names {
			if v := os.Getenv(name); v != "" {
				if _, err := parseProxyURL(v, true); err != nil {
					return fmt.Errorf("$%s %w", name, err)
				}
				break
			}
		}
	}
	return nil
}

// badValueByte returns the offset of the first byte of v that
// httpguts.ValidHeaderFieldValue refuses (a control character other than
// tab, or DEL), or 0 when there is none.
func badValueByte(v string) int {
	for i := 0; i < len(v); i++ {
		if b := v[i]; b < ' ' && b != '\t' || b == 0x7f {
			return i
		}
	}
	return 0
}

// shownProxy is a proxy URL for messages: its password, if it has one, is
// "xxxxx", as url.URL.Redacted writes it, also when s does not parse (then
// everything between the first ':' after "://" and the last '@' is the
// password).
func shownProxy(s string) string {
	// A value without "//" (user:pw@host:port, no scheme) parses with
	// "user" as its scheme and the password in Opaque, which Redacted
	// leaves alone.
	if u, err := url.Parse(s); err == nil && u.Opaque == "" {
		return u.Redacted()
	}
	start := 0
	if i := strings.Index(s, "://"); i >= 0 {
		start = i + len("://")
	}
	at := strings.LastIndex(s, "@")
	if at < start {
		return s
	}
	user, _, ok := strings.Cut(s[start:at], ":")
	if !ok {
		return s
	}
	return s[:start] + user + ":xxxxx" + s[at:]
}

// Resolve is one curl-style --resolve entry, HOST:PORT:ADDR[,ADDR...]:
// connections to Host:Port go to the listed addresses, in order, instead of
// the resolver's answer. Host may be "*" to match any host on that port.
type Resolve struct {
	// Host is the host name as in the URL, matched without regard to case,
	// or "*" for any host on Port. An IPv6 host is written without
	// brackets.
	Host string
	// Port is the TCP port, 1 to 65535; an entry for 443 does not cover
	// the same host on 80.
	Port int
	// Addrs are IP literals, without brackets, tried in order; at least
	// one.
	Addrs []string
}

// ParseResolve parses a --resolve entry such as "example.com:443:127.0.0.1"
// or "*:80:[::1],127.0.0.1". Addresses must be IP literals; IPv6 ones may be
// bracketed. A leading "+" (curl's "time out this entry") is accepted and
// ignored; curl's "-" removal form is rejected.
func ParseResolve(s string) (Resolve, error) {
	bad := func(why string) (Resolve, error) {
		return Resolve{}, fmt.Errorf("--resolve %q: %s", s, why)
	}
	rest := strings.TrimPrefix(s, "+")
	if strings.HasPrefix(rest, "-") {
		return bad("removing entries is not supported")
	}
	var host string
	if strings.HasPrefix(rest, "[") {
		end := strings.IndexByte(rest, ']')
		if end < 0 {
			return bad("missing ] after IPv6 host")
		}
		host, rest = rest[1:end], rest[end+1:]
		if !strings.HasPrefix(rest, ":") {
			return bad("want HOST:PORT:ADDR[,ADDR...]")
		}
		rest = rest[1:]
	} else {
		i := strings.IndexByte(rest, ':')
		if i < 0 {
			return bad("want HOST:PORT:ADDR[,ADDR...]")
		}
		host, rest = rest[:i], rest[i+1:]
	}
	portStr, addrs, ok := strings.Cut(rest, ":")
	if !ok {
		return bad("want HOST:PORT:ADDR[,ADDR...]")
	}
	r := Resolve{Host: strings.ToLower(host)}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return bad(fmt.Sprintf("invalid port %q", portStr))
	}
	r.Port = port
	for a := range strings.SplitSeq(addrs, ",") {
		a = strings.TrimSpace(a)
		if a == "" {
			continue
		}
		r.Addrs = append(r.Addrs, strings.TrimSuffix(strings.TrimPrefix(a, "["), "]"))
	}
	if err := r.validate(); err != nil {
		return Resolve{}, fmt.Errorf("--resolve %w", err)
	}
	return r, nil
}

// validate checks an entry built by hand or by ParseResolve. Its errors
// begin with the entry, for the caller to put the setting's name before.
func (r Resolve) validate() error {
	name := r.Host + ":" + strconv.Itoa(r.Port)
	if r.Host == "" {
		return fmt.Errorf("%q: empty host", name)
	}
	if _, err := resolveHost(r.Host); err != nil {
		return fmt.Errorf("%q: not a host name: %v", name, err)
	}
	if r.Port < 1 || r.Port > 65535 {
		return fmt.Errorf("%q: port %d out of range 1-65535", name, r.Port)
	}
	if len(r.Addrs) == 0 {
		return fmt.Errorf("%q: no address", name)
	}
	for _, a := range r.Addrs {
		if net.ParseIP(a) == nil {
			return fmt.Errorf("%q: invalid address %q (want an IP address)", name, a)
		}
	}
	return nil
}

// resolveHost is the form of a --resolve entry's host that the dial is
// asked for: lower case, and an international name in punycode, as input
// turns a target's host (an entry for "bücher.test" would otherwise never
// match, and its lookups would go to DNS).
func resolveHost(host string) (string, error) {
	host = strings.ToLower(host)
	for i := 0; i < len(host); i++ {
		if host[i] >= utf8.RuneSelf {
			return idna.Lookup.ToASCII(host)
		}
	}
	return host, nil
}
