package input

import (
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/idna"

	"github.com/fanout/fanout/fetch"
)

// text lets the parser run on the reader's byte buffer without first
// copying each line into a string, so a duplicate line costs no allocation.
type text interface{ ~string | ~[]byte }

// Reasons shared by several code paths; others are built where they arise.
const (
	reasonTooLong     = "line longer than 8 KiB"
	reasonSpace       = "space in url"
	reasonControl     = "control character in url"
	reasonEmptyHost   = "empty host"
	reasonBlank       = "blank: no url given"
	reasonPortRange   = "port out of range"
	reasonBadIPv4     = "invalid ipv4 address"
	reasonBadIPv6     = "invalid ipv6 address"
	reasonBadEscape   = "invalid percent escape in path"
	reasonBadUserinfo = "invalid user info"
	reasonBadIDN      = "invalid international host name"

	reasonMistypedScheme = `mistyped scheme before "//"`
	reasonWrapped        = "url in quotes or brackets: give it bare"
	reasonMarkdown       = "markdown link: give the url alone"
	reasonBackslash      = `backslash before the path (browsers read it as "/")`
	reasonCIDR           = "cidr range: one target per line; expand it first (mapcidr, prips, nmap -sL), or write http://ADDR/N for that path"
	reasonLess           = `"<" in url (left from a <...> link or html): remove it`
	reasonGreater        = `">" in url (left from a <...> link or html): remove it`
	reasonRelative       = "relative path, not a url: write the full url (https://HOST/...)"
	reasonNoHostAfter    = `no host after "//": write the full url (https://HOST/...)`
)

// schemes of a parsed line; bare means the line had none and is fetched as
// https first.
const (
	kindBare = iota
	kindHTTP
	kindHTTPS
)

// parsed describes what normalize wrote after the caller's prefix: the URL,
// then the HostKey.
type parsed struct {
	urlLen  int // the URL's length; the HostKey follows it
	bare    bool
	invalid string
}

// Parse normalises one trimmed, non-empty, non-comment line into a Target
// (Seq left 0). A line that is not a usable http or https target comes back
// with Invalid set to a short lowercase reason; Parse never fails otherwise.
func Parse(line string) fetch.Target {
	var scratch [192]byte
	buf, p := normalize(scratch[:0], line)
	if p.invalid != "" {
		return fetch.Target{Input: line, Invalid: p.invalid}
	}
	return fetch.Target{
		Input:   line,
		URL:     string(buf[:p.urlLen]),
		Bare:    p.bare,
		HostKey: string(buf[p.urlLen:]),
	}
}

// normalize appends the normalised URL of line to dst, followed by its
// HostKey. When the line is invalid, dst comes back unchanged and the reason
// is set.
func normalize[T text](dst []byte, line T) ([]byte, parsed) {
	start := len(dst)
	out, p := appendTarget(dst, line)
	if p.invalid != "" {
		return dst[:start], p
	}
	p.urlLen -= start
	return out, p
}

// appendTarget does normalize's work; on failure it may leave partial output
// behind, which normalize discards.
func appendTarget[T text](dst []byte, line T) ([]byte, parsed) {
	var p parsed
	if reason := wrapped(line); reason != "" {
		p.invalid = reason
		return dst, p
	}
	if reason := relativePath(line); reason != "" {
		p.invalid = reason
		return dst, p
	}
	if reason := checkChars(line); reason != "" {
		p.invalid = reason
		return dst, p
	}
	kind, rest, reason := splitScheme(line)
	if reason != "" {
		p.invalid = reason
		return dst, p
	}
	p.bare = kind == kindBare

	// The authority ends at the first '/', '?' or '#'.
	end := 0
	for end < len(rest) && rest[end] != '/' && rest[end] != '?' && rest[end] != '#' {
		end++
	}
	auth, tail := rest[:end], rest[end:]
	if indexByte(auth, '\\') >= 0 {
		// Browsers read a backslash there as '/', ending the host:
		// "http://example.com\@evil.com/" is example.com to them and
		// evil.com to a parser that takes the rest as a user name.
		p.invalid = reasonBackslash
		return dst, p
	}
	userinfo, hasUser := auth[:0], false
	if at := lastIndexByte(auth, '@'); at >= 0 {
		userinfo, auth, hasUser = auth[:at], auth[at+1:], true
	}
	host, portText, v6, reason := splitHostPort(auth, p.bare)
	if reason != "" {
		p.invalid = reason
		return dst, p
	}
	if p.bare && hasPrefix(tail, "//") && !v6 && len(portText) == 0 && indexByte(host, '.') < 0 {
		// "http//host", "-http://host": a scheme mistyped, which would be
		// a host named http with the real host in its path. A port
		// written ("localhost:8080//api") says the name is a host.
		p.invalid = reasonMistypedScheme
		return dst, p
	}
	if p.bare && len(portText) == 0 && cidrRange(host, tail, v6) {
		// "10.0.0.0/24" would be a GET of /24 on one address: a scan of
		// one host where a range was meant, with nothing said.
		p.invalid = reasonCIDR
		return dst, p
	}
	port, reason := parsePort(portText)
	if reason != "" {
		p.invalid = reason
		return dst, p
	}
	defPort := uint64(443)
	if kind == kindHTTP {
		defPort = 80
		dst = append(dst, "http://"...)
	} else {
		dst = append(dst, "https://"...)
	}
	if hasUser && len(userinfo) > 0 {
		ui, ok := normUserinfo(string(userinfo))
		if !ok {
			p.invalid = reasonBadUserinfo
			return dst, p
		}
		dst = append(dst, ui...)
		dst = append(dst, '@')
	}
	hostStart := len(dst)
	if dst, reason = appendHost(dst, host, v6); reason != "" {
		p.invalid = reason
		return dst, p
	}
	hostEnd := len(dst)
	if port != 0 && port != defPort {
		dst = append(dst, ':')
		dst = strconv.AppendUint(dst, port, 10)
	}
	if dst, reason = appendPathQuery(dst, tail); reason != "" {
		p.invalid = reason
		return dst, p
	}
	p.urlLen = len(dst)
	if port == 0 {
		port = defPort
	}
	dst = append(dst, keyHost(dst[hostStart:hostEnd], v6)...)
	dst = append(dst, ':')
	dst = strconv.AppendUint(dst, port, 10)
	return dst, p
}

