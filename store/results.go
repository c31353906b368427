package store

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"iter"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/fanout/fanout/fetch"
	"github.com/fanout/fanout/internal/jsonw"
)

// extra holds the result fields that have no column of their own; it is
// stored as JSON in results.extra with the schema's field names, so
// json_extract(extra, '$.timing.ttfb') works in the sqlite3 shell. Empty
// values are left out to keep rows small: a missing key reads as the
// schema's zero value (json_extract gives NULL; use coalesce).
type extra struct {
	Proto         string       `json:"proto,omitempty"`
	Method        string       `json:"method,omitempty"`
	ContentLength *int64       `json:"content_length,omitempty"`
	ContentEnc    string       `json:"content_encoding,omitempty"`
	Truncated     bool         `json:"truncated,omitempty"`
	Server        string       `json:"server,omitempty"`
	BodySHA256    string       `json:"body_sha256,omitempty"`
	Saved         bool         `json:"saved,omitempty"`     // absent in rows recorded before --save
	Worker        string       `json:"worker,omitempty"`    // the distributed worker's ID; absent for local runs
	Redirects     *[]fetch.Hop `json:"redirects,omitempty"` // a pointer keeps [] apart from null
	Location      string       `json:"location,omitempty"`
	Header        http.Header  `json:"headers,omitempty"` // --response-headers
	HeadersCut    bool         `json:"headers_truncated,omitempty"`
	Timing        timing       `json:"timing"`
}

// timing is fetch.Timing without its zero phases (a reused connection has
// no dns, connect or tls time).
type timing struct {
	DNS      float64 `json:"dns,omitempty"`
	Connect  float64 `json:"connect,omitempty"`
	TLS      float64 `json:"tls,omitempty"`
	TTFB     float64 `json:"ttfb,omitempty"`
	Transfer float64 `json:"transfer,omitempty"`
	Total    float64 `json:"total,omitempty"`
}

const resultColumns = `seq, input, url, final_url, status, ok, error_kind, error, total_ms, bytes,
  content_type, title, ip, attempts, started_at, extra`

// Record is one stored result and whether the run accepted it (its ok
// column, computed with the run's --accept rule).
type Record struct {
	// Result is the stored result, made anew for each Record (Seq is the
	// target's position in the run's input).
	Result *fetch.Result
	// OK is its ok column: whether the run's accept rule accepted it.
	OK bool
}

// Results returns the results of run runID in input (Seq) order. Each
// *fetch.Result is new and may be kept. The iteration stops at the first
// error, which it yields with a nil result.
//
// This is the read API for reports and re-emitting: Results(id) gives back
// every field of the documented schema exactly as the run produced it.
func (db *DB) Results(runID int64) iter.Seq2[*fetch.Result, error] {
	return func(yield func(*fetch.Result, error) bool) {
		for rec, err := range db.Records(runID, AllResults) {
			if !yield(rec.Result, err) || err != nil {
				return
			}
		}
	}
}

// Verdicts selects the results Records yields by their ok flag.
type Verdicts int

const (
	AllResults   Verdicts = iota
	FailedOnly            // the results the run did not accept (show --failed)
	AcceptedOnly          // those it accepted (show --accepted)
)

// Records is Results with each result's ok flag, those only selects.
func (db *DB) Records(runID int64, only Verdicts) iter.Seq2[Record, error] {
	return func(yield func(Record, error) bool) {
		if _, err := db.Run(runID); err != nil {
			yield(Record{}, err) // a run that does not exist is not an empty one
			return
		}
		// Results are stored in the order the run recorded them; SQLite
		// sorts them into input order, spilling to temporary files (see
		// poolTempStore) for a large run.
		q := `SELECT ` + resultColumns + ` FROM results WHERE id BETWEEN ? AND ?`
		switch only {
		case FailedOnly:
			q += ` AND ok = 0`
		case AcceptedOnly:
			q += ` AND ok = 1`
		}
		lo, hi := runIDs(runID)
		rows, err := db.sql.Query(q+` ORDER BY seq`, lo, hi)
		if err != nil {
			yield(Record{}, fmt.Errorf("--db %s: run %d: %w", db.path, runID, err))
			return
		}
		defer rows.Close()
		for rows.Next() {
			rec, err := scanResult(rows)
			if err != nil {
				yield(Record{}, fmt.Errorf("--db %s: run %d: %w", db.path, runID, err))
				return
			}
			if !yield(rec, nil) {
				return
			}
		}
		if err := rows.Err(); err != nil {
			yield(Record{}, fmt.Errorf("--db %s: run %d: %w", db.path, runID, err))
		}
	}
}

