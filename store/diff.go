package store

import (
	"database/sql"
	"errors"
	"fmt"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Kinds of change Diff reports.
const (
	ChangeFailing   = "failing"   // accepted in A, not in B: worse
	ChangeRecovered = "recovered" // not accepted in A, accepted in B
	ChangeStatus    = "status"    // status or error kind changed, acceptance did not; worse to a worse class
	ChangeSlower    = "slower"    // no error in either and B took longer by more than the threshold: worse
)

// DiffOptions set when a target counts as slower.
type DiffOptions struct {
	// SlowerRatio and SlowerMinMs: B's total time must exceed A's by more
	// than SlowerRatio × A's (0.5 = 50%) and by more than SlowerMinMs
	// milliseconds, so small absolute jitter on fast targets is ignored.
	SlowerRatio float64
	// SlowerMinMs is the least absolute slowdown, in milliseconds; see
	// SlowerRatio.
	SlowerMinMs float64
}

// DefaultDiffOptions: 50% and 100 ms slower.
func DefaultDiffOptions() DiffOptions { return DiffOptions{SlowerRatio: 0.5, SlowerMinMs: 100} }

// Side is one run's result for a target, as Diff compares it.
type Side struct {
	// Status is the result's status, 0 when no response arrived.
	Status int `json:"status"`
	// OK says whether that run accepted the result (its --accept rule).
	OK bool `json:"ok"`
	// ErrorKind is the result's error kind (a fetch.ErrorKind's string),
	// "" when it had no error.
	ErrorKind string `json:"error"`
	// TotalMs is the result's Timing.Total, in milliseconds.
	TotalMs float64 `json:"total_ms"`
}

// Change is one target whose result differs between two runs.
type Change struct {
	// Input is the input line both results are for.
	Input string `json:"input"`
	// Kind is one of ChangeFailing, ChangeRecovered, ChangeStatus and
	// ChangeSlower.
	Kind string `json:"change"`
	// Worse is true when run B's result is worse than run A's: always for
	// failing and slower, for status when B's status class is worse
	// (below 400, 4xx, 5xx, no response, in that order).
	Worse bool `json:"worse"`
	// A and B are the target's results in the first and the second run.
	A Side `json:"a"`
	B Side `json:"b"`
}

// DiffStats counts what Diff compared.
type DiffStats struct {
	Compared int64 // targets in both runs
	Worse    int64 // changes that are worse (Change.Worse)
	Better   int64 // recovered
	Changed  int64 // other changes that are not worse
	OnlyA    int64 // targets only in run A
	OnlyB    int64 // targets only in run B
}

// Diff compares run a with run b target by target (matched by input line;
// with --no-dedupe, the first occurrence of a line) and calls fn for each
// change, in input-line order. It reads both runs as sorted streams, so
// memory does not grow with their size. fn's error stops the comparison.
func (db *DB) Diff(a, b int64, opt DiffOptions, fn func(Change) error) (DiffStats, error) {
	var st DiffStats
	for _, id := range []int64{a, b} {
		if _, err := db.Run(id); err != nil {
			return st, err
		}
	}
	ra, err := db.sideRows(a)
	if err != nil {
		return st, err
	}
	defer ra.close()
	rb, err := db.sideRows(b)
	if err != nil {
		return st, err
	}
	defer rb.close()
	ra.next()
	rb.next()
	for ra.ok && rb.ok {
		switch {
		case ra.input < rb.input:
			st.OnlyA++
			ra.next()
		case ra.input > rb.input:
			st.OnlyB++
			rb.next()
		default:
			st.Compared++
			if c, ok := compare(ra.side, rb.side, opt); ok {
				c.Input = ra.input
				switch {
				case c.Worse:
					st.Worse++
				case c.Kind == ChangeRecovered:
					st.Better++
				default:
					st.Changed++
				}
				if err := fn(c); err != nil {
					return st, err
				}
			}
			ra.next()
			rb.next()
		}
	}
	for ; ra.ok; ra.next() {
		st.OnlyA++
	}
	for ; rb.ok; rb.next() {
		st.OnlyB++
	}
	if err := ra.err; err != nil {
		return st, fmt.Errorf("--db %s: run %d: %w", db.path, a, err)
	}
	if err := rb.err; err != nil {
		return st, fmt.Errorf("--db %s: run %d: %w", db.path, b, err)
	}
	return st, nil
}

// compare classifies the difference between a target's two results.
func compare(a, b Side, opt DiffOptions) (Change, bool) {
	c := Change{A: a, B: b}
	switch {
	case a.OK && !b.OK:
		c.Kind, c.Worse = ChangeFailing, true
	case !a.OK && b.OK:
		c.Kind = ChangeRecovered
	case a.Status != b.Status || a.ErrorKind != b.ErrorKind:
		c.Kind, c.Worse = ChangeStatus, statusRank(b.Status) > statusRank(a.Status)
	case a.ErrorKind == "" && b.ErrorKind == "" &&
		b.TotalMs-a.TotalMs > opt.SlowerMinMs && b.TotalMs > a.TotalMs*(1+opt.SlowerRatio):
		c.Kind, c.Worse = ChangeSlower, true
	default:
		return c, false
	}
	return c, true
}

// statusRank orders status classes from best to worst: a response below
// 400, a 4xx, a 5xx, no response at all.
func statusRank(s int) int {
	switch {
	case s >= 100 && s < 400:
		return 0
	case s >= 400 && s < 500:
		return 1
	case s >= 500 && s < 600:
		return 2
	}
	return 3
}

// sideRows streams one run's results sorted by input, first occurrence of
// each input only.
type sideRows struct {
	rows  *sql.Rows
	input string
	side  Side
	ok    bool
	err   error
}

func (db *DB) sideRows(run int64) (*sideRows, error) {
	// The index on input is built the first time a diff needs it rather
	// than kept up to date while a run records: maintaining it cost a
	// fifth of the recorder's time per result.
	// A database this process may not write (a copy kept read-only, a CI
	// artifact, another user's file) is diffed without it: SQLite then
	// sorts each run, which is slower but gives the same answer.
	if _, err := db.sql.Exec(inputIndex); err != nil && !readOnly(err) {
		return nil, fmt.Errorf("--db %s: indexing inputs: %w", db.path, err)
	}
	rows, err := db.sql.Query(`SELECT input, status, ok, coalesce(error_kind, ''), total_ms
		FROM results WHERE run_id = ? ORDER BY input, seq`, run)
	if err != nil {
		return nil, fmt.Errorf("--db %s: run %d: %w", db.path, run, err)
	}
	return &sideRows{rows: rows}, nil
}

func (s *sideRows) next() {
	prev, had := s.input, s.ok
	for {
		s.ok = s.rows.Next()
		if !s.ok {
			s.err = s.rows.Err()
			return
		}
		if s.err = s.rows.Scan(&s.input, &s.side.Status, &s.side.OK, &s.side.ErrorKind, &s.side.TotalMs); s.err != nil {
			s.ok = false
			return
		}
		if !had || s.input != prev {
			return
		}
	}
}

func (s *sideRows) close() { s.rows.Close() }

// readOnly reports whether err is SQLite refusing a write to a database it
// opened read-only.
func readOnly(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_READONLY
}
