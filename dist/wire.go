package dist

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/klauspost/compress/s2"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/fanout/fanout/fetch"
	"github.com/fanout/fanout/output"
)

// encHeader names the compression of a message body. Bodies are S2
// blocks: a batch of JSON Lines results shrinks about sevenfold for 0.3 µs
// a result, and the server then stores, copies and delivers a seventh of
// the bytes, which was most of its remaining CPU per target.
const encHeader = "Fanout-Encoding"

// compressor compresses message bodies through one buffer it keeps. s2
// wants room for its worst case, a little more than the input, and a body
// made by s2.Encode(nil, data) is a slice of that room, all of which the
// message keeps until JetStream acknowledges it: ~400 KB for a batch of 500
// results whose compressed body is ~40 KB, freshly allocated (and faulted
// in) for every batch. Not safe for concurrent use.
type compressor struct{ buf []byte }

// msg returns a message carrying data compressed, in a slice of its own
// size.
func (c *compressor) msg(subject string, data []byte) *nats.Msg {
	enc := s2.Encode(c.buf[:cap(c.buf)], data)
	c.buf = enc[:0]
	return &nats.Msg{Subject: subject, Header: nats.Header{encHeader: []string{"s2"}},
		Data: bytes.Clone(enc)}
}

// body returns m's body, uncompressed.
func body(m jetstream.Msg) ([]byte, error) { return bodyInto(nil, m) }

// bodyInto is body, uncompressing into *buf (when buf is not nil), which
// it keeps for the next call: collect reuses one buffer rather than
// allocate each message's batch of results (~300 KB at 500 a batch) for
// the garbage collector.
func bodyInto(buf *[]byte, m jetstream.Msg) ([]byte, error) {
	switch enc := m.Headers().Get(encHeader); enc {
	case "":
		return m.Data(), nil
	case "s2":
		var dst []byte
		if buf != nil {
			dst = (*buf)[:cap(*buf)]
		}
		b, err := s2.Decode(dst, m.Data())
		if err != nil {
			return nil, fmt.Errorf("message %s: %w", m.Headers().Get(jetstream.MsgIDHeader), err)
		}
		if buf != nil {
			*buf = b
		}
		return b, nil
	default:
		return nil, fmt.Errorf("message %s: unknown %s %q (a newer fanout sent it?)",
			m.Headers().Get(jetstream.MsgIDHeader), encHeader, enc)
	}
}

// A work message carries a batch of one partition's targets, one record a
// line:
//
//	seq \t flags \t input \t url \t host key \t invalid
//
// flags is "b" for a bare target or empty; url is empty when it equals the
// input, or when the target is invalid (it has none). Fields are escaped
// (\\, \t, \n) so a record is always one line.
// A hand-written format rather than JSON: the worker decodes every target,
// and this costs a fraction of encoding/json.

// appendTarget appends t's record and its newline.
func appendTarget(b []byte, t *fetch.Target) []byte {
	b = strconv.AppendUint(b, t.Seq, 10)
	b = append(b, '\t')
	if t.Bare {
		b = append(b, 'b')
	}
	b = append(b, '\t')
	b = appendEscaped(b, t.Input)
	b = append(b, '\t')
	if t.URL != t.Input {
		b = appendEscaped(b, t.URL)
	}
	b = append(b, '\t')
	b = appendEscaped(b, t.HostKey)
	b = append(b, '\t')
	b = appendEscaped(b, t.Invalid)
	return append(b, '\n')
}