// Lean returns run runID's results in the order the run recorded (and
// wrote) them, with only the fields a summary counts: Seq, URL, Status,
// Error, Timing.Total, Bytes, Truncated and StartedAt. It reads a million results
// several times faster than Results, which decodes every field. The yielded result is reused: it is
// valid until the next one.
func (db *DB) Lean(runID int64) iter.Seq2[*fetch.Result, error] {
	return func(yield func(*fetch.Result, error) bool) {
		fail := func(err error) { yield(nil, fmt.Errorf("--db %s: run %d: %w", db.path, runID, err)) }
		lo, hi := runIDs(runID)
		// truncated is in extra's JSON, written by appendExtra only when
		// true: a substring search, not a JSON parse per row (a string
		// value cannot hold the key with its quotes unescaped, and
		// "headers_truncated" has no quote before its "truncated").
		rows, err := db.sql.Query(`SELECT seq, url, status, error_kind, error, total_ms, bytes, started_at,
			instr(extra, '"truncated":true') > 0
			FROM results WHERE id BETWEEN ? AND ? ORDER BY id`, lo, hi)
		if err != nil {
			fail(err)
			return
		}
		defer rows.Close()
		var r fetch.Result
		var e fetch.Error
		var kind, msg sql.NullString
		var started sql.RawBytes
		for rows.Next() {
			r = fetch.Result{}
			if err := rows.Scan(&r.Seq, &r.URL, &r.Status, &kind, &msg, &r.Timing.Total, &r.Bytes, &started, &r.Truncated); err != nil {
				fail(err)
				return
			}
			if kind.Valid {
				e = fetch.Error{Kind: fetch.ErrorKind(kind.String), Message: msg.String}
				r.Error = &e
			}
			if r.StartedAt, err = time.Parse(time.RFC3339Nano, string(started)); err != nil {
				fail(fmt.Errorf("result %d: started_at: %w", r.Seq, err))
				return
			}
			if !yield(&r, nil) {
				return
			}
		}
		if err := rows.Err(); err != nil {
			fail(err)
		}
	}
}

// ResultsAt returns the full results of run runID at seqs (those it has),
// in input order. The Seqs go in as one JSON array, not a parameter each:
// SQLite takes at most 32766 parameters, and --top may ask for more; and
// a run's results are read in one pass over its ids, whatever their number.
func (db *DB) ResultsAt(runID int64, seqs []uint64) ([]*fetch.Result, error) {
	if len(seqs) == 0 {
		return nil, nil
	}
	list, _ := json.Marshal(seqs)
	lo, hi := runIDs(runID)
	rows, err := db.sql.Query(`SELECT `+resultColumns+` FROM results WHERE id BETWEEN ? AND ?
		AND seq IN (SELECT value FROM json_each(?)) ORDER BY seq`, lo, hi, string(list))
	if err != nil {
		return nil, fmt.Errorf("--db %s: run %d: %w", db.path, runID, err)
	}
	defer rows.Close()
	var out []*fetch.Result
	for rows.Next() {
		rec, err := scanResult(rows)
		if err != nil {
			return nil, fmt.Errorf("--db %s: run %d: %w", db.path, runID, err)
		}
		out = append(out, rec.Result)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("--db %s: run %d: %w", db.path, runID, err)
	}
	return out, nil
}