// cidrRange reports whether a bare line's host and tail are an address and
// a prefix length, as in "10.0.0.0/24", "2001:db8::/32" or, with a port
// after it, "10.0.0.0/24:8080".
func cidrRange[T text](host, tail T, v6 bool) bool {
	if len(tail) < 2 || tail[0] != '/' {
		return false
	}
	n, i := 0, 1
	for ; i < len(tail) && i <= 3 && '0' <= tail[i] && tail[i] <= '9'; i++ {
		n = n*10 + int(tail[i]-'0')
	}
	if i == 1 {
		return false
	}
	if i < len(tail) {
		port := tail[i:]
		if port[0] != ':' || len(port) == 1 {
			return false
		}
		for j := 1; j < len(port); j++ {
			if port[j] < '0' || port[j] > '9' {
				return false
			}
		}
	}
	a, err := netip.ParseAddr(string(host))
	if err != nil {
		return false
	}
	return v6 && a.Is6() && n <= 128 || a.Is4() && n <= 32
}

// wrapped names a URL pasted with what surrounded it: the quotes of a CSV
// cell or a JSON array, the angle brackets of an e-mail or a Markdown
// autolink, a Markdown link. Such lines were invalid anyway, but named for
// the wrong thing ("mistyped scheme", "invalid character after ipv6
// address"). No target starts with these; "[" starts a bare IPv6 address
// too, so only "](" makes it a link.
func wrapped[T text](s T) string {
	if len(s) == 0 {
		return ""
	}
	switch s[0] {
	case '"', '\'', '<', '(', '`':
		return reasonWrapped
	case '[':
		for i := 1; i+1 < len(s); i++ {
			if s[i] == ']' && s[i+1] == '(' {
				return reasonMarkdown
			}
		}
	}
	return ""
}

// relativePath names a link copied relative to its page ("../guide.md",
// "./install.md", "/docs/x"), which read as a bare host was refused for an
// "empty label in host" or an "empty host": true, but no help. "//host/x"
// is scheme-relative, a bare host; "//" with no host after it is named
// too. A relative path without a leading "." or "/" ("images/logo.png")
// cannot be told from a bare host and stays one.
func relativePath[T text](s T) string {
	if hasPrefix(s, "//") {
		if rest := s[2:]; len(rest) == 0 || rest[0] == '/' || dotSegment(rest) {
			return reasonNoHostAfter
		}
		return ""
	}
	if hasPrefix(s, "/") || dotSegment(s) {
		return reasonRelative
	}
	return ""
}

// dotSegment reports whether s starts with the path segment "." or "..".
func dotSegment[T text](s T) bool {
	n := 0
	for n < len(s) && n < 2 && s[n] == '.' {
		n++
	}
	return n > 0 && (n == len(s) || s[n] == '/' || s[n] == '?' || s[n] == '#')
}