// parseTargets decodes a work message's records.
func parseTargets(data []byte) ([]fetch.Target, error) {
	ts := make([]fetch.Target, 0, bytes.Count(data, []byte{'\n'}))
	for len(data) > 0 {
		line, rest, _ := bytes.Cut(data, []byte{'\n'})
		data = rest
		var f [6][]byte
		n := 0
		for n < 5 {
			i := bytes.IndexByte(line, '\t')
			if i < 0 {
				break
			}
			f[n], line = line[:i], line[i+1:]
			n++
		}
		if n != 5 {
			return nil, fmt.Errorf("target record %d: %d fields, want 6", len(ts), n+1)
		}
		f[5] = line
		seq, err := strconv.ParseUint(string(f[0]), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("target record %d: bad sequence number %q", len(ts), f[0])
		}
		t := fetch.Target{Seq: seq, Bare: string(f[1]) == "b"}
		var errs [4]error
		t.Input, errs[0] = unescape(f[2])
		t.URL, errs[1] = unescape(f[3])
		t.HostKey, errs[2] = unescape(f[4])
		t.Invalid, errs[3] = unescape(f[5])
		if err := errors.Join(errs[:]...); err != nil {
			return nil, fmt.Errorf("target %d: %w", seq, err)
		}
		if len(f[3]) == 0 && t.Invalid == "" {
			// An invalid target has no URL: an empty field is not
			// "the same as the input" there, which would give its
			// result the input as url where a local run gives "".
			t.URL = t.Input
		}
		ts = append(ts, t)
	}
	return ts, nil
}

// appendEscaped appends s with \\, \t and \n escaped. Most fields need no
// escape and are appended whole: copying a URL byte by byte was a third of
// submit's CPU.
func appendEscaped(b []byte, s string) []byte {
	for {
		i := 0
		for i < len(s) && s[i] != '\\' && s[i] != '\t' && s[i] != '\n' {
			i++
		}
		b = append(b, s[:i]...)
		if i == len(s) {
			return b
		}
		switch s[i] {
		case '\\':
			b = append(b, '\\', '\\')
		case '\t':
			b = append(b, '\\', 't')
		default:
			b = append(b, '\\', 'n')
		}
		s = s[i+1:]
	}
}

func unescape(f []byte) (string, error) {
	if bytes.IndexByte(f, '\\') < 0 {
		return string(f), nil
	}
	out := make([]byte, 0, len(f))
	for i := 0; i < len(f); i++ {
		c := f[i]
		if c != '\\' {
			out = append(out, c)
			continue
		}
		if i++; i == len(f) {
			return "", errors.New("escape at the end of a field")
		}
		switch f[i] {
		case '\\':
			out = append(out, '\\')
		case 't':
			out = append(out, '\t')
		case 'n':
			out = append(out, '\n')
		default:
			return "", fmt.Errorf("unknown escape \\%c", f[i])
		}
	}
	return string(out), nil
}

// A result message carries the results of one work message, one line each:
//
//	seq \t status \t error kind \t bytes \t total ms \t JSON Lines record
//
// The record is exactly what `-f jsonl` writes for the result but for its
// last field, "accepted", which collect adds by its own --accept (a
// worker's --accept says only which bodies its --match searches, and
// judges nothing); it never holds a tab or a newline (JSON escapes them), so
// collect can write it through without decoding. The fields before it,
// with the record's started_at and attempts, are all a summary, and the
// verdict, need.

// appendResultLine appends r's line and its newline.
func appendResultLine(b []byte, r *fetch.Result) []byte {
	b = strconv.AppendUint(b, r.Seq, 10)
	b = append(b, '\t')
	b = strconv.AppendInt(b, int64(r.Status), 10)
	b = append(b, '\t')
	if r.Error != nil {
		b = append(b, r.Error.Kind...)
	}
	b = append(b, '\t')
	b = strconv.AppendInt(b, r.Bytes, 10)
	b = append(b, '\t')
	b = strconv.AppendFloat(b, r.Timing.Total, 'g', -1, 64)
	b = append(b, '\t')
	b = output.AppendJSONL(b, r)
	return append(b, '\n')
}

// resultLine is one parsed line of a result message.
type resultLine struct {
	seq     uint64
	summary fetch.Result // Seq, Status, Error.Kind, Bytes, Timing.Total, Attempts, Truncated and StartedAt only
	kind    fetch.Error  // summary.Error points here when there was an error
	json    []byte       // the JSON Lines record, without its newline
}

