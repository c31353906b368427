package store

import (
	"database/sql/driver"
	"fmt"

	"modernc.org/sqlite"

	"github.com/fanout/fanout/input"
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
	// NoSlower leaves times out: no target is slower, so a gate on what
	// got worse is not failed by a latency blip (the other thresholds
	// are then unused).
	NoSlower bool
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
	// Input is run B's input line for the target; run A's may be written
	// another way (see Diff).
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

// Diff compares run a with run b target by target and calls fn for each
// change, in run b's input order. Targets are matched as the input
// reader's dedupe tells them apart (input.TargetKey: the normalised URL,
// so "HTTP://Host/a#x" is "http://host/a"), lines that are not valid
// targets by their text; a target a run holds more than once (with
// --no-dedupe) counts with its first occurrence. SQLite pairs and sorts
// both runs (spilling to temporary files for large ones), so memory does
// not grow with their size. fn's error stops the comparison.
func (db *DB) Diff(a, b int64, opt DiffOptions, fn func(Change) error) (DiffStats, error) {
	var st DiffStats
	for _, id := range []int64{a, b} {
		if _, err := db.Run(id); err != nil {
			return st, err
		}
	}
	fail := func(err error) (DiffStats, error) {
		return st, fmt.Errorf("--db %s: runs %d and %d: %w", db.path, a, b, err)
	}
	loA, hiA := runIDs(a)
	loB, hiB := runIDs(b)
	rows, err := db.sql.Query(diffQuery, loB, hiB, loA, hiA)
	if err != nil {
		return fail(err)
	}
	defer rows.Close()
	var targetsA int64
	for rows.Next() {
		var onlyB bool
		var in string
		var sa, sb Side
		if err := rows.Scan(&targetsA, &onlyB, &in, &sa.Status, &sa.OK, &sa.ErrorKind, &sa.TotalMs, &sa.BodySHA256, &sa.Title,
			&sb.Status, &sb.OK, &sb.ErrorKind, &sb.TotalMs, &sb.BodySHA256, &sb.Title); err != nil {
			return fail(err)
		}
		if onlyB {
			st.OnlyB++
			continue
		}
		st.Compared++
		c, ok := compare(sa, sb, opt)
		if !ok {
			continue
		}
		c.Input = in
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
	if st.Compared+st.OnlyB == 0 {
		// No row to carry run A's count: run B is empty.
		if err := db.sql.QueryRow(`SELECT count(DISTINCT `+targetKeyFunc+`(input)) FROM results WHERE id BETWEEN ? AND ?`, loA, hiA).Scan(&targetsA); err != nil {
			return fail(err)
		}
	}
	st.OnlyA = targetsA - st.Compared
	return st, nil
}

// diffQuery pairs the first result of each target in run A (its ids, as
// runIDs gives them, from ?3 to ?4) with that of the same target in run B
// (ids ?1 to ?2), in run B's input order. Each side is one row per target:
// SQLite gives the bare columns of a min() aggregate the values of the row
// with that minimum, the target's first result. The left join also yields
// run B's targets that run A lacks, and each row carries run A's number of
// targets, to count the rest: counting each run's targets apart read and
// sorted both runs again, a third of the pairing's time more. (A full
// join would do it too, but SQLite makes no index for one: it compared
// every target with every other.)
const diffQuery = `WITH a AS MATERIALIZED (` + diffSide + `?3 AND ?4 GROUP BY k)
SELECT (SELECT count(*) FROM a), a.k IS NULL, b.input,
  coalesce(a.status, 0), coalesce(a.ok, 0), coalesce(a.ek, ''), coalesce(a.total_ms, 0), coalesce(a.sha, ''), coalesce(a.title, ''),
  b.status, b.ok, b.ek, b.total_ms, b.sha, b.title
FROM (` + diffSide + `?1 AND ?2 GROUP BY k) AS b
LEFT JOIN a ON a.k = b.k
ORDER BY b.seq`

const diffSide = `SELECT ` + targetKeyFunc + `(input) AS k, input, min(seq) AS seq, status, ok,
  coalesce(error_kind, '') AS ek, total_ms,
  coalesce(json_extract(extra, '$.body_sha256'), '') AS sha, title FROM results WHERE id BETWEEN `

// targetKeyFunc is the SQL function that keys a result's input line for
// diff, registered with every connection the sqlite driver opens: the
// target as the input reader's dedupe knows it (input.TargetKey), so that
// two runs of a list written another way (the order, a fragment, the case
// of a scheme or a host) pair the same targets; the line's text, marked
// apart, for a line that is not a valid target. It is computed at diff
// time from the stored line rather than stored: the url column holds the
// URL that answered, which for a bare host depends on the run's https
// fallback, and databases written before still diff.
const targetKeyFunc = "fanout_target_key"

func init() {
	sqlite.MustRegisterDeterministicScalarFunction(targetKeyFunc, 1, func(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
		line, ok := args[0].(string)
		if !ok {
			return nil, fmt.Errorf("%s: input is %T, not text", targetKeyFunc, args[0])
		}
		if key, ok := input.TargetKey(line); ok {
			return "t" + key, nil
		}
		return "l" + line, nil
	})
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
	case !opt.NoSlower && a.ErrorKind == "" && b.ErrorKind == "" &&
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
