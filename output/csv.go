package output

import (
	"bytes"
	"encoding/csv"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/fanout/fanout/fetch"
)

// CSVHeader lists the csv format's columns, in order. It is a copy, for
// reading: the encoders keep their own, so changing it changes nothing
// they write.
var CSVHeader = slices.Clone(csvHeader)

// csvHeader is the header the encoders write; its length is a row's.
var csvHeader = []string{
	"input", "url", "final_url", "status", "proto", "method", "content_type",
	"content_length", "bytes", "truncated", "title", "server", "ip", "redirects",
	"attempts", "dns_ms", "connect_ms", "tls_ms", "ttfb_ms", "transfer_ms",
	"total_ms", "error_kind", "error_message", "started_at", "body_sha256",
	"location", "accepted", "saved", "worker", "content_encoding",
}

// csvEncoder writes a header row, then one row per result. encoding/csv
// writes each record into a scratch buffer first, so the line buffer only
// ever receives whole records.
type csvEncoder struct {
	lb      lineBuf
	accept  Accept
	scratch bytes.Buffer
	cw      *csv.Writer
	row     []string
	header  bool // written
}

func newCSVEncoder(w io.Writer, a Accept) *csvEncoder {
	e := &csvEncoder{lb: newLineBuf(w), accept: a, row: make([]string, len(csvHeader))}
	e.cw = csv.NewWriter(&e.scratch)
	return e
}

// Encode writes the row for r, preceded by the header on the first call.
func (e *csvEncoder) Encode(r *fetch.Result) error {
	if !e.header {
		if err := e.record(csvHeader); err != nil {
			return err
		}
		e.header = true
	}
	row := e.row
	row[0] = cell(r.Input)
	row[1] = cell(r.URL)
	row[2] = cell(r.FinalURL)
	row[3] = strconv.Itoa(r.Status)
	row[4] = cell(r.Proto)
	row[5] = cell(r.Method)
	row[6] = cell(r.ContentType)
	row[7] = ""
	if r.ContentLength != nil {
		row[7] = strconv.FormatInt(*r.ContentLength, 10)
	}
	row[8] = strconv.FormatInt(r.Bytes, 10)
	row[9] = strconv.FormatBool(r.Truncated)
	row[10] = cell(r.Title)
	row[11] = cell(r.Server)
	row[12] = cell(r.IP)
	row[13] = strconv.Itoa(len(r.Redirects))
	row[14] = strconv.Itoa(r.Attempts)
	row[15] = csvMillis(r.Timing.DNS)
	row[16] = csvMillis(r.Timing.Connect)
	row[17] = csvMillis(r.Timing.TLS)
	row[18] = csvMillis(r.Timing.TTFB)
	row[19] = csvMillis(r.Timing.Transfer)
	row[20] = csvMillis(r.Timing.Total)
	row[21], row[22] = "", ""
	if r.Error != nil {
		row[21] = cell(string(r.Error.Kind))
		row[22] = cell(r.Error.Message)
	}
	row[23] = ""
	if !r.StartedAt.IsZero() {
		row[23] = r.StartedAt.Format(time.RFC3339Nano)
	}
	row[24] = r.BodySHA256 // columns added later go at the end, for scripts that count
	row[25] = cell(r.Location)
	row[26] = strconv.FormatBool(e.accept.OK(r))
	row[27] = strconv.FormatBool(r.Saved)
	row[28] = cell(r.Worker)
	// No column for Header: a JSON object in a cell is no table, and a
	// column present only with --response-headers would make two csv
	// schemas. jsonl carries the headers.
	row[29] = cell(r.ContentEncoding) // fanout's own tokens, but a decoded record or the store may hold anything
	return e.record(row)
}

// record writes one row through the scratch buffer into the line buffer.
func (e *csvEncoder) record(row []string) error {
	e.scratch.Reset()
	if err := e.cw.Write(row); err != nil {
		return err
	}
	e.cw.Flush()
	if err := e.cw.Error(); err != nil {
		return err
	}
	e.lb.buf = append(e.lb.buf, e.scratch.Bytes()...)
	return e.lb.commit()
}

// Flush writes buffered rows. A run without results still gets its header,
// so the file is a valid, empty table.
func (e *csvEncoder) Flush() error {
	if !e.header {
		if err := e.record(csvHeader); err != nil {
			return err
		}
		e.header = true
	}
	return e.lb.Flush()
}

// csvMillis formats a timing in milliseconds, shortest exact form.
func csvMillis(ms float64) string {
	return strconv.FormatFloat(ms, 'f', -1, 64)
}

// cell prepares a text cell that may come from the network: invalid UTF-8
// becomes U+FFFD, and a cell a spreadsheet would run as a formula (starting
// with =, +, -, @, tab or CR) gets a leading single quote, the OWASP
// CSV-injection rule.
func cell(s string) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	if s != "" {
		switch s[0] {
		case '=', '+', '-', '@', '\t', '\r':
			return "'" + s
		}
	}
	return s
}