// checkChars rejects spaces and control characters anywhere in the line:
// they are never part of a URL someone meant, and letting them through would
// put them in request lines and output. So are '<' and '>' (RFC 3986 allows
// them nowhere): they are what is left of a "<https://a/>" autolink or of
// HTML around the URL, and were fetched escaped ("intro>" as "intro%3E").
// A trailing ')', ',' or '.' is kept: each is valid, and some URLs end so.
func checkChars[T text](s T) string {
	nonASCII := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == ' ' || c == '\t':
			return reasonSpace
		case c < 0x20 || c == 0x7f:
			return reasonControl
		case c == '<':
			return reasonLess
		case c == '>':
			return reasonGreater
		case c >= utf8.RuneSelf:
			nonASCII = true
		}
	}
	if nonASCII {
		for _, r := range string(s) {
			if unicode.IsSpace(r) {
				return reasonSpace
			}
			if unicode.IsControl(r) {
				return reasonControl
			}
		}
	}
	return ""
}

// splitScheme finds the line's scheme and returns what follows "scheme://"
// (or, for a bare target, the whole line). "host:8080" and
// "example.com:8443/x" look like a scheme followed by an opaque part, so a
// token is a scheme only when "//" follows it, or when what follows is not a
// port and the token has no dot ("mailto:x", "javascript:y"), and the line
// is not an IPv6 address ("fe80::1"). An empty port does not make a dotless
// token a host: "http:", "javascript:" and "file:/etc/passwd" are schemes.
func splitScheme[T text](line T) (kind int, rest T, reason string) {
	i := 0
	for i < len(line) && isSchemeChar(line[i], i == 0) {
		i++
	}
	if i == 0 || i == len(line) || line[i] != ':' {
		return bareRest(line)
	}
	scheme, after := line[:i], line[i+1:]
	if hasPrefix(after, "//") {
		switch {
		case equalFold(scheme, "http"):
			return kindHTTP, after[2:], ""
		case equalFold(scheme, "https"):
			return kindHTTPS, after[2:], ""
		}
		return 0, rest, "unsupported scheme " + quoteShort(strings.ToLower(string(scheme)))
	}
	if indexByte(after, ':') >= 0 && bareIPv6(line) {
		// "fe80::1", "dead:beef::1": an IPv6 address whose first group
		// reads as a scheme.
		return bareRest(line)
	}
	web := equalFold(scheme, "http") || equalFold(scheme, "https")
	if web && hasPrefix(after, "/") {
		// "http:/host": one slash short, not a host named http with an
		// empty port.
		return 0, rest, `missing "//" after scheme`
	}
	if indexByte(scheme, '.') >= 0 || portLike(after) && len(after) > 0 && '0' <= after[0] && after[0] <= '9' {
		return bareRest(line)
	}
	if web {
		return 0, rest, `missing "//" after scheme`
	}
	return 0, rest, "unsupported scheme " + quoteShort(strings.ToLower(string(scheme)))
}

// bareRest treats the line as a bare host; a scheme-relative "//host" is
// accepted too.
func bareRest[T text](line T) (int, T, string) {
	if hasPrefix(line, "//") {
		return kindBare, line[2:], ""
	}
	return kindBare, line, ""
}

// bareIPv6 reports whether line's authority (up to a '/', '?' or '#') is
// an IPv6 address written without brackets, with or without a zone.
func bareIPv6[T text](line T) bool {
	end := 0
	for end < len(line) && line[end] != '/' && line[end] != '?' && line[end] != '#' {
		end++
	}
	a, err := netip.ParseAddr(string(line[:end]))
	return err == nil && a.Is6()
}

func isSchemeChar(c byte, first bool) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		return true
	case first:
		return false
	case '0' <= c && c <= '9', c == '+', c == '-', c == '.':
		return true
	}
	return false
}

// portLike reports whether s starts with digits (possibly none) that run to
// its end or to a '/', '?' or '#': what follows "host:" in a bare target.
func portLike[T text](s T) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '/' || c == '?' || c == '#' {
			return true
		}
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// splitHostPort splits an authority (without user info) into host and port
// text. v6 is set for an IPv6 literal, given in brackets or, for a bare
// target only, as the whole authority ("::1").
func splitHostPort[T text](auth T, bare bool) (host, port T, v6 bool, reason string) {
	if len(auth) > 0 && auth[0] == '[' {
		end := indexByte(auth, ']')
		if end < 0 {
			return host, port, false, reasonBadIPv6
		}
		host, after := auth[1:end], auth[end+1:]
		if len(after) > 0 {
			if after[0] != ':' {
				return host, port, false, "invalid character after ipv6 address"
			}
			port = after[1:]
		}
		return host, port, true, ""
	}
	colon := lastIndexByte(auth, ':')
	if colon < 0 {
		return auth, port, false, ""
	}
	if indexByte(auth[:colon], ':') >= 0 {
		if bare {
			if a, err := netip.ParseAddr(string(auth)); err == nil && a.Is6() {
				return auth, port, true, ""
			}
		}
		if _, err := netip.ParseAddr(string(auth)); err == nil {
			return host, port, false, "ipv6 address needs brackets"
		}
		return host, port, false, "more than one ':' after the host (a port is one number; an ipv6 address goes in brackets)"
	}
	return auth[:colon], auth[colon+1:], false, ""
}

