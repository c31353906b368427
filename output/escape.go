package output

import (
	"unicode"
	"unicode/utf8"
)

const hexDigits = "0123456789abcdef"

// Escape returns s safe to print on a terminal. Control characters (C0,
// including ESC, BEL, CR, LF, TAB and BS; DEL; C1 U+0080–U+009F) become
// visible escapes such as \x1b, \r or \u009b. So do the format characters
// (Unicode's Cf: bidirectional overrides, isolates and marks, the
// zero-width space, the BOM, the soft hyphen, invisible operators, tag
// characters and others) except the joiners U+200C and U+200D, and also the
// line and paragraph separators U+2028 and U+2029 and the Hangul fillers;
// a rune above U+FFFF is written \U000xxxxx. Each byte of invalid UTF-8
// becomes \xNN. A string that needs no escaping is returned as is, without
// allocating.
//
// Backslashes are left alone: the result is for reading, not for parsing
// back, and doubling them would make ordinary Windows paths and regexes in
// titles harder to read.
func Escape(s string) string {
	i := cleanPrefix(s)
	if i == len(s) {
		return s
	}
	b := make([]byte, 0, len(s)+16)
	b = append(b, s[:i]...)
	b = appendEscapeFrom(b, s, i)
	return string(b)
}

// AppendEscape appends Escape(s) to dst and returns the extended slice. It
// lets encoders escape straight into their line buffer.
func AppendEscape(dst []byte, s string) []byte {
	i := cleanPrefix(s)
	dst = append(dst, s[:i]...)
	if i == len(s) {
		return dst
	}
	return appendEscapeFrom(dst, s, i)
}

// cleanPrefix returns the length of the longest prefix of s that needs no
// escaping.
func cleanPrefix(s string) int {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c < 0x20 || c == 0x7f {
				return i
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if unsafeRune(r, size) {
			return i
		}
		i += size
	}
	return len(s)
}

// unsafeRune reports whether the non-ASCII rune r, decoded from size bytes,
// must be escaped.
func unsafeRune(r rune, size int) bool {
	switch {
	case r == utf8.RuneError && size == 1: // invalid UTF-8
		return true
	case r >= 0x80 && r <= 0x9f: // C1 controls, e.g. U+009B (CSI)
		return true
	case r == 0x200c, r == 0x200d:
		// ZWNJ and ZWJ are kept: emoji and several scripts need them.
		return false
	case r == 0x2028, r == 0x2029:
		return true
	case r == 0x115f, r == 0x1160, r == 0x3164, r == 0xffa0:
		// Hangul fillers: letters that print as nothing.
		return true
	}
	// Format characters print as nothing or reorder what follows (the
	// bidi controls), so that two inputs or hosts that differ by one
	// print the same. Most scripts lie in ranges that hold none, which
	// spares their text the table search.
	switch {
	case r < 0xad, r > 0xad && r < 0x600, r > 0x8e2 && r < 0x180e, r > 0x180e && r < 0x200b, r > 0x206f && r < 0xfeff:
		return false
	}
	return unicode.Is(unicode.Cf, r)
}

func appendEscapeFrom(b []byte, s string, i int) []byte {
	for i < len(s) {
		c := s[i]
		if c < utf8.RuneSelf {
			i++
			if c >= 0x20 && c != 0x7f {
				b = append(b, c)
				continue
			}
			switch c {
			case '\a':
				b = append(b, `\a`...)
			case '\b':
				b = append(b, `\b`...)
			case '\t':
				b = append(b, `\t`...)
			case '\n':
				b = append(b, `\n`...)
			case '\v':
				b = append(b, `\v`...)
			case '\f':
				b = append(b, `\f`...)
			case '\r':
				b = append(b, `\r`...)
			default:
				b = append(b, '\\', 'x', hexDigits[c>>4], hexDigits[c&0xf])
			}
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, '\\', 'x', hexDigits[c>>4], hexDigits[c&0xf])
		case unsafeRune(r, size) && r > 0xffff:
			b = append(b, '\\', 'U', '0', '0', '0',
				hexDigits[r>>16&0xf], hexDigits[r>>12&0xf], hexDigits[r>>8&0xf], hexDigits[r>>4&0xf], hexDigits[r&0xf])
		case unsafeRune(r, size):
			b = append(b, '\\', 'u',
				hexDigits[r>>12&0xf], hexDigits[r>>8&0xf], hexDigits[r>>4&0xf], hexDigits[r&0xf])
		default:
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return b
}
