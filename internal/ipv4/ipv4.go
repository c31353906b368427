// Package ipv4 tells the one form of an IPv4 address that every resolver
// reads alike, dotted quad, from the others (octal, hex, short, a single
// number), which input refuses as targets and fetch refuses as redirects.
package ipv4

import "bytes"

// Numeric reports whether name holds digits and dots only: a name that is
// meant as an IPv4 address, whatever its form.
func Numeric(name []byte) bool {
	for _, c := range name {
		if (c < '0' || c > '9') && c != '.' {
			return false
		}
	}
	return true
}

// DottedQuad accepts only the dotted-quad form with no leading zeros, which
// reads the same to every resolver ("010.0.0.1" is octal to some).
func DottedQuad(s []byte) bool {
	parts, v, digits := 0, 0, 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == '.' {
			if digits == 0 || v > 255 {
				return false
			}
			parts++
			v, digits = 0, 0
			continue
		}
		if s[i] < '0' || s[i] > '9' {
			return false
		}
		if digits == 1 && v == 0 {
			return false // leading zero
		}
		v = v*10 + int(s[i]-'0')
		digits++
		if digits > 3 {
			return false
		}
	}
	return parts == 4
}

// Hex reports whether name, lower-cased, is an IPv4 address with a part in
// hex, such as "0x7f.0.0.1" or "0x7f000001": browsers and curl (inet_aton)
// read it as an address, Go's resolver as a name to look up in DNS. Like
// the octal and short forms that DottedQuad refuses, it is invalid rather
// than guessed.
func Hex(name []byte) bool {
	anyHex := false
	for label := range bytes.SplitSeq(name, []byte{'.'}) {
		digits, hex := label, false
		if len(label) >= 2 && label[0] == '0' && label[1] == 'x' {
			digits, hex, anyHex = label[2:], true, true
		} else if len(label) == 0 {
			return false
		}
		for _, c := range digits {
			if !isHex(c) || !hex && c > '9' {
				return false
			}
		}
	}
	return anyHex
}

// Ambiguous reports whether the host name, lower-cased, is an IPv4 address
// written other than as a dotted quad (a trailing dot included).
func Ambiguous(name []byte) bool {
	if Numeric(name) {
		return !DottedQuad(name)
	}
	return Hex(bytes.TrimSuffix(name, []byte{'.'}))
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f'
}