// parsePort returns 0 when no port was written (an empty port after ':' is
// the default port, as RFC 3986 allows).
func parsePort[T text](s T) (uint64, string) {
	var v uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, "invalid port " + quoteShort(string(s))
		}
		if v <= 65535 { // stop growing once out of range: no overflow
			v = v*10 + uint64(c-'0')
		}
	}
	if len(s) > 0 && (v == 0 || v > 65535) {
		return 0, reasonPortRange
	}
	return v, ""
}

// normUserinfo re-escapes user info the way net/url writes it, so the URL
// reads back unchanged through url.Parse.
func normUserinfo(s string) (string, bool) {
	user, pass, hasPass := strings.Cut(s, ":")
	u, err := url.PathUnescape(user)
	if err != nil {
		return "", false
	}
	if !hasPass {
		return url.User(u).String(), true
	}
	pw, err := url.PathUnescape(pass)
	if err != nil {
		return "", false
	}
	return url.UserPassword(u, pw).String(), true
}

// appendPathQuery appends the path (or "/") and query of tail, dropping any
// fragment. Bytes that may not appear raw in a URL are percent-encoded; a
// malformed escape in the path is an error because net/url cannot carry it.
func appendPathQuery[T text](dst []byte, tail T) ([]byte, string) {
	if i := indexByte(tail, '#'); i >= 0 {
		tail = tail[:i]
	}
	path, query, hasQuery := tail, tail[:0], false
	if q := indexByte(tail, '?'); q >= 0 {
		path, query, hasQuery = tail[:q], tail[q+1:], true
	}
	if len(path) == 0 {
		dst = append(dst, '/')
	}
	for i := 0; i < len(path); i++ {
		if path[i] == '%' && (i+2 >= len(path) || !isHex(path[i+1]) || !isHex(path[i+2])) {
			return dst, reasonBadEscape
		}
	}
	dst = appendEscaped(dst, path)
	if hasQuery {
		dst = append(dst, '?')
		dst = appendEscaped(dst, query)
	}
	return dst, ""
}

// appendEscaped appends s, percent-encoding non-ASCII bytes and the ASCII
// characters RFC 3986 allows nowhere in a URL, as browsers do.
func appendEscaped[T text](dst []byte, s T) []byte {
	start := 0
	for i := 0; i < len(s); i++ {
		if c := s[i]; mustEscape(c) {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '%', upperHex[c>>4], upperHex[c&15])
			start = i + 1
		}
	}
	return append(dst, s[start:]...)
}

const upperHex = "0123456789ABCDEF"

func mustEscape(c byte) bool {
	switch {
	case c >= utf8.RuneSelf, c == '"', c == '<', c == '>', c == '\\', c == '^', c == '`', c == '{', c == '|', c == '}':
		return true
	}
	return false
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// quoteShort quotes user text for a reason, cut so a reason stays short.
func quoteShort(s string) string {
	const max = 32
	if len(s) > max {
		s = string(cutUTF8([]byte(s), max)) + "…"
	}
	return strconv.Quote(s)
}

// cutUTF8 shortens b to at most n bytes without splitting a character.
func cutUTF8(b []byte, n int) []byte {
	if len(b) <= n {
		return b
	}
	i := n
	for i > 0 && i > n-utf8.UTFMax && !utf8.RuneStart(b[i]) {
		i--
	}
	return b[:i]
}

func indexByte[T text](s T, c byte) int {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return i
		}
	}
	return -1
}

func lastIndexByte[T text](s T, c byte) int {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == c {
			return i
		}
	}
	return -1
}

func hasPrefix[T text](s T, prefix string) bool {
	if len(s) < len(prefix) {
		return false
	}
	for i := 0; i < len(prefix); i++ {
		if s[i] != prefix[i] {
			return false
		}
	}
	return true
}

// equalFold compares s with a lower-case ASCII word, ignoring ASCII case.
func equalFold[T text](s T, lower string) bool {
	if len(s) != len(lower) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// idnaToASCII converts an internationalised host name to its punycode form
// with the Lookup profile of RFC 5891.
func idnaToASCII(host string) (string, error) {
	return idna.Lookup.ToASCII(host)
}