func scanResult(s scanner) (Record, error) {
	r := &fetch.Result{}
	var ok bool
	var kind, msg sql.NullString
	var started, ex string
	err := s.Scan(&r.Seq, &r.Input, &r.URL, &r.FinalURL, &r.Status, &ok, &kind, &msg,
		&r.Timing.Total, &r.Bytes, &r.ContentType, &r.Title, &r.IP, &r.Attempts, &started, &ex)
	if err != nil {
		return Record{}, err
	}
	if kind.Valid {
		r.Error = &fetch.Error{Kind: fetch.ErrorKind(kind.String), Message: msg.String}
	}
	if r.StartedAt, err = time.Parse(time.RFC3339Nano, started); err != nil {
		return Record{}, fmt.Errorf("result %d: started_at: %w", r.Seq, err)
	}
	var x extra
	if err := json.Unmarshal([]byte(ex), &x); err != nil {
		return Record{}, fmt.Errorf("result %d: extra: %w", r.Seq, err)
	}
	r.Proto, r.Method, r.ContentLength, r.Truncated = x.Proto, x.Method, x.ContentLength, x.Truncated
	r.Server, r.BodySHA256, r.Location, r.Timing = x.Server, x.BodySHA256, x.Location, fetch.Timing(x.Timing)
	r.Saved, r.Worker, r.ContentEncoding, r.Header, r.HeadersTruncated = x.Saved, x.Worker, x.ContentEnc, x.Header, x.HeadersCut
	if x.Redirects != nil {
		r.Redirects = *x.Redirects
	}
	return Record{Result: r, OK: ok}, nil
}

// rows builds the arguments of an insert statement, one row after
// another in insertColumns order (but for run_id, which the statement
// holds): the values, and the texts they refer to, in one buffer that the
// statement copies to C memory at once.
type rows struct {
	args  []value
	texts []byte
}

func (b *rows) reset() { b.args, b.texts = b.args[:0], b.texts[:0] }

func (b *rows) int(i int64) { b.args = append(b.args, intValue(i)) }

func (b *rows) text(s string) {
	b.args = append(b.args, value{kind: valText, off: len(b.texts), n: len(s)})
	b.texts = append(b.texts, s...)
}

// since adds the text appended to b.texts since offset off.
func (b *rows) since(off int) {
	b.args = append(b.args, value{kind: valText, off: off, n: len(b.texts) - off})
}

// add appends the arguments of one result, all but its run's id, which
// the statement holds; its own id is NULL unless withID.
func (b *rows) add(r *fetch.Result, ok bool, id int64, withID bool) {
	if withID {
		b.int(id)
	} else {
		b.args = append(b.args, value{})
	}
	b.int(int64(r.Seq))
	b.text(r.Input)
	b.text(r.URL)
	b.text(hostOf(r.URL))
	b.text(r.FinalURL)
	b.int(int64(r.Status))
	b.args = append(b.args, boolValue(ok))
	if r.Error != nil {
		b.text(string(r.Error.Kind))
		b.text(r.Error.Message)
	} else {
		b.args = append(b.args, value{}, value{}) // NULL, NULL
	}
	b.args = append(b.args, realValue(r.Timing.Total))
	b.int(r.Bytes)
	b.text(r.ContentType)
	b.text(r.Title)
	b.text(r.IP)
	b.int(int64(r.Attempts))
	off := len(b.texts)
	b.texts = jsonw.AppendRFC3339Nano(b.texts, r.StartedAt)
	b.since(off)
	off = len(b.texts)
	b.texts = appendExtra(b.texts, r)
	b.since(off)
}

// appendExtra appends the JSON of extra for r, exactly as encoding/json
// marshals the extra struct (TestAppendExtraMatchesEncodingJSON holds it to
// that), without reflection: it runs once per recorded result.
func appendExtra(b []byte, r *fetch.Result) []byte {
	b = append(b, '{')
	if r.Proto != "" {
		b = appendKey(b, "proto")
		b = jsonw.AppendString(b, r.Proto)
	}
	if r.Method != "" {
		b = appendKey(b, "method")
		b = jsonw.AppendString(b, r.Method)
	}
	if r.ContentLength != nil {
		b = appendKey(b, "content_length")
		b = strconv.AppendInt(b, *r.ContentLength, 10)
	}
	if r.ContentEncoding != "" {
		b = appendKey(b, "content_encoding")
		b = jsonw.AppendString(b, r.ContentEncoding)
	}
	if r.Truncated {
		b = appendKey(b, "truncated")
		b = append(b, "true"...)
	}
	if r.Server != "" {
		b = appendKey(b, "server")
		b = jsonw.AppendString(b, r.Server)
	}
	if r.BodySHA256 != "" {
		b = appendKey(b, "body_sha256")
		b = jsonw.AppendString(b, r.BodySHA256)
	}
	if r.Saved {
		b = appendKey(b, "saved")
		b = append(b, "true"...)
	}
	if r.Worker != "" {
		b = appendKey(b, "worker")
		b = jsonw.AppendString(b, r.Worker)
	}
	if r.Redirects != nil {
		b = appendKey(b, "redirects")
		b = jsonw.AppendHops(b, r.Redirects)
	}
	if r.Location != "" {
		b = appendKey(b, "location")
		b = jsonw.AppendString(b, r.Location)
	}
	if len(r.Header) > 0 {
		b = appendKey(b, "headers")
		b = jsonw.AppendHeader(b, r.Header)
	}
	if r.HeadersTruncated {
		b = appendKey(b, "headers_truncated")
		b = append(b, "true"...)
	}
	b = appendKey(b, "timing")
	b = append(b, '{')
	t := &r.Timing
	for _, p := range [...]struct {
		name string
		v    float64
	}{{"dns", t.DNS}, {"connect", t.Connect}, {"tls", t.TLS}, {"ttfb", t.TTFB}, {"transfer", t.Transfer}, {"total", t.Total}} {
		if p.v != 0 {
			b = appendKey(b, p.name)
			b = jsonw.AppendFloat(b, p.v)
		}
	}
	return append(b, '}', '}')
}

