package input

import (
	"net/url"
	"strings"
	"testing"

	"github.com/fanout/fanout/fetch"
)

func TestParse(t *testing.T) {
	t.Parallel()
	valid := []struct {
		in, url, key string
		bare         bool
	}{
		// Scheme URLs: case, default ports, paths, queries, fragments.
		{"https://example.com", "https://example.com/", "example.com:443", false},
		{"http://example.com/", "http://example.com/", "example.com:80", false},
		{"HTTPS://EXAMPLE.com/Path/X?Q=1", "https://example.com/Path/X?Q=1", "example.com:443", false},
		{"HtTp://Example.COM", "http://example.com/", "example.com:80", false},
		{"https://example.com:443/a", "https://example.com/a", "example.com:443", false},
		{"http://example.com:80/a", "http://example.com/a", "example.com:80", false},
		{"http://example.com:443/", "http://example.com:443/", "example.com:443", false},
		{"https://example.com:80/", "https://example.com:80/", "example.com:80", false},
		{"https://example.com:8443", "https://example.com:8443/", "example.com:8443", false},
		{"https://example.com:08443/", "https://example.com:8443/", "example.com:8443", false},
		{"https://example.com:/", "https://example.com/", "example.com:443", false},
		{"https://example.com/a#frag", "https://example.com/a", "example.com:443", false},
		{"https://example.com#frag", "https://example.com/", "example.com:443", false},
		// A path after an address, where it cannot be a CIDR range.
		{"http://127.0.0.1/30", "http://127.0.0.1/30", "127.0.0.1:80", false},
		{"127.0.0.1/33", "https://127.0.0.1/33", "127.0.0.1:443", true},
		{"127.0.0.1:8080/24", "https://127.0.0.1:8080/24", "127.0.0.1:8080", true},
		{"127.0.0.1/24/x", "https://127.0.0.1/24/x", "127.0.0.1:443", true},
		{"example.com/24", "https://example.com/24", "example.com:443", true},
		// Names that only look like hex addresses stay names.
		{"http://0xdead.example/", "http://0xdead.example/", "0xdead.example:80", false},
		{"http://0x7f.0.0.1a/", "http://0x7f.0.0.1a/", "0x7f.0.0.1a:80", false},
		{"http://0xg/", "http://0xg/", "0xg:80", false},
		{"https://example.com?q=1#f", "https://example.com/?q=1", "example.com:443", false},
		{"https://example.com/?", "https://example.com/?", "example.com:443", false},
		{"https://example.com/a?b=c&d=%zz", "https://example.com/a?b=c&d=%zz", "example.com:443", false},
		{"https://example.com/a%2Fb", "https://example.com/a%2Fb", "example.com:443", false},
		{"https://example.com/ü?q=ü", "https://example.com/%C3%BC?q=%C3%BC", "example.com:443", false},
		{"https://example.com/{x}|^", "https://example.com/%7Bx%7D%7C%5E", "example.com:443", false},
		{"https://example.com/[a]:@!$&'()*+,;=", "https://example.com/[a]:@!$&'()*+,;=", "example.com:443", false},
		// Trailing punctuation is kept as written: it is valid in a URL.
		{"https://en.example/wiki/Foo_(bar)", "https://en.example/wiki/Foo_(bar)", "en.example:443", false},
		{"https://example.com/a,", "https://example.com/a,", "example.com:443", false},
		{"https://example.com/a.", "https://example.com/a.", "example.com:443", false},
		{"https://my_host.example.com/", "https://my_host.example.com/", "my_host.example.com:443", false},
		// A trailing dot names the same host: one HostKey, one set of
		// per-host limits; the URL (the Host header) keeps it.
		{"https://example.com./", "https://example.com./", "example.com:443", false},
		{"http://Name.Example.:8080/x", "http://name.example.:8080/x", "name.example:8080", false},
		{"name.example.", "https://name.example./", "name.example:443", true},
		{"localhost.:3000", "https://localhost.:3000/", "localhost:3000", true},
		{"https://bücher.example./", "https://xn--bcher-kva.example./", "xn--bcher-kva.example:443", false},
		{"https://localhost:3000/x", "https://localhost:3000/x", "localhost:3000", false},
		// User info is kept (basic auth) but is not part of the host key.
		{"https://user:pa%3Ass@Example.com/", "https://user:pa%3Ass@example.com/", "example.com:443", false},
		{"https://a@b@example.com/", "https://a%40b@example.com/", "example.com:443", false},
		{"https://@example.com/", "https://example.com/", "example.com:443", false},
		// IP literals.
		{"http://10.0.0.1/", "http://10.0.0.1/", "10.0.0.1:80", false},
		{"https://127.0.0.1:8443", "https://127.0.0.1:8443/", "127.0.0.1:8443", false},
		{"http://[::1]:8080/x", "http://[::1]:8080/x", "[::1]:8080", false},
		{"http://[::1]/", "http://[::1]/", "[::1]:80", false},
		{"https://[2001:DB8:0:0:0:0:0:1]:443", "https://[2001:db8::1]/", "[2001:db8::1]:443", false},
		// An IPv4-mapped address is keyed as the IPv4 address it is
		// dialled as (its per-host limits are that host's); the URL, and
		// so the Host header, stays as written.
		{"http://[::ffff:1.2.3.4]/", "http://[::ffff:1.2.3.4]/", "1.2.3.4:80", false},
		{"http://[::FFFF:7f00:1]:8080/x", "http://[::ffff:127.0.0.1]:8080/x", "127.0.0.1:8080", false},
		{"[::ffff:10.0.0.1]", "https://[::ffff:10.0.0.1]/", "10.0.0.1:443", true},
		{"::ffff:10.0.0.1", "https://[::ffff:10.0.0.1]/", "10.0.0.1:443", true},
		{"http://[::ffff:0:1.2.3.4]/", "http://[::ffff:0:102:304]/", "[::ffff:0:102:304]:80", false}, // not mapped
		{"http://[64:ff9b::1.2.3.4]/", "http://[64:ff9b::102:304]/", "[64:ff9b::102:304]:80", false}, // NAT64: another host
		// Internationalised names become punycode.
		{"https://bücher.example/", "https://xn--bcher-kva.example/", "xn--bcher-kva.example:443", false},
		{"https://BÜCHER.example/", "https://xn--bcher-kva.example/", "xn--bcher-kva.example:443", false},
		{"http://例え.テスト/パス", "http://xn--r8jz45g.xn--zckzah/%E3%83%91%E3%82%B9", "xn--r8jz45g.xn--zckzah:80", false},
		{"https://xn--bcher-kva.example/", "https://xn--bcher-kva.example/", "xn--bcher-kva.example:443", false},
		{"https://ＥＸＡＭＰＬＥ。com/", "https://example.com/", "example.com:443", false},
		// Bare forms: https URL, port as written, key defaults to 443.
		{"example.com", "https://example.com/", "example.com:443", true},
		{"Example.COM/Path?x=1#y", "https://example.com/Path?x=1", "example.com:443", true},
		{"example.com?x", "https://example.com/?x", "example.com:443", true},
		{"example.com:8443/path", "https://example.com:8443/path", "example.com:8443", true},
		{"example.com:443", "https://example.com/", "example.com:443", true},
		{"example.com:80", "https://example.com:80/", "example.com:80", true},
		{"localhost:8080", "https://localhost:8080/", "localhost:8080", true},
		{"localhost", "https://localhost/", "localhost:443", true},
		{"example.com:", "https://example.com/", "example.com:443", true},
		{"10.0.0.1:/x", "https://10.0.0.1/x", "10.0.0.1:443", true},
		{"http:8080", "https://http:8080/", "http:8080", true}, // a port says it is a host
		{"10.0.0.1", "https://10.0.0.1/", "10.0.0.1:443", true},
		{"10.0.0.1:80", "https://10.0.0.1:80/", "10.0.0.1:80", true},
		{"[::1]:80", "https://[::1]:80/", "[::1]:80", true},
		{"[::1]", "https://[::1]/", "[::1]:443", true},
		{"::1", "https://[::1]/", "[::1]:443", true},
		// An unbracketed IPv6 address whose first group is letters is not
		// a scheme.
		{"fe80::1", "https://[fe80::1]/", "[fe80::1]:443", true},
		{"r3---sn-a1.example", "https://r3---sn-a1.example/", "r3---sn-a1.example:443", true}, // hyphens inside a label
		{"FD00::AB", "https://[fd00::ab]/", "[fd00::ab]:443", true},
		{"dead:beef::1/x?y#z", "https://[dead:beef::1]/x?y", "[dead:beef::1]:443", true},
		{"a::", "https://[a::]/", "[a::]:443", true},
		{"//example.com/x", "https://example.com/x", "example.com:443", true},
		{"//localhost:8080/x", "https://localhost:8080/x", "localhost:8080", true}, // scheme-relative
		// A relative path without "./" cannot be told from a bare host.
		{"getting-started.md", "https://getting-started.md/", "getting-started.md:443", true},
		{"images/logo.png", "https://images/logo.png", "images:443", true},
		{"example.com//x", "https://example.com//x", "example.com:443", true},          // a path with "//" on a dotted name stays
		{"localhost:8080//api", "https://localhost:8080//api", "localhost:8080", true}, // a port says it is a host
		{"intranet:81//a/b", "https://intranet:81//a/b", "intranet:81", true},
		{"bücher.example", "https://xn--bcher-kva.example/", "xn--bcher-kva.example:443", true},
	}
	for _, tc := range valid {
		got := Parse(tc.in)
		want := fetch.Target{Input: tc.in, URL: tc.url, HostKey: tc.key, Bare: tc.bare}
		if got != want {
			t.Errorf("Parse(%q)\n got  %+v\n want %+v", tc.in, got, want)
		}
		checkValid(t, got)
	}

	invalid := []struct{ in, reason string }{
		{"ftp://example.com/", `unsupported scheme "ftp"`},
		{"FTP://example.com/", `unsupported scheme "ftp"`},
		{"file:///etc/passwd", `unsupported scheme "file"`},
		{"javascript:alert(1)", `unsupported scheme "javascript"`},
		{"mailto:someone@example.com", `unsupported scheme "mailto"`},
		{"data:text/plain,hi", `unsupported scheme "data"`},
		{"ws://example.com/", `unsupported scheme "ws"`},
		{"http:example.com", `missing "//" after scheme`},
		{"http:/127.0.0.1:8080/ok", `missing "//" after scheme`},
		{"HTTPS:/example.com", `missing "//" after scheme`},
		// A line that is only a scheme, or a scheme and a path, is not a
		// host named after the scheme with an empty port.
		{"http:", `missing "//" after scheme`},
		{"HTTPS:", `missing "//" after scheme`},
		{"https:?q", `missing "//" after scheme`},
		{"http:#f", `missing "//" after scheme`},
		{"ftp:", `unsupported scheme "ftp"`},
		{"javascript:", `unsupported scheme "javascript"`},
		{"file:/etc/passwd", `unsupported scheme "file"`},
		{"mailto:?to=x", `unsupported scheme "mailto"`},
		{`"http://example.com/"`, "url in quotes or brackets: give it bare"},
		{`'http://example.com/'`, "url in quotes or brackets: give it bare"},
		{"<http://example.com/>", "url in quotes or brackets: give it bare"},
		{"(http://example.com/)", "url in quotes or brackets: give it bare"},
		{"`http://example.com/`", "url in quotes or brackets: give it bare"},
		{`"example.com"`, "url in quotes or brackets: give it bare"},
		{"[x](http://example.com/)", "markdown link: give the url alone"},
		// '<' and '>' are never in a URL: what is left of an autolink or
		// of HTML, refused rather than fetched escaped.
		{"http://example.com/docs/intro>", reasonGreater},
		{"http://example.com/x<", reasonLess},
		{"https://example.com/a?q=<b>", reasonLess},
		{"https://example.com/a#<b>", reasonLess},
		{"example.com/>", reasonGreater},
		{"example.com>", reasonGreater},
		{"http://example.com/<a href=x>", reasonLess},
		{"<http://example.com/x", reasonWrapped},
		{"[a link](http://example.com/)", "markdown link: give the url alone"},
		{"[::1]x", "invalid character after ipv6 address"}, // not a link
		{"127.0.0.1/30", reasonCIDR},
		{"10.0.0.0/8", reasonCIDR},
		{"127.0.0.0/31:18119", reasonCIDR},
		{"2001:db8::/32", reasonCIDR},
		{"[2001:db8::]/48", reasonCIDR},
		{"http//example.com/", `mistyped scheme before "//"`},
		{"-http://example.com/", `mistyped scheme before "//"`},
		{"https;//example.com/", `mistyped scheme before "//"`},
		{"http://", "empty host"},
		{"https:///path", "empty host"},
		{"http://:80/", "empty host"},
		{"http://user@/", "empty host"},
		// Links relative to their page, copied from Markdown or HTML,
		// are named for what they are, not for an empty host or label.
		{"/path/only", reasonRelative},
		{"/", reasonRelative},
		{"./install.md", reasonRelative},
		{"../relative/page.md", reasonRelative},
		{".", reasonRelative},
		{"..", reasonRelative},
		{"../", reasonRelative},
		{"./?q", reasonRelative},
		{"//", reasonNoHostAfter},
		{"///path", reasonNoHostAfter},
		{"//./x", reasonNoHostAfter},
		{"//../x", reasonNoHostAfter},
		{"...", "empty label in host"},  // not a path segment
		{".x/y", "empty label in host"}, // nor this
		{"", "empty host"},
		{"\u200b", reasonInvisibleHost}, // a line that looks blank; was "invalid ipv4 address"
		{"\u200b:8080", reasonInvisibleHost},
		{"http://\u00ad/", reasonInvisibleHost},
		{"https://\u2060\u200b/x", reasonInvisibleHost},
		{"http://exa mple.com/", "space in url"},
		{"http://example.com/a b", "space in url"},
		{"http://example.com/a\tb", "space in url"},
		{"http://example.com/a\u00a0b", "space in url"},
		{"http://example.com/a\u3000b", "space in url"},
		{"http://example.com/a\x00b", "control character in url"},
		{"http://example.com/a\x7fb", "control character in url"},
		{"http://example.com/a\u0085b", "space in url"},
		{"http://example.com/a\u0090b", "control character in url"},
		{"http://example.com\r\n/", "control character in url"},
		{"http://example.com:0/", "port out of range"},
		{"http://example.com:65536/", "port out of range"},
		{"http://example.com:99999999999999999999999/", "port out of range"},
		{"example.com:0", "port out of range"},
		{"http://example.com:http/", `invalid port "http"`},
		{"http://example.com:-1/", `invalid port "-1"`},
		{"example.com:abc", `invalid port "abc"`},
		{"http://exa!mple.com/", `invalid character "!" in host`},
		{"http://example..com/", "empty label in host"},
		{"http://.example.com/", "empty label in host"},
		{"http://" + strings.Repeat("a", 64) + ".com/", "host label too long"},
		{"http://" + strings.Repeat("abcdefghi.", 26) + "com/", "host name too long"},
		{"http://256.1.1.1/", "invalid ipv4 address"},
		{"http://010.0.0.1/", "invalid ipv4 address"},
		{"http://1.2.3/", "invalid ipv4 address"},
		{"http://1.2.3.4./", "invalid ipv4 address"},
		// Hex parts: an address to browsers and curl, a name to look up in
		// DNS to Go's resolver.
		{"http://0x7f.0.0.1:8080/", "invalid ipv4 address"},
		{"http://0X7F000001/", "invalid ipv4 address"},
		{"http://127.0x0.0.1/", "invalid ipv4 address"},
		{"http://0x/", "invalid ipv4 address"},
		{"0x7f.1", "invalid ipv4 address"},
		{"http://[::1/", "invalid ipv6 address"},
		{"http://[1.2.3.4]/", "invalid ipv6 address"},
		{"http://[zz::1]/", "invalid ipv6 address"},
		{"http://[::1]x/", "invalid character after ipv6 address"},
		{"http://[fe80::1%25eth0]/", "ipv6 zone not supported"},
		{"http://::1/", "ipv6 address needs brackets"},
		{"http://127.0.0.1:8080:/", "more than one ':' after the host (a port is one number; an ipv6 address goes in brackets)"},
		{"http://host:80:80/", "more than one ':' after the host (a port is one number; an ipv6 address goes in brackets)"},
		{"fe80::1%eth0", "ipv6 zone not supported"},
		{"fe80::1x", `unsupported scheme "fe80"`},
		{"http://xn--a.example/", "invalid international host name"},
		{"http://a\u200d.example/", "invalid international host name"},
		{"http://example.com/%zz", "invalid percent escape in path"},
		{"http://example.com/100%", "invalid percent escape in path"},
		{"http://us%zzer@example.com/", "invalid user info"},
		{`http://example.com\@evil.com/`, reasonBackslash},
		{`example.com\@evil.com`, reasonBackslash},
		{`http://user\name@example.com/`, reasonBackslash},
		{`https://example.com\`, reasonBackslash},
		{"-", reasonHyphen},
		{"-example.com", reasonHyphen},
		{"http://example-.com/", reasonHyphen},
		{"https://a.-b.example:8443/", reasonHyphen},
		{"example.com-", reasonHyphen},
		{"example.com-.", reasonHyphen},
	}
	for _, tc := range invalid {
		got := Parse(tc.in)
		want := fetch.Target{Input: tc.in, Invalid: tc.reason}
		if got != want {
			t.Errorf("Parse(%q)\n got  %+v\n want %+v", tc.in, got, want)
		}
	}
}

// TestParseLongSchemeReason checks that a reason quoting user text stays short.
func TestParseLongSchemeReason(t *testing.T) {
	t.Parallel()
	got := Parse(strings.Repeat("x", 500) + "://example.com/")
	if len(got.Invalid) > 60 || !strings.HasPrefix(got.Invalid, "unsupported scheme") {
		t.Errorf("reason %q: want a short unsupported scheme reason", got.Invalid)
	}
}

// TestParseRoundTrip checks that every valid URL reads back unchanged through
// Parse and through net/url, which fetch hands it to.
func TestParseRoundTrip(t *testing.T) {
	t.Parallel()
	for _, in := range []string{
		"HTTPS://User:P%40ss@EXAMPLE.com:443/a/b%20c/ü?x=1&y=ü#frag",
		"http://[2001:db8::1]:8080/x?y",
		"example.com:80/[x]?a=\"b\"",
		"bücher.example/{}",
	} {
		checkValid(t, Parse(in))
	}
}

// checkValid asserts the invariants every valid target keeps.
func checkValid(t *testing.T, got fetch.Target) {
	t.Helper()
	if got.Invalid != "" {
		if got.URL != "" || got.HostKey != "" {
			t.Errorf("Parse(%q): invalid target with URL %q, HostKey %q", got.Input, got.URL, got.HostKey)
		}
		return
	}
	if !strings.HasPrefix(got.URL, "http://") && !strings.HasPrefix(got.URL, "https://") {
		t.Errorf("Parse(%q).URL = %q: want an http or https URL", got.Input, got.URL)
	}
	if got.HostKey == "" || !strings.Contains(got.HostKey, ":") {
		t.Errorf("Parse(%q).HostKey = %q: want host:port", got.Input, got.HostKey)
	}
	for _, c := range []byte(got.URL) {
		if c <= ' ' || c >= 0x7f {
			t.Errorf("Parse(%q).URL = %q: contains byte %#x", got.Input, got.URL, c)
			break
		}
	}
	if k := fetch.HostKeyOf(got.URL); k != got.HostKey {
		// The engine keys a hand-built target so, and dist routes by it.
		t.Errorf("Parse(%q).HostKey = %q, but fetch.HostKeyOf(%q) = %q", got.Input, got.HostKey, got.URL, k)
	}
	again := Parse(got.URL)
	if again.URL != got.URL || again.HostKey != got.HostKey || again.Bare {
		t.Errorf("Parse(%q) = %+v, but Parse of its URL = %+v", got.Input, got, again)
	}
	u, err := url.Parse(got.URL)
	if err != nil {
		t.Errorf("Parse(%q).URL = %q: url.Parse: %v", got.Input, got.URL, err)
	} else if u.String() != got.URL {
		t.Errorf("Parse(%q).URL = %q: url.Parse reads it as %q", got.Input, got.URL, u.String())
	}
}
