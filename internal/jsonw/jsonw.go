// Package jsonw appends JSON values to byte slices by hand, byte for byte
// as encoding/json writes them (with HTML escaping off), for the hot paths
// that encode a record per result: JSON Lines output and the store's rows.
package jsonw

import (
	"maps"
	"math"
	"net/http"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/fanout/fanout/fetch"
)

const hexDigits = "0123456789abcdef"

// jsonSafe marks the ASCII bytes that need no escaping in a JSON string.
var jsonSafe = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// AppendString appends s as a JSON string the way encoding/json does
// with HTML escaping off: invalid UTF-8 becomes \ufffd (so output is always
// valid UTF-8), and U+2028 and U+2029 are escaped for JavaScript.
func AppendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		// Most of what fanout writes (URLs, hashes, types, titles) needs
		// no escaping: pass it eight bytes at a time.
		if i+8 <= len(s) {
			if w := s[i : i+8]; plainWord(uint64(w[0]) | uint64(w[1])<<8 | uint64(w[2])<<16 | uint64(w[3])<<24 |
				uint64(w[4])<<32 | uint64(w[5])<<40 | uint64(w[6])<<48 | uint64(w[7])<<56) {
				i += 8
				continue
			}
		}
		c := s[i]
		if c < utf8.RuneSelf {
			if jsonSafe[c] {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// plainWord reports whether the 8 bytes of w are ASCII that JSON needs not
// escape: no control byte, quote, backslash or byte above 0x7f. (Each test
// is the classic "has a byte less than n" on a whole word: it is non-zero
// exactly when some byte matches.)
func plainWord(w uint64) bool {
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	q, bs := w^(lo*'"'), w^(lo*'\\')
	return (w|(w-lo*0x20)|(q-lo)&^q|(bs-lo)&^bs)&hi == 0
}

// AppendFloat appends f as encoding/json does. NaN and infinities, which
// JSON cannot hold and timing never should, are written as 0 so that one
// odd value cannot make the line invalid.
func AppendFloat(b []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(b, '0')
	}
	if b, ok := appendMicros(b, f); ok {
		return b
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// Clean up e-09 to e-9, as encoding/json does.
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

// appendMicros appends f, if it is a whole number of millionths below
// 1e9 (as every timing in milliseconds made from a time.Duration is),
// exactly as strconv's shortest 'f' formatting does, at a fraction of its
// cost: it runs for every timing of every result. Below 2^32 two different
// multiples of 1e-6 are more than one ulp apart, so the digits of f's
// millionths, trailing zeros trimmed, are the shortest that read back as f.
func appendMicros(b []byte, f float64) ([]byte, bool) {
	a := math.Abs(f)
	if a < 1e-6 || a >= 1e9 {
		return b, false
	}
	n := math.Round(a * 1e6)
	if n/1e6 != a {
		return b, false
	}
	u := uint64(n)
	if f < 0 {
		b = append(b, '-')
	}
	b = strconv.AppendUint(b, u/1e6, 10)
	frac := u % 1e6
	if frac == 0 {
		return b, true
	}
	var d [7]byte
	d[0] = '.'
	for i := 6; i >= 1; i-- {
		d[i] = byte('0' + frac%10)
		frac /= 10
	}
	end := 7
	for d[end-1] == '0' {
		end--
	}
	return append(b, d[:end]...), true
}

// AppendTime appends t in RFC 3339 with nanoseconds, as time.Time's
// MarshalJSON does. A year outside 0..9999, which MarshalJSON refuses, is
// written anyway rather than failing the run.
func AppendTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = AppendRFC3339Nano(b, t)
	return append(b, '"')
}

// AppendRFC3339Nano appends t as t.AppendFormat(b, time.RFC3339Nano) does
// (TestAppendRFC3339Nano holds it to that), at about half the cost for a
// year from 0 to 9999 and an offset of whole minutes under 100 hours:
// every result has a start time, written to the output and to the
// database.
func AppendRFC3339Nano(b []byte, t time.Time) []byte {
	_, off := t.Zone()
	secs := t.Unix() + int64(off)
	days, rem := secs/86400, secs%86400
	if rem < 0 {
		days, rem = days-1, rem+86400
	}
	// Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
	z := days + 719468
	era := z / 146097
	if z < 0 && z%146097 != 0 {
		era--
	}
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	day := doy - (153*mp+2)/5 + 1
	month := mp + 3
	if month > 12 {
		month -= 12
	}
	year := yoe + era*400
	if month <= 2 {
		year++
	}
	if year < 0 || year > 9999 || off%60 != 0 || off >= 100*3600 || off <= -100*3600 {
		return t.AppendFormat(b, time.RFC3339Nano)
	}
	b = append(b, byte('0'+year/1000), byte('0'+year/100%10), byte('0'+year/10%10), byte('0'+year%10), '-',
		byte('0'+month/10), byte('0'+month%10), '-', byte('0'+day/10), byte('0'+day%10), 'T')
	h, m, s := rem/3600, rem/60%60, rem%60
	b = append(b, byte('0'+h/10), byte('0'+h%10), ':', byte('0'+m/10), byte('0'+m%10), ':', byte('0'+s/10), byte('0'+s%10))
	if ns := t.Nanosecond(); ns != 0 {
		var frac [10]byte
		frac[0] = '.'
		for i := 9; i > 0; i-- {
			frac[i] = byte('0' + ns%10)
			ns /= 10
		}
		n := 10
		for frac[n-1] == '0' {
			n--
		}
		b = append(b, frac[:n]...)
	}
	if off == 0 {
		return append(b, 'Z')
	}
	sign := byte('+')
	if off < 0 {
		sign, off = '-', -off
	}
	oh, om := off/3600, off/60%60
	return append(b, sign, byte('0'+oh/10), byte('0'+oh%10), ':', byte('0'+om/10), byte('0'+om%10))
}

// AppendHops appends hops as a JSON array of {"url","status"} objects, as
// encoding/json writes []fetch.Hop ([] for an empty, non-nil slice).
func AppendHops(b []byte, hops []fetch.Hop) []byte {
	b = append(b, '[')
	for i, h := range hops {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"url":`...)
		b = AppendString(b, h.URL)
		b = append(b, `,"status":`...)
		b = strconv.AppendInt(b, int64(h.Status), 10)
		b = append(b, '}')
	}
	return append(b, ']')
}

// AppendHeader appends h as a JSON object of string arrays, names sorted,
// as encoding/json writes an http.Header (a nil value list is null). The
// names are sorted on each call: it runs only for results that keep their
// headers (fetch.Options.ResponseHeaders).
func AppendHeader(b []byte, h http.Header) []byte {
	b = append(b, '{')
	for i, name := range slices.Sorted(maps.Keys(h)) {
		if i > 0 {
			b = append(b, ',')
		}
		b = AppendString(b, name)
		b = append(b, ':')
		vs := h[name]
		if vs == nil {
			b = append(b, "null"...)
			continue
		}
		b = append(b, '[')
		for j, v := range vs {
			if j > 0 {
				b = append(b, ',')
			}
			b = AppendString(b, v)
		}
		b = append(b, ']')
	}
	return append(b, '}')
}