// appendKey appends an object key, after a comma unless it is the first.
func appendKey(b []byte, name string) []byte {
	if b[len(b)-1] != '{' {
		b = append(b, ',')
	}
	b = append(b, '"')
	b = append(b, name...)
	return append(b, '"', ':')
}

const insertColumns = `id, run_id, seq, input, url, host, final_url, status, ok, error_kind, error, total_ms,
  bytes, content_type, title, ip, attempts, started_at, extra`

const insertWidth = 19 // the number of insertColumns

// hostOf returns the host[:port] of a URL as fanout normalises it, or ""
// for a line that was not a URL.
func hostOf(u string) string {
	i := strings.Index(u, "://")
	if i < 0 {
		return ""
	}
	h := u[i+3:]
	for j := 0; j < len(h); j++ { // strings.IndexAny builds a set on every call
		if c := h[j]; c == '/' || c == '?' || c == '#' {
			h = h[:j]
			break
		}
	}
	if j := strings.LastIndexByte(h, '@'); j >= 0 {
		h = h[j+1:]
	}
	return h
}

// Progress is what a resumed run needs: which targets already have results
// and how long each output file was when they were committed.
type Progress struct {
	// LowWater: every target with a lower Seq has a result.
	LowWater uint64
	// Above holds the Seqs at or past LowWater that have a result; the
	// engine's window bounds how many there are.
	Above map[uint64]struct{}
	// Offsets maps each output file to its committed length.
	Offsets map[string]int64
	// Results counts the run's recorded results.
	Results int64
	// AheadFrom: every result in Above has an id of at least AheadFrom.
	AheadFrom int64
	ahead     []aheadRow // the results in Above with their ids, in id order
}

// Done reports whether the target at seq has a result.
func (p *Progress) Done(seq uint64) bool {
	if seq < p.LowWater {
		return true
	}
	_, ok := p.Above[seq]
	return ok
}

// Progress reads run runID's checkpoint for a resume.
func (db *DB) Progress(runID int64) (*Progress, error) {
	run, err := db.Run(runID)
	if err != nil {
		return nil, err
	}
	p := &Progress{LowWater: run.LowWater, Above: map[uint64]struct{}{}, Offsets: run.Offsets,
		Results: run.Results, AheadFrom: run.AheadFrom}
	lo, hi := runIDs(runID)
	rows, err := db.sql.Query(`SELECT seq, id FROM results WHERE id BETWEEN ? AND ? AND seq >= ? ORDER BY id`,
		max(lo, run.AheadFrom), hi, int64(run.LowWater))
	if err != nil {
		return nil, fmt.Errorf("--db %s: run %d: %w", db.path, runID, err)
	}
	defer rows.Close()
	for rows.Next() {
		var s, id int64
		if err := rows.Scan(&s, &id); err != nil {
			return nil, fmt.Errorf("--db %s: run %d: %w", db.path, runID, err)
		}
		p.Above[uint64(s)] = struct{}{}
		p.ahead = append(p.ahead, aheadRow{uint64(s), id})
	}
	return p, rows.Err()
}
