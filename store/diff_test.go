package store

import (
	"database/sql"
	"slices"
	"testing"
	"time"

	"github.com/fanout/fanout/fetch"
)

func TestCompare(t *testing.T) {
	opt := DefaultDiffOptions()
	ok := func(status int, ms float64) Side { return Side{Status: status, OK: true, TotalMs: ms} }
	bad := func(status int, kind string) Side { return Side{Status: status, ErrorKind: kind} }
	body := func(s Side, sha, title string) Side { s.BodySHA256, s.Title = sha, title; return s }
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
		{"other body", body(ok(200, 10), "aa", "T"), body(ok(200, 10), "bb", "T"), ChangeContent, false},
		{"other title", body(ok(200, 10), "aa", "T"), body(ok(200, 10), "aa", "U"), ChangeContent, false},
		{"body gone", body(ok(200, 10), "aa", ""), ok(200, 10), ChangeContent, false},
		{"same body and title", body(ok(200, 10), "aa", "T"), body(ok(200, 12), "aa", "T"), "", false},
		// Worse wins: the exit status is the same with or without content.
		{"slower and other body", body(ok(200, 100), "aa", ""), body(ok(200, 260), "bb", ""), ChangeSlower, true},
		{"failing and other body", body(ok(200, 10), "aa", ""), body(bad(500, ""), "bb", ""), ChangeFailing, true},
		{"not accepted, other body", body(bad(404, ""), "aa", ""), body(bad(404, ""), "bb", ""), "", false},
		{"200 to 301 and other body", body(ok(200, 10), "aa", ""), body(ok(301, 10), "bb", ""), ChangeStatus, false},
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

// TestDiffReadOnly: a database diff may not write (read-only file,
// query_only here, as tests may run as root) is compared all the same.
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

// TestDiffOrderAndContent: changes come in run B's input order, not in
// the order of the input lines' text (n=0, n=10, n=9 would sort as text);
// content changes (both accepted, another body or title) are counted
// always, listed only with DiffOptions.Content, and never worse.
func TestDiffOrderAndContent(t *testing.T) {
	db := openTemp(t)
	res := func(in string, status int, sha, title string) fetch.Result {
		return fetch.Result{Input: in, Status: status, BodySHA256: sha, Title: title, Timing: fetch.Timing{Total: 1}}
	}
	a := record(t, db, []fetch.Result{
		res("n=9", 200, "a9", ""), res("n=10", 200, "a10", ""), res("n=0", 200, "a0", "T"),
		res("n=100", 200, "same", "T"), res("n=11", 200, "a11", ""), res("n=2", 404, "x", ""),
	})
	b := record(t, db, []fetch.Result{
		res("n=0", 200, "a0", "U"), res("n=9", 200, "b9", ""), res("n=10", 500, "b10", ""),
		res("n=11", 200, "b11", ""), res("n=2", 404, "y", ""), res("n=100", 200, "same", "T"),
	})
	for _, listed := range []bool{false, true} {
		opt := DefaultDiffOptions()
		opt.Content = listed
		var got []string
		st, err := db.Diff(a, b, opt, func(c Change) error {
			got = append(got, c.Input+" "+c.Kind)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		want := []string{"n=10 failing"}
		if listed {
			want = []string{"n=0 content", "n=9 content", "n=10 failing", "n=11 content"}
		}
		if !slices.Equal(got, want) {
			t.Errorf("content=%v: changes %q, want %q (run B's input order)", listed, got, want)
		}
		if st != (DiffStats{Compared: 6, Worse: 1, Content: 3}) {
			t.Errorf("content=%v: stats %+v, want 6 compared, 1 worse, 3 content", listed, st)
		}
	}
}

// TestDiffEmptyRun: the targets of one run are counted whichever run is
// empty (run A's count rides on the pairing's rows, which an empty run B
// has none of); a line twice in a run is one target.
func TestDiffEmptyRun(t *testing.T) {
	db := openTemp(t)
	res := func(in string) fetch.Result { return fetch.Result{Input: in, Status: 200} }
	full := record(t, db, []fetch.Result{res("http://h.sim/a"), res("HTTP://H.SIM/a#x"), res("http://h.sim/b"), res("ftp://x")})
	empty := record(t, db, nil)
	for _, tt := range []struct {
		a, b int64
		want DiffStats
	}{
		{full, empty, DiffStats{OnlyA: 3}},
		{empty, full, DiffStats{OnlyB: 3}},
		{empty, empty, DiffStats{}},
		{full, full, DiffStats{Compared: 3}},
	} {
		st, err := db.Diff(tt.a, tt.b, DefaultDiffOptions(), func(Change) error { return nil })
		if err != nil || st != tt.want {
			t.Errorf("Diff(%d, %d) = %+v, %v; want %+v", tt.a, tt.b, st, err, tt.want)
		}
	}
}
