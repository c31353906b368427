package store

import (
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
	ChangeContent   = "content"   // accepted in both with the same status, and the body or title changed: never worse
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
	// Content makes Diff call fn for content changes (ChangeContent) too;
	// they are counted in DiffStats.Content either way. Off by default:
	// a re-crawl wants them, a link check would drown in the pages that
	// change at every fetch (a clock, a token).
	Content bool
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
	// BodySHA256 and Title are the result's, "" (and left out) when it
	// had none.
	BodySHA256 string `json:"body_sha256,omitempty"`
	Title      string `json:"title,omitempty"`
}

// Change is one target whose result differs between two runs.
type Change struct {
	// Input is the input line both results are for.
	Input string `json:"input"`
	// Kind is one of ChangeFailing, ChangeRecovered, ChangeStatus,
	// ChangeSlower and ChangeContent.
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
	Changed  int64 // other changes that are not worse, content changes aside
	Content  int64 // content changes (ChangeContent), listed or not
	OnlyA    int64 // targets only in run A
	OnlyB    int64 // targets only in run B
}

// Diff compares run a with run b target by target (matched by input line;
// with --no-dedupe, the first occurrence of a line) and calls fn for each
// change, in run b's input order. SQLite joins and sorts both runs
// (spilling to temporary files for large ones), so memory does not grow
// with their size. fn's error stops the comparison.
func (db *DB) Diff(a, b int64, opt DiffOptions, fn func(Change) error) (DiffStats, error) {
	var st DiffStats
	for _, id := range []int64{a, b} {
		if _, err := db.Run(id); err != nil {
			return st, err
		}
	}
	// The index on input is built the first time a diff needs it rather
	// than kept up to date while a run records: maintaining it cost a
	// fifth of the recorder's time per result.
	// A database this process may not write (a copy kept read-only, a CI
	// artifact, another user's file) is diffed without it: SQLite then
	// sorts each run, which is slower but gives the same answer.
	if _, err := db.sql.Exec(inputIndex); err != nil && !readOnly(err) {
		return st, fmt.Errorf("--db %s: indexing inputs: %w", db.path, err)
	}
	fail := func(err error) (DiffStats, error) {
		return st, fmt.Errorf("--db %s: runs %d and %d: %w", db.path, a, b, err)
	}
	rows, err := db.sql.Query(diffQuery, a, b)
	if err != nil {
		return fail(err)
	}
	defer rows.Close()
	for rows.Next() {
		var input string
		var sa, sb Side
		if err := rows.Scan(&input, &sa.Status, &sa.OK, &sa.ErrorKind, &sa.TotalMs, &sa.BodySHA256, &sa.Title,
			&sb.Status, &sb.OK, &sb.ErrorKind, &sb.TotalMs, &sb.BodySHA256, &sb.Title); err != nil {
			return fail(err)
		}
		st.Compared++
		c, ok := compare(sa, sb, opt)
		if !ok {
			continue
		}
		c.Input = input
		switch {
		case c.Worse:
			st.Worse++
		case c.Kind == ChangeRecovered:
			st.Better++
		case c.Kind == ChangeContent:
			st.Content++
			if !opt.Content {
				continue
			}
		default:
			st.Changed++
		}
		if err := fn(c); err != nil {
			return st, err
		}
	}
	if err := rows.Err(); err != nil {
		return fail(err)
	}
	for _, side := range []struct {
		run  int64
		only *int64
	}{{a, &st.OnlyA}, {b, &st.OnlyB}} {
		var n int64
		if err := db.sql.QueryRow(`SELECT count(DISTINCT input) FROM results WHERE run_id = ?`, side.run).Scan(&n); err != nil {
			return st, fmt.Errorf("--db %s: run %d: %w", db.path, side.run, err)
		}
		*side.only = n - st.Compared
	}
	return st, nil
}

// diffQuery pairs the first result of each input line in run ?1 with that
// of the same line in run ?2, in run ?2's input order. Each side is one
// row per input: SQLite gives the bare columns of a min() aggregate the
// values of the row with that minimum, the line's first result.
const diffQuery = `SELECT b.input, a.status, a.ok, a.ek, a.total_ms, a.sha, a.title,
  b.status, b.ok, b.ek, b.total_ms, b.sha, b.title
FROM (` + diffSide + `?2 GROUP BY input) AS b
JOIN (` + diffSide + `?1 GROUP BY input) AS a ON a.input = b.input
ORDER BY b.seq`

const diffSide = `SELECT input, min(seq) AS seq, status, ok, coalesce(error_kind, '') AS ek, total_ms,
  coalesce(json_extract(extra, '$.body_sha256'), '') AS sha, title FROM results WHERE run_id = `

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
	case a.OK && b.OK && (a.BodySHA256 != b.BodySHA256 || a.Title != b.Title):
		// After slower: a change that is worse is never hidden behind
		// one that is not, and CI's verdict is the same with or without
		// content changes.
		c.Kind = ChangeContent
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

// readOnly reports whether err is SQLite refusing a write to a database it
// opened read-only.
func readOnly(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_READONLY
}
