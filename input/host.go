package input

import (
	"net/netip"
	"unicode/utf8"

	"github.com/fanout/fanout/internal/ipv4"
)

// DNS limits (RFC 1035), without the trailing dot of a fully qualified name.
const (
	maxHostLen  = 253
	maxLabelLen = 63
)

// appendHost appends the canonical form of host: an IPv6 literal compressed
// and bracketed, an IPv4 address as written (it must be dotted-quad), a name
// lower-cased, and an internationalised name in punycode.
func appendHost[T text](dst []byte, host T, v6 bool) ([]byte, string) {
	if v6 {
		if indexByte(host, '%') >= 0 {
			return dst, "ipv6 zone not supported"
		}
		a, err := netip.ParseAddr(string(host))
		if err != nil || !a.Is6() {
			return dst, reasonBadIPv6
		}
		dst = append(dst, '[')
		dst = a.AppendTo(dst)
		return append(dst, ']'), ""
	}
	if len(host) == 0 {
		return dst, reasonEmptyHost
	}
	for i := 0; i < len(host); i++ {
		if host[i] >= utf8.RuneSelf {
			// IDNA turns invalid UTF-8 into U+FFFD and encodes that.
			h := string(host)
			if !utf8.ValidString(h) {
				return dst, reasonBadIDN
			}
			ascii, err := idnaToASCII(h)
			if err != nil {
				return dst, reasonBadIDN
			}
			if ascii == "" {
				// IDNA maps these to nothing; the empty name left was
				// reported as a bad IPv4 address, on a line that looks blank.
				return dst, reasonInvisibleHost
			}
			// Check the result as if written so: it must read back the same.
			return appendName(dst, ascii)
		}
	}
	return appendName(dst, host)
}

// reasonInvisibleHost: a host made only of characters IDNA maps to
// nothing, as a line copied from a web page can be.
const reasonInvisibleHost = "host has only invisible characters (zero-width space, soft hyphen): remove them"

// reasonHyphen: Go's resolver refuses such a name without asking DNS, which
// made it a "dns" failure ("no such host") rather than the input's fault.
const reasonHyphen = "host label starts or ends with '-'"

// keyHost returns the part of a host, as appendHost wrote it, that goes
// into its HostKey: the host the requests reach, whatever the spelling, so
// that its per-host limits are one (fetch.HostKeyOf derives the same). An
// IPv4-mapped IPv6 address, which netip writes "::ffff:1.2.3.4", is
// dialled as its IPv4 address; a name's trailing dot ("example.com.", the
// name written fully qualified) names the same host. The URL keeps the
// host as written: it is the Host header, which a server may route by.
func keyHost(host []byte, v6 bool) []byte {
	if v6 {
		if hasPrefix(host, "[::ffff:") && indexByte(host, '.') >= 0 {
			return host[len("[::ffff:") : len(host)-1]
		}
		return host
	}
	if n := len(host); host[n-1] == '.' { // not empty: appendHost refuses that
		return host[:n-1]
	}
	return host
}

// appendName lower-cases and checks an ASCII host name. Underscores are
// accepted (real hosts use them and Go's resolver looks them up), so plain
// ASCII names do not go through IDNA's stricter STD3 rules; a name with a
// punycode label does, so a broken "xn--" label is caught here.
func appendName[T text](dst []byte, host T) ([]byte, string) {
	start := len(dst)
	dst = append(dst, host...)
	name := dst[start:] // lower-cased in place
	numeric := true     // digits and dots only: must be an IPv4 address
	label := 0
	puny := false
	for i, c := range name {
		switch {
		case 'a' <= c && c <= 'z', c == '-', c == '_':
			numeric = false
		case 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
			name[i] = c
			numeric = false
		case '0' <= c && c <= '9':
		case c == '.':
			if label == 0 {
				return dst, "empty label in host"
			}
			if name[i-1] == '-' {
				return dst, reasonHyphen
			}
			label = 0
			continue
		default:
			return dst, "invalid character " + quoteShort(string(rune(c))) + " in host"
		}
		if label == 0 && c == '-' {
			return dst, reasonHyphen
		}
		if label == 0 && c == 'x' && i+3 < len(name) && equalFold(name[i:i+4], "xn--") {
			puny = true
		}
		if label++; label > maxLabelLen {
			return dst, "host label too long"
		}
	}
	if n := len(name); n > 0 && name[n-1] == '.' {
		name = name[:n-1]
	}
	if n := len(name); n > 0 && name[n-1] == '-' {
		return dst, reasonHyphen
	}
	if len(name) > maxHostLen {
		return dst, "host name too long"
	}
	if numeric {
		if !ipv4.DottedQuad(dst[start:]) { // a trailing dot is refused too
			return dst, reasonBadIPv4
		}
		return dst, ""
	}
	if ipv4.Hex(name) {
		return dst, reasonBadIPv4
	}
	if puny {
		if _, err := idnaToASCII(string(name)); err != nil {
			return dst, reasonBadIDN
		}
	}
	return dst, ""
}