// nextResultLine parses the first line of data and returns the rest.
func nextResultLine(data []byte, l *resultLine) ([]byte, error) {
	line, rest, _ := bytes.Cut(data, []byte{'\n'})
	var f [5][]byte
	for i := range f {
		j := bytes.IndexByte(line, '\t')
		if j < 0 {
			return rest, fmt.Errorf("result line with %d fields, want 6", i+1)
		}
		f[i], line = line[:j], line[j+1:]
	}
	seq, err1 := strconv.ParseUint(string(f[0]), 10, 64)
	status, err2 := strconv.Atoi(string(f[1]))
	n, err3 := strconv.ParseInt(string(f[3]), 10, 64)
	total, err4 := strconv.ParseFloat(string(f[4]), 64)
	if err := errors.Join(err1, err2, err3, err4); err != nil {
		return rest, fmt.Errorf("result line %q: %w", f[0], err)
	}
	if len(line) < 2 || line[0] != '{' || line[len(line)-1] != '}' {
		// collect writes the record through, its verdict put before the
		// closing brace: a record without one would corrupt the output.
		return rest, fmt.Errorf("result line %q: the record is not a JSON object", f[0])
	}
	*l = resultLine{seq: seq, json: line}
	l.summary.Seq, l.summary.Status, l.summary.Bytes, l.summary.Timing.Total = seq, status, n, total
	if len(f[2]) > 0 {
		l.kind.Kind = fetch.ErrorKind(f[2])
		l.summary.Error = &l.kind
	}
	l.summary.StartedAt = startedAt(line)
	l.summary.Attempts = attempts(line)
	l.summary.Truncated = truncated(line)
	return rest, nil
}

// truncated reads whether a JSON Lines record's body was cut at
// --max-body, for the summary's count. The key comes early (after bytes),
// so the record is searched from its start; ',"' before it keeps
// "headers_truncated" out, and a string value cannot hold it (its quotes
// are escaped).
func truncated(rec []byte) bool {
	const key = `,"truncated":`
	i := bytes.Index(rec, []byte(key))
	return i >= 0 && bytes.HasPrefix(rec[i+len(key):], []byte("true"))
}

// attempts reads the attempts of a JSON Lines record, or gives 0: the
// summary counts retries. Like started_at it is read from the record, not
// sent as a field of its own, so that workers and collects of either
// version still understand each other's lines. The key comes before the
// timing (numbers only), the error and started_at: the tail, searched
// first, holds it unless an error message is long.
func attempts(rec []byte) int {
	v := valueOf(rec, `,"attempts":`, 384)
	n := 0
	for i, c := range v {
		if c < '0' || c > '9' || i == 9 { // attempts are retries + 1: a few digits
			break
		}
		n = n*10 + int(c-'0')
	}
	return n
}

// startedAt reads the started_at of a JSON Lines record, or gives the zero
// time. It is the record's last field, so the tail is searched first: a
// search of the whole record cost collect more than the rest of its work
// on a result.
func startedAt(rec []byte) time.Time {
	v := valueOf(rec, `"started_at":"`, 64) // the key, the longest RFC 3339 time, `"}`
	j := bytes.IndexByte(v, '"')
	if j < 0 {
		return time.Time{}
	}
	t, _ := time.Parse(time.RFC3339Nano, string(v[:j]))
	return t
}

// valueOf returns what follows key in a JSON Lines record, or nil: its
// last tail bytes are searched first, then the whole record. The key is
// matched as written, quotes and all: inside a string value every quote
// is escaped, so only the key itself matches.
func valueOf(rec []byte, key string, tail int) []byte {
	from := max(0, len(rec)-tail)
	i := bytes.LastIndex(rec[from:], []byte(key))
	if i >= 0 {
		i += from
	} else if i = bytes.Index(rec, []byte(key)); i < 0 {
		return nil
	}
	return rec[i+len(key):]
}
