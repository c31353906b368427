package output

import (
	"io"
	"math"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/fanout/fanout/fetch"
)

// jsonlEncoder writes one JSON object per line with fetch.Result's json
// tags. It appends by hand rather than through encoding/json because this is
// the hot path of large runs; TestJSONLMatchesEncodingJSON holds its output
// byte for byte to encoding/json's (with HTML escaping off), so the schema
// stays the one declared in fetch/result.go.
type jsonlEncoder struct {
	lb lineBuf
}

func newJSONLEncoder(w io.Writer) *jsonlEncoder {
	return &jsonlEncoder{lb: newLineBuf(w)}
}

// Encode writes r as one JSON line.
func (e *jsonlEncoder) Encode(r *fetch.Result) error {
	e.lb.buf = append(appendResultJSON(e.lb.buf, r), '\n')
	return e.lb.commit()
}

// WriteRecord writes rec, a record made by AppendJSONL, as one line.
func (e *jsonlEncoder) WriteRecord(rec []byte) error {
	e.lb.buf = append(append(e.lb.buf, rec...), '\n')
	return e.lb.commit()
}

// Flush writes buffered lines.
func (e *jsonlEncoder) Flush() error { return e.lb.Flush() }

// AppendJSONL appends r's JSON Lines record without its newline: the bytes
// the jsonl format writes for r. A distributed worker sends results this
// way so that collect -f jsonl can write them through unchanged.
func AppendJSONL(b []byte, r *fetch.Result) []byte { return appendResultJSON(b, r) }

// appendResultJSON appends the JSON object for r, without a newline.
func appendResultJSON(b []byte, r *fetch.Result) []byte {
	b = append(b, `{"input":`...)
	b = appendJSONString(b, r.Input)
	b = append(b, `,"url":`...)
	b = appendJSONString(b, r.URL)
	b = append(b, `,"final_url":`...)
	b = appendJSONString(b, r.FinalURL)
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(r.Status), 10)
	b = append(b, `,"proto":`...)
	b = appendJSONString(b, r.Proto)
	b = append(b, `,"method":`...)
	b = appendJSONString(b, r.Method)
	b = append(b, `,"content_type":`...)
	b = appendJSONString(b, r.ContentType)
	b = append(b, `,"content_length":`...)
	if r.ContentLength == nil {
		b = append(b, "null"...)
	} else {
		b = strconv.AppendInt(b, *r.ContentLength, 10)
	}
	b = append(b, `,"bytes":`...)
	b = strconv.AppendInt(b, r.Bytes, 10)
	b = append(b, `,"truncated":`...)
	b = strconv.AppendBool(b, r.Truncated)
	b = append(b, `,"title":`...)
	b = appendJSONString(b, r.Title)
	b = append(b, `,"server":`...)
	b = appendJSONString(b, r.Server)
	b = append(b, `,"ip":`...)
	b = appendJSONString(b, r.IP)
	if r.BodySHA256 != "" {
		b = append(b, `,"body_sha256":`...)
		b = appendJSONString(b, r.BodySHA256)
	}
	b = append(b, `,"redirects":`...)
	if r.Redirects == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, h := range r.Redirects {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"url":`...)
			b = appendJSONString(b, h.URL)
			b = append(b, `,"status":`...)
			b = strconv.AppendInt(b, int64(h.Status), 10)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	b = append(b, `,"attempts":`...)
	b = strconv.AppendInt(b, int64(r.Attempts), 10)
	t := &r.Timing
	b = append(b, `,"timing":{"dns":`...)
	b = appendJSONFloat(b, t.DNS)
	b = append(b, `,"connect":`...)
	b = appendJSONFloat(b, t.Connect)
	b = append(b, `,"tls":`...)
	b = appendJSONFloat(b, t.TLS)
	b = append(b, `,"ttfb":`...)
	b = appendJSONFloat(b, t.TTFB)
	b = append(b, `,"transfer":`...)
	b = appendJSONFloat(b, t.Transfer)
	b = append(b, `,"total":`...)
	b = appendJSONFloat(b, t.Total)
	b = append(b, `},"error":`...)
	if r.Error == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, `{"kind":`...)
		b = appendJSONString(b, string(r.Error.Kind))
		b = append(b, `,"message":`...)
		b = appendJSONString(b, r.Error.Message)
		b = append(b, '}')
	}
	b = append(b, `,"started_at":`...)
	b = appendJSONTime(b, r.StartedAt)
	return append(b, '}')
}

// jsonSafe marks the ASCII bytes that need no escaping in a JSON string.
var jsonSafe = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// appendJSONString appends s as a JSON string the way encoding/json does
// with HTML escaping off: invalid UTF-8 becomes \ufffd (so output is always
// valid UTF-8), and U+2028 and U+2029 are escaped for JavaScript.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
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

// appendJSONFloat appends f as encoding/json does. NaN and infinities, which
// JSON cannot hold and timing never should, are written as 0 so that one
// odd value cannot make the line invalid.
func appendJSONFloat(b []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(b, '0')
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

// appendJSONTime appends t in RFC 3339 with nanoseconds, as time.Time's
// MarshalJSON does. A year outside 0..9999, which MarshalJSON refuses, is
// written anyway rather than failing the run.
func appendJSONTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}
