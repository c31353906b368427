package output

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/fanout/fanout/fetch"
)

// Encoder writes results in one format. One goroutine owns an Encoder; each
// Encode writes one whole record. Output is buffered: call Flush at the end
// and on a short timer so a slow run still shows its results.
type Encoder interface {
	// Encode writes one result as one record (one line for every format;
	// csv quotes embedded newlines).
	Encode(r *fetch.Result) error
	// Flush writes buffered records to the underlying writer.
	Flush() error
}

// RecordWriter is implemented by the jsonl encoder: WriteRecord writes a
// record made by AppendJSONL as it is, with only its "accepted" field
// added, so a result that arrives encoded (from a distributed worker) is
// not decoded and encoded again.
type RecordWriter interface {
	// WriteRecord writes rec, one record made by AppendJSONL (without its
	// newline), as one line, with accepted (the caller's Accept.OK of the
	// result) added. The caller vouches that rec is such a record: only
	// its braces are checked (an error, nothing written, without them).
	WriteRecord(rec []byte, accepted bool) error
}

var _ RecordWriter = (*jsonlEncoder)(nil)

// EncoderOptions adjusts an encoder. The zero value suits a new file or a
// pipe: no colour, the default accept rule.
type EncoderOptions struct {
	// Color paints the text format's status and failures with ANSI
	// colours by status class (whatever w is: the caller decides whether
	// it is a terminal). The other formats ignore it.
	Color bool
	// Accept decides which results count as success: the text format
	// shows the others as failures ("rejected" when only the status is
	// outside it), jsonl and csv write its verdict in "accepted". The
	// zero Accept is DefaultAccept.
	Accept Accept
	// Appending is set when the encoder continues a file that already
	// begins with the format's preamble (a resumed run's -o FILE): csv
	// then writes no second header row.
	Appending bool
}

// Formats lists the format names NewEncoder accepts, default first. It is
// a copy, for reading: changing it changes nothing NewEncoder does.
var Formats = slices.Clone(formats)

var formats = []string{"text", "jsonl", "csv", "url"}

// ParseFormat returns the format named by name, in any case ("JSONL" is
// "jsonl"), or an error that lists the formats, or names the one meant
// when name is a common other name for it ("json").
func ParseFormat(name string) (string, error) {
	f := strings.ToLower(name)
	if slices.Contains(formats, f) {
		return f, nil
	}
	switch f {
	case "json", "ndjson", "jsonlines", "json-lines":
		// Each result is one JSON object on its own line, not one JSON
		// document: jsonl is the name for that.
		return "", fmt.Errorf("unknown output format %q: did you mean jsonl? (one JSON object per line)", name)
	}
	return "", fmt.Errorf("unknown output format %q (choose %s)", name, strings.Join(formats, ", "))
}

// NewEncoder returns the encoder for format "text", "jsonl", "csv" or "url"
// (in any case, as ParseFormat takes it) writing to w. The encoder buffers internally and hands w only whole records, each
// in a single Write, so several encoders sharing one stream never interleave
// inside a line. A nil w is an error, not a panic at the first Flush.
func NewEncoder(format string, w io.Writer, o EncoderOptions) (Encoder, error) {
	if w == nil {
		return nil, fmt.Errorf("output: %s encoder with a nil writer", format)
	}
	format, err := ParseFormat(format)
	if err != nil {
		return nil, err
	}
	switch format {
	case "text":
		return newTextEncoder(w, o), nil
	case "jsonl":
		return newJSONLEncoder(w, o.Accept), nil
	case "csv":
		e := newCSVEncoder(w, o.Accept)
		e.header = o.Appending
		return e, nil
	case "url":
		return newURLEncoder(w), nil
	}
	return nil, fmt.Errorf("output: format %q is listed but has no encoder", format)
}

// flushAt is the buffered size at which an encoder hands its records to the
// writer. Records are appended whole, so every Write holds whole records.
const flushAt = 32 << 10

// lineBuf collects whole records and writes them in one Write per flush.
// Unlike bufio.Writer it never splits a record across two Writes: a record is
// appended in full (growing the buffer if it must) before any flush.
type lineBuf struct {
	w   io.Writer
	buf []byte
	err error // sticky: once a Write failed the output is unusable
}

func newLineBuf(w io.Writer) lineBuf {
	return lineBuf{w: w, buf: make([]byte, 0, flushAt+flushAt/4)}
}

// commit is called after a whole record was appended to buf.
func (l *lineBuf) commit() error {
	if len(l.buf) >= flushAt {
		return l.Flush()
	}
	return l.err
}

// Flush writes the buffered records.
func (l *lineBuf) Flush() error {
	if l.err != nil {
		return l.err
	}
	if len(l.buf) == 0 {
		return nil
	}
	_, err := l.w.Write(l.buf)
	l.buf = l.buf[:0]
	if cap(l.buf) > 8*flushAt {
		// One huge record grew the buffer; do not keep it for the whole run.
		l.buf = make([]byte, 0, flushAt+flushAt/4)
	}
	if err != nil {
		l.err = fmt.Errorf("write output: %w", err)
	}
	return l.err
}
