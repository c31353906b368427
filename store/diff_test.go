package store

import (
	"database/sql"
	"testing"
	"time"

	"github.com/fanout/fanout/fetch"
)

func TestCompare(t *testing.T) {
	opt := DefaultDiffOptions()
	ok := func(status int, ms float64) Side { return Side{Status: status, OK: true, TotalMs: ms} }
	bad := func(status int, kind string) Side { return Side{Status: status, ErrorKind: kind} }
	tests := []struct {
		name  string
		a, b  Side
		kind  string // "" for no change
		worse bool
	}{
		{"same", ok(200, 10), ok(200, 12), "", false},
		{"started failing", ok(200, 10), bad(0, "timeout"), ChangeFailing, true},
		{"4xx now", ok(200, 10), bad(404, ""), ChangeFailing, true},
		{"recovered", bad(503, ""), ok(200, 10), ChangeRecovered, false},
		{"4xx to 5xx", bad(404, ""), bad(500, ""), ChangeStatus, true},
		{"5xx to 4xx", bad(500, ""), bad(404, ""), ChangeStatus, false},
		{"5xx to no response", bad(500, ""), bad(0, "refused"), ChangeStatus, true},
		{"error kind changed", bad(0, "timeout"), bad(0, "dns"), ChangeStatus, false},
		{"200 to 301, both ok", ok(200, 10), ok(301, 10), ChangeStatus, false},
		{"slower", ok(200, 100), ok(200, 260), ChangeSlower, true},
		{"slower by less than 100ms", ok(200, 10), ok(200, 100), "", false},
		{"slower by less than 50%", ok(200, 1000), ok(200, 1400), "", false},
		{"faster", ok(200, 500), ok(200, 100), "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, changed := compare(tt.a, tt.b, opt)
			if !changed {
				c.Kind = ""
			}
			if c.Kind != tt.kind || c.Worse != tt.worse {
				t.Errorf("got %q worse=%v, want %q worse=%v", c.Kind, c.Worse, tt.kind, tt.worse)
			}
		})
	}
}

// record stores results given as input -> (status, error kind, ms) in a
// new run.
func record(t *testing.T, db *DB, rs []fetch.Result) int64 {
	t.Helper()
	id, err := db.CreateRun(nil, Config{})
	if err != nil {
		t.Fatal(err)
	}
	rec := db.Recorder(id, RecorderOptions{})
	for i := range rs {
		rs[i].Seq = uint64(i)
		rs[i].StartedAt = time.Unix(0, 0)
		rec.Add(&rs[i], rs[i].Error == nil && rs[i].Status < 400)
	}
	if err := rec.Close(nil); err != nil {
		t.Fatal(err)
	}
	return id
}

func TestDiffMatchesByInput(t *testing.T) {
	db := openTemp(t)
	res := func(in string, status int, ms float64) fetch.Result {
		return fetch.Result{Input: in, Status: status, Timing: fetch.Timing{Total: ms}}
	}
	a := record(t, db, []fetch.Result{
		res("c", 200, 10), res("a", 200, 10), res("b", 500, 10), res("gone", 200, 1),
		res("d", 200, 50), res("a", 404, 1), // a duplicate line: its first result counts
	})
	b := record(t, db, []fetch.Result{
		res("new", 200, 1), res("a", 200, 11), res("b", 200, 10), res("c", 503, 10), res("d", 200, 400),
	})
	var got []Change
	st, err := db.Diff(a, b, DefaultDiffOptions(), func(c Change) error { got = append(got, c); return nil })
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		input, kind string
		worse       bool
	}{{"b", ChangeRecovered, false}, {"c", ChangeFailing, true}, {"d", ChangeSlower, true}}
	if len(got) != len(want) {
		t.Fatalf("changes = %+v, want %+v", got, want)
	}
	for i, w := range want {
		if got[i].Input != w.input || got[i].Kind != w.kind || got[i].Worse != w.worse {
			t.Errorf("change %d = %+v, want %+v", i, got[i], w)
		}
	}
	if st != (DiffStats{Compared: 4, Worse: 2, Better: 1, OnlyA: 1, OnlyB: 1}) {
		t.Errorf("stats = %+v", st)
	}
	if _, err := db.Diff(a, 99, DefaultDiffOptions(), func(Change) error { return nil }); err == nil {
		t.Error("diff with a missing run: no error")
	}
}

// TestDiffReadOnly: diff creates its index on input the first time; a
// database it may not write (read-only file, query_only here, as tests may
// run as root) is compared all the same, without the index.
func TestDiffReadOnly(t *testing.T) {
	db := openTemp(t)
	res := func(in string, status int) fetch.Result { return fetch.Result{Input: in, Status: status} }
	a := record(t, db, []fetch.Result{res("x", 200), res("y", 200)})
	b := record(t, db, []fetch.Result{res("y", 500), res("x", 200)})
	// Diff reads both runs at once: two connections, both query_only.
	db.sql.SetMaxOpenConns(2)
	db.sql.SetMaxIdleConns(2)
	var conns []*sql.Conn
	for range 2 {
		c, err := db.sql.Conn(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.ExecContext(t.Context(), `PRAGMA query_only = ON`); err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	for _, c := range conns {
		c.Close()
	}
	var got []Change
	st, err := db.Diff(a, b, DefaultDiffOptions(), func(c Change) error { got = append(got, c); return nil })
	if err != nil {
		t.Fatalf("diff of a read-only database: %v", err)
	}
	if st.Compared != 2 || st.Worse != 1 || len(got) != 1 || got[0].Input != "y" || got[0].Kind != ChangeFailing {
		t.Errorf("stats %+v, changes %+v; want y failing", st, got)
	}
}
