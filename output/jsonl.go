package output

import (
	"fmt"
	"io"
	"strconv"

	"github.com/fanout/fanout/fetch"
	"github.com/fanout/fanout/internal/jsonw"
)

// jsonlEncoder writes one JSON object per line with fetch.Result's json
// tags, then "accepted", the verdict of its Accept. It appends by hand
// rather than through encoding/json because this is the hot path of large
// runs; TestJSONLMatchesEncodingJSON holds its output byte for byte to
// encoding/json's (with HTML escaping off), so the schema stays the one
// declared in fetch/result.go.
type jsonlEncoder struct {
	lb     lineBuf
	accept Accept
}

func newJSONLEncoder(w io.Writer, a Accept) *jsonlEncoder {
	return &jsonlEncoder{lb: newLineBuf(w), accept: a}
}

// Encode writes r as one JSON line.
func (e *jsonlEncoder) Encode(r *fetch.Result) error {
	e.lb.buf = appendAccepted(appendResultJSON(e.lb.buf, r), e.accept.OK(r))
	e.lb.buf = append(e.lb.buf, '\n')
	return e.lb.commit()
}

// WriteRecord writes rec, a record made by AppendJSONL, as one line, with
// accepted added.
func (e *jsonlEncoder) WriteRecord(rec []byte, accepted bool) error {
	if len(rec) < 2 || rec[0] != '{' || rec[len(rec)-1] != '}' {
		// appendAccepted replaces the closing brace: without one it
		// would eat the previous line's newline, or panic on none.
		return fmt.Errorf("output: a result record that is not a JSON object: %.40q", rec)
	}
	e.lb.buf = appendAccepted(append(e.lb.buf, rec...), accepted)
	e.lb.buf = append(e.lb.buf, '\n')
	return e.lb.commit()
}

// appendAccepted adds the "accepted" field to the record that b ends with:
// last, so that a record made without it (AppendJSONL's, from a worker,
// which does not know the collector's --accept) takes it as it is.
func appendAccepted(b []byte, accepted bool) []byte {
	b = append(b[:len(b)-1], `,"accepted":`...)
	b = strconv.AppendBool(b, accepted)
	return append(b, '}')
}

// Flush writes buffered lines.
func (e *jsonlEncoder) Flush() error { return e.lb.Flush() }

// AppendJSONL appends r's JSON Lines record without its newline and without
// its "accepted" field: the jsonl format writes these bytes for r with
// accepted added last (RecordWriter). A distributed worker sends results
// this way, and collect -f jsonl writes them through with its own verdict.
func AppendJSONL(b []byte, r *fetch.Result) []byte { return appendResultJSON(b, r) }

// appendResultJSON appends the JSON object for r, without a newline.
func appendResultJSON(b []byte, r *fetch.Result) []byte {
	b = append(b, `{"input":`...)
	b = jsonw.AppendString(b, r.Input)
	b = append(b, `,"url":`...)
	b = jsonw.AppendString(b, r.URL)
	b = append(b, `,"final_url":`...)
	b = jsonw.AppendString(b, r.FinalURL)
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(r.Status), 10)
	b = append(b, `,"proto":`...)
	b = jsonw.AppendString(b, r.Proto)
	b = append(b, `,"method":`...)
	b = jsonw.AppendString(b, r.Method)
	b = append(b, `,"content_type":`...)
	b = jsonw.AppendString(b, r.ContentType)
	b = append(b, `,"content_length":`...)
	if r.ContentLength == nil {
		b = append(b, "null"...)
	} else {
		b = strconv.AppendInt(b, *r.ContentLength, 10)
	}
	if r.ContentEncoding != "" {
		b = append(b, `,"content_encoding":`...)
		b = jsonw.AppendString(b, r.ContentEncoding)
	}
	b = append(b, `,"bytes":`...)
	b = strconv.AppendInt(b, r.Bytes, 10)
	b = append(b, `,"truncated":`...)
	b = strconv.AppendBool(b, r.Truncated)
	b = append(b, `,"title":`...)
	b = jsonw.AppendString(b, r.Title)
	b = append(b, `,"server":`...)
	b = jsonw.AppendString(b, r.Server)
	b = append(b, `,"ip":`...)
	b = jsonw.AppendString(b, r.IP)
	if r.BodySHA256 != "" {
		b = append(b, `,"body_sha256":`...)
		b = jsonw.AppendString(b, r.BodySHA256)
	}
	if r.Saved {
		b = append(b, `,"saved":true`...)
	}
	if r.Worker != "" {
		b = append(b, `,"worker":`...)
		b = jsonw.AppendString(b, r.Worker)
	}
	// Before the redirects, not at the end: collect reads attempts and
	// started_at from a record's last bytes first, and 32 KiB of headers
	// after them sent every search to the record's start.
	if len(r.Header) > 0 {
		b = append(b, `,"headers":`...)
		b = jsonw.AppendHeader(b, r.Header)
	}
	if r.HeadersTruncated {
		b = append(b, `,"headers_truncated":true`...)
	}
	b = append(b, `,"redirects":`...)
	if r.Redirects == nil {
		b = append(b, "null"...)
	} else {
		b = jsonw.AppendHops(b, r.Redirects)
	}
	if r.Location != "" {
		b = append(b, `,"location":`...)
		b = jsonw.AppendString(b, r.Location)
	}
	b = append(b, `,"attempts":`...)
	b = strconv.AppendInt(b, int64(r.Attempts), 10)
	t := &r.Timing
	b = append(b, `,"timing":{"dns":`...)
	b = jsonw.AppendFloat(b, t.DNS)
	b = append(b, `,"connect":`...)
	b = jsonw.AppendFloat(b, t.Connect)
	b = append(b, `,"tls":`...)
	b = jsonw.AppendFloat(b, t.TLS)
	b = append(b, `,"ttfb":`...)
	b = jsonw.AppendFloat(b, t.TTFB)
	b = append(b, `,"transfer":`...)
	b = jsonw.AppendFloat(b, t.Transfer)
	b = append(b, `,"total":`...)
	b = jsonw.AppendFloat(b, t.Total)
	b = append(b, `},"error":`...)
	if r.Error == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, `{"kind":`...)
		b = jsonw.AppendString(b, string(r.Error.Kind))
		b = append(b, `,"message":`...)
		b = jsonw.AppendString(b, r.Error.Message)
		b = append(b, '}')
	}
	b = append(b, `,"started_at":`...)
	b = jsonw.AppendTime(b, r.StartedAt)
	return append(b, '}')
}
