package store

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	sqlite3 "modernc.org/sqlite/lib"
)

// TestRawStmtRebinds: a statement run many times with values that often
// repeat what the same parameter held in its last run (which run then does
// not bind again) stores exactly the values given, whatever the kinds
// before and after, while another statement's texts overwrite the
// connection's text buffer between runs or make it grow (a new C
// allocation), and while another connection changes the schema (SQLite
// prepares the statement again and moves its bindings).
func TestRawStmtRebinds(t *testing.T) {
	db := openTemp(t)
	if _, err := db.sql.Exec(`CREATE TABLE t(k INTEGER PRIMARY KEY, a, b, c)`); err != nil {
		t.Fatal(err)
	}
	c, err := openRaw(db.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	ins, err := c.prepare(`INSERT INTO t(k, a, b, c) VALUES (?,?,?,?), (?,?,?,?)`)
	if err != nil {
		t.Fatal(err)
	}
	defer ins.finalize()
	other, err := c.prepare(`SELECT ? || ?`)
	if err != nil {
		t.Fatal(err)
	}
	defer other.finalize()

	// A small pool, so that parameters often get the value they had.
	pool := []any{nil, int64(0), int64(1), int64(-7), 0.5, math.Copysign(0, -1), 0.0, 2.5,
		"", "x", "text/html", "text/htm", "https://example.com/a", "https://example.com/b", "日本"}
	rng := rand.New(rand.NewPCG(5, 6))
	var want [][]any
	var r rows
	grown, indexed := 64<<10, false
	for run := range 800 {
		r.reset()
		for row := range 2 {
			vals := []any{pool[rng.IntN(len(pool))], pool[rng.IntN(len(pool))], pool[rng.IntN(len(pool))]}
			if rng.IntN(3) == 0 && len(want) >= 2 { // a run of repeats
				vals = want[max(0, len(want)-2)][1:]
			}
			// A filler text first, so that equal texts move in the buffer.
			r.texts = append(r.texts, make([]byte, rng.IntN(5))...)
			r.int(int64(2*run + row))
			for _, v := range vals {
				switch v := v.(type) {
				case nil:
					r.args = append(r.args, value{})
				case int64:
					r.int(v)
				case float64:
					r.args = append(r.args, realValue(v))
				case string:
					r.text(v)
				}
			}
			want = append(want, append([]any{int64(2*run + row)}, vals...))
		}
		if err := ins.run(r.args, r.texts); err != nil {
			t.Fatal(err)
		}
		switch rng.IntN(8) {
		case 0, 1:
			var o rows
			o.text("overwrites ")
			o.text("the buffer")
			if err := other.run(o.args, o.texts); err != nil {
				t.Fatal(err)
			}
		case 2:
			// Texts larger than the buffer: it is reallocated, and every
			// SQLITE_STATIC binding of ins points into freed memory.
			if grown > 4<<20 {
				break
			}
			grown *= 2
			var o rows
			o.text(strings.Repeat("g", grown))
			o.text("")
			if err := other.run(o.args, o.texts); err != nil {
				t.Fatal(err)
			}
		case 3:
			// A schema change by another connection: SQLite prepares ins
			// again at its next step and moves its bindings over.
			ddl := `CREATE INDEX t_a ON t(a)`
			if indexed {
				ddl = `DROP INDEX t_a`
			}
			indexed = !indexed
			if _, err := db.sql.Exec(ddl); err != nil {
				t.Fatal(err)
			}
		}
	}

	rs, err := db.sql.Query(`SELECT k, a, b, c FROM t ORDER BY k`)
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	i := 0
	for ; rs.Next(); i++ {
		got := make([]any, 4)
		if err := rs.Scan(&got[0], &got[1], &got[2], &got[3]); err != nil {
			t.Fatal(err)
		}
		for j, v := range want[i] {
			if f, ok := v.(float64); ok && f == 0 {
				// SQLite keeps a real 0 (and -0) as 0.0.
				v = 0.0
			}
			if !reflect.DeepEqual(got[j], v) {
				t.Fatalf("row %d column %d: %#v, want %#v", i, j, got[j], v)
			}
		}
	}
	if err := rs.Err(); err != nil {
		t.Fatal(err)
	}
	if i != len(want) {
		t.Fatalf("%d rows, want %d", i, len(want))
	}
}

// TestRawErrorsReadAsAdvice: the recorder's own connection reported
// SQLite's text and code ("database is locked (5)" after another process
// held the write lock for busy_timeout); its errors now read as advice, as
// the driver's do, and keep their code.
func TestRawErrorsReadAsAdvice(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		err  rawError
		want string
	}{
		{rawError{"database is locked", sqlite3.SQLITE_BUSY}, "stayed locked by another process"},
		{rawError{"attempt to write a readonly database", sqlite3.SQLITE_READONLY}, "the database is read-only"},
		{rawError{"database or disk is full", sqlite3.SQLITE_FULL}, "the disk is full"},
		{rawError{"no such table: results", sqlite3.SQLITE_ERROR}, "no such table: results (1)"},
	} {
		err := plainError(fmt.Errorf("commit: %w", tc.err))
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %q, want it to say %q", tc.err, err, tc.want)
		}
		var re rawError
		if !errors.As(err, &re) || re.Code() != tc.err.code {
			t.Errorf("%v: %v does not keep the error and its code", tc.err, err)
		}
	}
}
