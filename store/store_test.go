package store

import (
	"bytes"
	"cmp"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/fanout/fanout/fetch"
)

func openTemp(t *testing.T) *DB {
	t.Helper()
	db, err := Open(filepath.Join(t.TempDir(), "runs.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// newRecording creates a run in db and starts recording it.
func newRecording(t *testing.T, db *DB) (int64, *Recorder) {
	t.Helper()
	id, err := db.CreateRun(nil, Config{})
	if err != nil {
		t.Fatal(err)
	}
	return id, db.Recorder(id, RecorderOptions{})
}

// sample returns a result with every field of the schema set.
func sample(seq uint64) *fetch.Result {
	n := int64(1024)
	r := &fetch.Result{
		Seq: seq, Input: "example.com/a", URL: "https://example.com/a", FinalURL: "https://example.com/b",
		Status: 200, Proto: "HTTP/2.0", Method: "GET", ContentType: "text/html",
		ContentLength: &n, Bytes: 1000, Truncated: true, Title: "A \"title\" \u202e", Server: "nginx",
		IP: "127.0.0.1", BodySHA256: "abc", Saved: true, Redirects: []fetch.Hop{{URL: "https://example.com/a", Status: 301}},
		Attempts: 2, Timing: fetch.Timing{DNS: 1.5, Connect: 2.25, TLS: 3, TTFB: 4.125, Transfer: 0.1, Total: 11.0625},
		StartedAt: time.Date(2026, 1, 2, 3, 4, 5, 6789, time.UTC),
	}
	if seq%2 == 0 {
		r.ContentEncoding = "gzip"
	}
	if seq%4 == 0 { // --response-headers
		r.Header = http.Header{"Etag": {`"v1"`}, "Set-Cookie": {"a=1; Path=/", "b=2"}}
		r.HeadersTruncated = seq%8 == 0
	}
	if seq%4 == 3 { // a redirect not followed
		r.Location = "https://example.com/c?q=\"x\""
	}
	if seq%5 == 2 {
		r.Redirects, r.Server, r.Truncated = []fetch.Hop{}, "", false
		r.Timing.DNS, r.Timing.TLS = 0, 0
	}
	if seq%2 == 0 { // fetched by a distributed worker
		r.Worker = "w-1_" + strconv.FormatUint(seq%3, 10)
	}
	if seq%3 == 1 {
		r.Status, r.ContentLength, r.Redirects, r.BodySHA256, r.Saved = 0, nil, nil, "", false
		r.Error = &fetch.Error{Kind: fetch.KindTimeout, Message: "took too long"}
	}
	return r
}

func TestResultsRoundTrip(t *testing.T) {
	db := openTemp(t)
	id, err := db.CreateRun([]string{"-i", "x"}, Config{Inputs: []string{"/x"}, Dedupe: true, Format: "jsonl", Accept: "200..=399"})
	if err != nil {
		t.Fatal(err)
	}
	rec := db.Recorder(id, RecorderOptions{})
	const n = 3000 // more than one batch and statement, with a short last statement
	perm := rand.Perm(n)
	for _, i := range perm {
		r := sample(uint64(i))
		rec.Add(r, r.Error == nil)
		if rec.Due() {
			if err := rec.Cut(map[string]int64{"/out": int64(i)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := rec.Close(map[string]int64{"/out": 42}); err != nil {
		t.Fatal(err)
	}
	var seq uint64
	for r, err := range db.Results(id) {
		if err != nil {
			t.Fatal(err)
		}
		if want := sample(seq); !reflect.DeepEqual(r, want) {
			t.Fatalf("result %d:\ngot  %+v\nwant %+v", seq, r, want)
		}
		seq++
	}
	if seq != n {
		t.Fatalf("got %d results, want %d", seq, n)
	}
	run, err := db.Run(id)
	if err != nil {
		t.Fatal(err)
	}
	if run.Results != n || run.Failed != n/3 || run.LowWater != n || run.Offsets["/out"] != 42 ||
		run.State != StateRunning || !run.Config.Dedupe || run.Command[1] != "x" {
		t.Fatalf("run = %+v", run)
	}
	failed := 0
	for rec, err := range db.Records(id, FailedOnly) {
		if err != nil || rec.OK || rec.Result.Error == nil {
			t.Fatalf("failed-only record %+v, %v", rec, err)
		}
		failed++
	}
	if failed != n/3 {
		t.Fatalf("failed-only records: got %d, want %d", failed, n/3)
	}
	accepted := 0
	for rec, err := range db.Records(id, AcceptedOnly) {
		if err != nil || !rec.OK {
			t.Fatalf("accepted-only record %+v, %v", rec, err)
		}
		accepted++
	}
	if accepted != n-n/3 {
		t.Fatalf("accepted-only records: got %d, want %d", accepted, n-n/3)
	}
}

// TestConnectionSettings: a new database has 16 KiB pages and WAL
// journaling, and a connection has every setting of connPragmas (the
// recorder's own connection gets them from the same list).
func TestConnectionSettings(t *testing.T) {
	db := openTemp(t)
	want := map[string]string{"page_size": "16384", "journal_mode": "wal", "synchronous": "1",
		"busy_timeout": "10000", "cache_size": "-32768", "temp_store": "1", "wal_autocheckpoint": "128", "foreign_keys": "1"}
	for _, p := range connPragmas {
		if _, ok := want[p[0]]; !ok {
			t.Errorf("connPragmas sets %s, which this test does not check", p[0])
		}
	}
	for name, v := range want {
		var got string
		if err := db.sql.QueryRow("PRAGMA " + name).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != v {
			t.Errorf("PRAGMA %s = %s, want %s", name, got, v)
		}
	}
}

// TestWriterConnectionSettings: the recorder's own connection has every
// setting of connPragmas but its own page cache (writerCacheSize) and
// temporary storage, and does not check foreign keys.
func TestWriterConnectionSettings(t *testing.T) {
	db := openTemp(t)
	c, err := openRaw(db.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	want := map[string]string{"cache_size": writerCacheSize, "temp_store": "2", "foreign_keys": "0"}
	for _, p := range connPragmas {
		if _, ok := want[p[0]]; !ok {
			want[p[0]] = p[1]
		}
	}
	want["synchronous"] = "1" // NORMAL
	for name, v := range want {
		s, err := c.prepare("PRAGMA " + name)
		if err != nil {
			t.Fatal(err)
		}
		got, _, err := s.queryInt()
		s.finalize()
		if err != nil {
			t.Fatal(err)
		}
		if strconv.FormatInt(got, 10) != v {
			t.Errorf("PRAGMA %s = %d, want %s", name, got, v)
		}
	}
}

// TestRecorderBatchBiggerThanCache: one batch of about 10 MB, more than the
// writer's page cache holds, which SQLite writes to the WAL in part before
// the commit (TestSpilledBatchAllOrNothing checks that it does), is
// committed whole.
func TestRecorderBatchBiggerThanCache(t *testing.T) {
	db := openTemp(t)
	id, err := db.CreateRun([]string{"x"}, Config{})
	if err != nil {
		t.Fatal(err)
	}
	rec := db.Recorder(id, RecorderOptions{})
	const n = 12000
	for i := range n {
		r := sample(uint64(i))
		r.Title = strings.Repeat("t", 300) // ~800 bytes a row
		rec.Add(r, r.Error == nil)
	}
	if err := rec.Close(nil); err != nil {
		t.Fatal(err)
	}
	var seq uint64
	for r, err := range db.Results(id) {
		if err != nil {
			t.Fatal(err)
		}
		want := sample(seq)
		want.Title = strings.Repeat("t", 300)
		if !reflect.DeepEqual(r, want) {
			t.Fatalf("result %d:\ngot  %+v\nwant %+v", seq, r, want)
		}
		seq++
	}
	if run, err := db.Run(id); seq != n || err != nil || run.Results != n {
		t.Fatalf("got %d results, run %+v, %v; want %d", seq, run, err, n)
	}
}

// TestSpilledBatchAllOrNothing: while the writer's transaction holds a
// batch bigger than its page cache, part of it already in the WAL, readers
// and a crash (the files as a SIGKILL leaves them: a copy of the database
// and its WAL, no -shm) see the last commit's results and checkpoint; a
// ROLLBACK leaves them too, and the next batch commits whole after them.
// (The kill-and-resume test in internal/cli never has batches this big.)
func TestSpilledBatchAllOrNothing(t *testing.T) {
	db := openTemp(t)
	id, err := db.CreateRun([]string{"x"}, Config{})
	if err != nil {
		t.Fatal(err)
	}
	c, err := openRaw(db.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	var w rowWriter
	if err := w.prepare(c, id); err != nil {
		t.Fatal(err)
	}
	defer w.finalize()
	rec := &Recorder{db: db, runID: id}
	lo, _ := runIDs(id)
	title := strings.Repeat("t", 300) // ~800 bytes a row
	batchOf := func(from, n int) *batch {
		b := &batch{lowWater: uint64(from + n), aheadFrom: lo + int64(from+n), offsets: map[string]int64{"out": int64(from + n)}}
		for i := from; i < from+n; i++ {
			r := sample(uint64(i))
			r.Title = title
			b.rows = append(b.rows, row{r: r, ok: r.Error == nil, id: lo + int64(i)})
		}
		return b
	}
	// check fails unless db holds the first n results and their checkpoint.
	check := func(what string, db *DB, n int) {
		t.Helper()
		run, err := db.Run(id)
		if err != nil {
			t.Fatal(err)
		}
		if run.Results != int64(n) || run.LowWater != uint64(n) || run.AheadFrom != lo+int64(n) || run.Offsets["out"] != int64(n) {
			t.Fatalf("%s: run %+v, want the checkpoint of %d results", what, run, n)
		}
		seq := 0
		for r, err := range db.Results(id) {
			if err != nil {
				t.Fatal(err)
			}
			want := sample(uint64(seq))
			want.Title = title
			if !reflect.DeepEqual(r, want) {
				t.Fatalf("%s: result %d:\ngot  %+v\nwant %+v", what, seq, r, want)
			}
			seq++
		}
		if seq != n {
			t.Fatalf("%s: %d results, want %d", what, seq, n)
		}
	}

	if err := rec.commit(c, &w, batchOf(0, 1000)); err != nil {
		t.Fatal(err)
	}
	spilled := cacheSpills(c)
	// The next batch's rows, in a transaction left open.
	if err := w.begin.run(nil, nil); err != nil {
		t.Fatal(err)
	}
	b := batchOf(1000, 12000)
	for i := 0; i+rowsPerStmt <= len(b.rows); i += rowsPerStmt {
		w.rows.reset()
		for _, row := range b.rows[i : i+rowsPerStmt] {
			w.rows.add(row.r, row.ok, row.id, true)
		}
		if err := w.full.run(w.rows.args, w.rows.texts); err != nil {
			t.Fatal(err)
		}
	}
	if spilled = cacheSpills(c) - spilled; spilled == 0 {
		t.Fatal("the batch fit the writer's page cache: nothing was spilled to the WAL; make it bigger")
	}
	check("a reader during the transaction", db, 1000)

	crashed := filepath.Join(t.TempDir(), "crashed.db")
	for _, suffix := range []string{"", "-wal"} {
		b, err := os.ReadFile(db.Path() + suffix)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(crashed+suffix, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cdb, err := Open(crashed)
	if err != nil {
		t.Fatal(err)
	}
	check("after a crash", cdb, 1000)
	var ok string
	if err := cdb.sql.QueryRow(`PRAGMA integrity_check`).Scan(&ok); err != nil || ok != "ok" {
		t.Fatalf("after a crash: integrity_check %q, %v", ok, err)
	}
	cdb.Close()

	if err := w.rollback.run(nil, nil); err != nil {
		t.Fatal(err)
	}
	check("after the rollback", db, 1000)
	if err := rec.commit(c, &w, batchOf(1000, 3000)); err != nil {
		t.Fatal(err)
	}
	check("after the next commit", db, 4000)
	t.Logf("%d pages spilled", spilled)
}

// cacheSpills returns how many dirty pages connection c has written to
// the database's WAL before a commit (SQLITE_DBSTATUS_CACHE_SPILL).
func cacheSpills(c *rawConn) int64 {
	p := sqlite3.Xsqlite3_malloc64(c.tls, 8) // two ints: current, highwater
	defer sqlite3.Xsqlite3_free(c.tls, p)
	sqlite3.Xsqlite3_db_status(c.tls, c.db, sqlite3.SQLITE_DBSTATUS_CACHE_SPILL, p, p+4, 0)
	return int64(*(*int32)(unsafe.Add(nil, p)))
}

// TestRecorderTexts: the writer binds texts in place from one buffer; they
// come back byte for byte, NUL bytes, invalid UTF-8 and texts larger than
// the buffer's first size included, empty texts as empty strings and no
// error as NULL.
func TestRecorderTexts(t *testing.T) {
	db := openTemp(t)
	id, rec := newRecording(t, db)
	var want []*fetch.Result
	for i := range 200 { // several statements of 64 rows, and single rows
		r := sample(uint64(i))
		switch i % 4 {
		case 0:
			r.Title = strings.Repeat("ü\x00\xff", 40000+i) // 160 KB, past the first buffer
		case 1:
			r.Title, r.ContentType, r.IP, r.FinalURL = "", "", "", ""
		case 2:
			r.Input = "a\x00b"
		}
		want = append(want, r)
		rec.Add(r, r.Error == nil)
	}
	if err := rec.Close(nil); err != nil {
		t.Fatal(err)
	}
	i := 0
	for r, err := range db.Results(id) {
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(r, want[i]) {
			t.Fatalf("result %d: title %d bytes, want %d; input %q, want %q", i, len(r.Title), len(want[i].Title), r.Input, want[i].Input)
		}
		i++
	}
	if i != len(want) {
		t.Fatalf("got %d results, want %d", i, len(want))
	}
	var nulls, empties int
	if err := db.sql.QueryRow(`SELECT count(*) FILTER (WHERE error_kind IS NULL), count(*) FILTER (WHERE title = '')
		FROM results WHERE run_id = ?`, id).Scan(&nulls, &empties); err != nil {
		t.Fatal(err)
	}
	if wantNulls := len(want) - (len(want)+1)/3; nulls != wantNulls || empties != len(want)/4 {
		t.Errorf("%d NULL error kinds and %d empty titles, want %d and %d", nulls, empties, wantNulls, len(want)/4)
	}
}

func TestProgressLowWater(t *testing.T) {
	db := openTemp(t)
	id, rec := newRecording(t, db)
	for _, s := range []uint64{0, 1, 2, 4, 7, 8} {
		rec.Add(sample(s), true)
	}
	if got := rec.LowWater(); got != 3 {
		t.Fatalf("low water = %d, want 3", got)
	}
	if err := rec.Close(nil); err != nil {
		t.Fatal(err)
	}
	p, err := db.Progress(id)
	if err != nil {
		t.Fatal(err)
	}
	if p.LowWater != 3 || len(p.Above) != 3 || !p.Done(4) || p.Done(3) || !p.Done(0) || p.Done(9) {
		t.Fatalf("progress = %+v", p)
	}
	// A second session fills the gaps; the mark passes the earlier ones.
	rec = db.Recorder(id, RecorderOptions{Prior: p})
	rec.Add(sample(5), true)
	rec.Add(sample(3), true)
	if got := rec.LowWater(); got != 6 {
		t.Fatalf("low water after 3 and 5 = %d, want 6", got)
	}
	rec.Add(sample(6), true)
	if got := rec.LowWater(); got != 9 {
		t.Fatalf("low water after 6 = %d, want 9", got)
	}
	if err := rec.Close(nil); err != nil {
		t.Fatal(err)
	}
	if run, _ := db.Run(id); run.LowWater != 9 || run.Results != 9 {
		t.Fatalf("run = %+v", run)
	}
}

func TestRecorderReportsFailedCommit(t *testing.T) {
	db := openTemp(t)
	id, _ := db.CreateRun(nil, Config{})
	rec := db.Recorder(id, RecorderOptions{BeforeCommit: func() error { return errors.New("disk full") }})
	rec.Add(sample(0), true)
	if err := rec.Close(nil); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("Close: %v, want the commit's error", err)
	}
	if run, _ := db.Run(id); run.Results != 0 {
		t.Fatalf("a failed batch left %d results", run.Results)
	}
}

// TestRecorderRefusesSecondResult: the table has no key on (run_id, seq),
// so the recorder itself refuses a target that already has a result, from
// this session or an earlier one, and commits the others.
func TestRecorderRefusesSecondResult(t *testing.T) {
	db := openTemp(t)
	id, rec := newRecording(t, db)
	for _, s := range []uint64{0, 1, 2, 5} {
		rec.Add(sample(s), true)
	}
	if err := rec.Close(nil); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		prior bool
		seqs  []uint64
		added int64 // results recorded: all but the refused one
	}{
		{"twice in one session", false, []uint64{7, 3, 7}, 2},
		{"twice below the mark", false, []uint64{0, 1, 0}, 2},
		{"below an earlier session's mark", true, []uint64{3, 1}, 1},
		{"above an earlier session's mark", true, []uint64{6, 5}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			run := id
			var opts RecorderOptions
			if tc.prior {
				p, err := db.Progress(id)
				if err != nil {
					t.Fatal(err)
				}
				opts.Prior = p
			} else {
				run, _ = db.CreateRun(nil, Config{})
			}
			before, _ := db.Run(run)
			rec := db.Recorder(run, opts)
			for _, s := range tc.seqs {
				rec.Add(sample(s), true)
			}
			if !rec.Due() {
				t.Error("Due: false after a refused result")
			}
			err := rec.Close(nil)
			if err == nil || !strings.Contains(err.Error(), "already has a result") {
				t.Fatalf("Close: %v, want the second result refused", err)
			}
			if after, _ := db.Run(run); after.Results != before.Results+tc.added {
				t.Fatalf("results went from %d to %d, want %d more: only the second result is refused", before.Results, after.Results, tc.added)
			}
		})
	}
}

// TestRecorderKeepsOthersAfterRepeat: a result with a Seq already recorded
// made the recorder drop every result since the last commit, and all
// after it, though only the repeat is wrong. Only it is refused; the error
// comes from Cut once, from Err and Close, and says what to do.
func TestRecorderKeepsOthersAfterRepeat(t *testing.T) {
	db := openTemp(t)
	id, rec := newRecording(t, db)
	rs := []fetch.Result{
		{Seq: 0, Input: "a", Status: 200},
		{Seq: 1, Input: "b", Status: 200},
		{Seq: 0, Input: "dup"},
		{Seq: 2, Input: "c", Status: 200},
	}
	for i := range rs[:3] {
		rec.Add(&rs[i], true)
	}
	if !rec.Due() {
		t.Error("Due: false after a refused result")
	}
	const want = "target 0 already has a result: give each target its own Seq"
	if err := rec.Cut(nil); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("Cut: %v, want %q", err, want)
	}
	if rec.Due() {
		t.Error("Due: true again after Cut reported the refusal")
	}
	rec.Add(&rs[3], true)
	if err := rec.Err(); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("Err: %v, want %q", err, want)
	}
	if err := rec.Close(nil); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("Close: %v, want %q", err, want)
	}
	var got []string
	for r, err := range db.Results(id) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%d:%s", r.Seq, r.Input))
	}
	if w := []string{"0:a", "1:b", "2:c"}; !slices.Equal(got, w) {
		t.Errorf("recorded %q, want %q", got, w)
	}
	if run, _ := db.Run(id); run.Results != 3 {
		t.Errorf("run's Results = %d, want 3", run.Results)
	}
}

// TestRecorderRefusesSeqFarAhead: a Seq far past the mark (an id, or a
// count across runs, where a run numbers its targets from 0) grew the set
// of Seqs done by a bit for each one between them, and 2^33 ran the
// process out of memory. It is refused, as a second result is; one just
// within the bound is recorded.
func TestRecorderRefusesSeqFarAhead(t *testing.T) {
	db := openTemp(t)
	for _, tc := range []struct {
		seq  uint64
		want string // in Close's error; "" for none
	}{
		{1 << 20, ""},
		{maxSeqAhead, "past the first target without a result (0)"},
		{1 << 63, "past the first target without a result (0)"},
	} {
		run, _ := db.CreateRun(nil, Config{})
		rec := db.Recorder(run, RecorderOptions{})
		rec.Add(sample(tc.seq), true)
		err := rec.Close(nil)
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("Seq %d: Close: %v, want %q", tc.seq, err, tc.want)
		}
	}
}

// TestResultIDs: a run's results get consecutive ids from the start of its
// range in the order they are added, also when two runs record at once,
// and a second session continues where the first stopped.
func TestResultIDs(t *testing.T) {
	db := openTemp(t)
	a, _ := db.CreateRun(nil, Config{})
	b, _ := db.CreateRun(nil, Config{})
	ra, rb := db.Recorder(a, RecorderOptions{}), db.Recorder(b, RecorderOptions{})
	for i := range 1500 {
		ra.Add(sample(uint64(1499-i)), true)
		rb.Add(sample(uint64(i)), true)
		for _, rec := range []*Recorder{ra, rb} {
			if rec.Due() {
				if err := rec.Cut(nil); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	for _, rec := range []*Recorder{ra, rb} {
		if err := rec.Close(nil); err != nil {
			t.Fatal(err)
		}
	}
	p, err := db.Progress(a)
	if err != nil {
		t.Fatal(err)
	}
	ra = db.Recorder(a, RecorderOptions{Prior: p})
	ra.Add(sample(1500), true)
	if err := ra.Close(nil); err != nil {
		t.Fatal(err)
	}
	check := func(run int64, n int, seqAt func(i int) int64) {
		t.Helper()
		rows, err := db.sql.Query(`SELECT id, seq FROM results WHERE run_id = ? ORDER BY id`, run)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		i := 0
		for ; rows.Next(); i++ {
			var id, seq int64
			if err := rows.Scan(&id, &seq); err != nil {
				t.Fatal(err)
			}
			if id != run<<idBits+int64(i) || seq != seqAt(i) {
				t.Fatalf("run %d row %d: id %#x seq %d, want id %#x seq %d", run, i, id, seq, run<<idBits+int64(i), seqAt(i))
			}
		}
		if i != n {
			t.Fatalf("run %d: %d rows, want %d", run, i, n)
		}
	}
	check(a, 1501, func(i int) int64 {
		if i == 1500 {
			return 1500
		}
		return int64(1499 - i)
	})
	check(b, 1500, func(i int) int64 { return int64(i) })
}

// TestTrackerAheadFrom: after any sequence of adds, the low-water mark is
// the first Seq without a result, a second result for a Seq is refused,
// and ahead_from is exactly the smallest id of the results at or past the
// mark, so a resume that reads from it finds each of them and reads little
// else.
func TestTrackerAheadFrom(t *testing.T) {
	for round := range 50 {
		rng := rand.New(rand.NewPCG(uint64(round), 1))
		const n = 2000
		// Targets finish out of order within a window that varies, with
		// now and then one that takes much longer.
		seqs := make([]uint64, n)
		for i := range seqs {
			seqs[i] = uint64(i)
		}
		window := 1 + rng.IntN(100)
		for i := range seqs {
			j := min(n-1, i+rng.IntN(window))
			if rng.IntN(200) == 0 {
				j = min(n-1, i+rng.IntN(n))
			}
			seqs[i], seqs[j] = seqs[j], seqs[i]
		}
		// A first session records a prefix; a second one, resumed from
		// its checkpoint, records the rest.
		cut := rng.IntN(n)
		var p *Progress
		ids := map[uint64]int64{}
		low := uint64(0) // the mark, from ids
		for session, part := range [][]uint64{seqs[:cut], seqs[cut:]} {
			var tr tracker
			tr.init(p, 1000*int64(session)+int64(len(ids)))
			for _, s := range part {
				id, err := tr.add(s)
				if err != nil {
					t.Fatal(err)
				}
				ids[s] = id
				for _, ok := ids[low]; ok; _, ok = ids[low] {
					low++
				}
				if tr.low != low {
					t.Fatalf("round %d session %d after %d: low-water mark %d, want %d", round, session, s, tr.low, low)
				}
				if _, err := tr.add(s); err == nil {
					t.Fatalf("round %d: a second result for %d accepted", round, s)
				}
				other := uint64(rng.IntN(n))
				if _, in := ids[other]; tr.has(other) != in {
					t.Fatalf("round %d: has(%d) = %v, want %v", round, other, tr.has(other), in)
				}
				want := tr.next
				for s2, id2 := range ids {
					if s2 >= tr.low {
						want = min(want, id2)
					}
				}
				if got := tr.aheadFrom(); got != want {
					t.Fatalf("round %d session %d after %d: aheadFrom %d, want %d", round, session, s, got, want)
				}
			}
			p = &Progress{LowWater: tr.low, Above: map[uint64]struct{}{}, AheadFrom: tr.aheadFrom()}
			for s, id := range ids {
				if s >= tr.low {
					p.Above[s] = struct{}{}
					p.ahead = append(p.ahead, aheadRow{s, id})
				}
			}
			slices.SortFunc(p.ahead, func(a, b aheadRow) int { return cmp.Compare(a.id, b.id) })
		}
	}
}

func TestRunsAndParseRunID(t *testing.T) {
	db := openTemp(t)
	if _, err := db.ParseRunID("last"); err == nil {
		t.Fatal("last in an empty database: no error")
	}
	a, _ := db.CreateRun([]string{"a"}, Config{})
	b, _ := db.CreateRun([]string{"b"}, Config{})
	if err := db.SetState(a, StateDone); err != nil {
		t.Fatal(err)
	}
	runs, err := db.Runs()
	if err != nil || len(runs) != 2 || runs[0].ID != a || runs[0].State != StateDone || runs[0].FinishedAt.IsZero() {
		t.Fatalf("runs = %+v, %v", runs, err)
	}
	if id, err := db.ParseRunID("last"); err != nil || id != b {
		t.Fatalf("last = %d, %v; want %d", id, err, b)
	}
	for _, bad := range []string{"x", "0", "-1"} {
		if _, err := db.ParseRunID(bad); err == nil {
			t.Errorf("ParseRunID(%q): no error", bad)
		}
	}
	if _, err := db.Run(99); err == nil {
		t.Fatal("Run(99): no error")
	}
}

// TestParseRunIDBack: last~N is the Nth run before the last, counting the
// runs the database holds (a deleted one leaves a gap in the ids), as
// git's HEAD~N counts commits; too far back says how many runs there are.
func TestParseRunIDBack(t *testing.T) {
	db := openTemp(t)
	if _, err := db.ParseRunID("last~1"); err == nil || !errors.Is(err, ErrNoRun) {
		t.Errorf("last~1 in an empty database: %v, want ErrNoRun", err)
	}
	var ids []int64
	for range 4 {
		id, err := db.CreateRun(nil, Config{})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if _, err := db.sql.Exec(`DELETE FROM runs WHERE id = ?`, ids[2]); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		ref     string
		want    int64  // 0: an error
		wantErr string // in the error
	}{
		{"last", ids[3], ""},
		{"last~0", ids[3], ""},
		{"last~1", ids[1], ""},
		{"last~", ids[1], ""},
		{"latest~2", ids[0], ""},
		{"last~3", 0, `holds 3 runs, so the oldest is last~2`},
		{"last~99999999999999999999", 0, "last~N with N a whole number"},
		{"last~-1", 0, "last~N with N a whole number"},
		{"last~+1", 0, "last~N with N a whole number"},
		{"last~x", 0, "last~N with N a whole number"},
		{"lats~1", 0, "last~N"},
		{"2~1", 0, "want a run id"},
		{"2", 2, ""},
	} {
		t.Run(tt.ref, func(t *testing.T) {
			got, err := db.ParseRunID(tt.ref)
			if tt.want != 0 {
				if err != nil || got != tt.want {
					t.Errorf("got %d, %v; want %d", got, err, tt.want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("got %d, %v; want an error with %q", got, err, tt.wantErr)
			}
		})
	}
}

// TestAppendExtraMatchesEncodingJSON holds the hand-written encoder of the
// extra column to encoding/json's output for the extra struct, which is
// what scanResult decodes with.
func TestAppendExtraMatchesEncodingJSON(t *testing.T) {
	odd := sample(0)
	odd.Proto, odd.Server, odd.Method = "\xff<&>\u2028", "a\"b\\c\x01", ""
	odd.Redirects = []fetch.Hop{{URL: "http://x/\n", Status: 302}, {URL: "", Status: 0}}
	odd.Timing = fetch.Timing{DNS: 1e-7, Connect: 1e21, Total: 0.000123}
	odd.Header = http.Header{"\xffX": {"<&>\u2028", ""}, "Nil": nil, "Empty": {}}
	odd.ContentEncoding = "gzip, br"
	rs := []*fetch.Result{odd, {}}
	for i := range 15 {
		rs = append(rs, sample(uint64(i)))
	}
	for i, r := range rs {
		x := extra{
			Proto: r.Proto, Method: r.Method, ContentLength: r.ContentLength, Truncated: r.Truncated,
			Server: r.Server, BodySHA256: r.BodySHA256, Saved: r.Saved, Worker: r.Worker, Location: r.Location, Timing: timing(r.Timing),
			ContentEnc: r.ContentEncoding, Header: r.Header, HeadersCut: r.HeadersTruncated,
		}
		if r.Redirects != nil {
			x.Redirects = &r.Redirects
		}
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(x); err != nil {
			t.Fatal(err)
		}
		if got := string(appendExtra(nil, r)) + "\n"; got != want.String() {
			t.Errorf("result %d:\ngot:  %s\nwant: %s", i, got, want.String())
		}
	}
}

// TestColumnsForQueries checks what the README promises sqlite3 users:
// every documented column, stored or computed from extra, reads back as
// the result's field (with ” and 0 for empty ones, NULL error when none).
func TestColumnsForQueries(t *testing.T) {
	db := openTemp(t)
	id, rec := newRecording(t, db)
	full, failed, empty := sample(0), sample(1), &fetch.Result{Seq: 2, Input: "bad line"}
	for _, r := range []*fetch.Result{full, failed, empty} {
		rec.Add(r, r.Error == nil)
	}
	if err := rec.Close(nil); err != nil {
		t.Fatal(err)
	}
	rows, err := db.sql.Query(`SELECT seq, input, url, host, final_url, status, ok, error_kind, error, total_ms,
		bytes, content_type, title, ip, attempts, started_at, json_extract(extra, '$.timing.ttfb')
		FROM results WHERE run_id = ? ORDER BY seq`, id)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var seq, status, bytes, attempts int64
		var input, url, host, final, ctype, title, ip string
		var ok bool
		var kind, msg, started sql.NullString
		var total float64
		var ttfb sql.NullFloat64
		if err := rows.Scan(&seq, &input, &url, &host, &final, &status, &ok, &kind, &msg, &total,
			&bytes, &ctype, &title, &ip, &attempts, &started, &ttfb); err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%d %q %q %q %q %d %v %v %v %g %d %q %q %q %d %v %v", seq, input, url, host, final,
			status, ok, kind, msg, total, bytes, ctype, title, ip, attempts, started, ttfb))
	}
	want := []string{
		`0 "example.com/a" "https://example.com/a" "example.com" "https://example.com/b" 200 true { false} { false} 11.0625 1000 "text/html" "A \"title\" \u202e" "127.0.0.1" 2 {2026-01-02T03:04:05.000006789Z true} {4.125 true}`,
		`1 "example.com/a" "https://example.com/a" "example.com" "https://example.com/b" 0 false {timeout true} {took too long true} 11.0625 1000 "text/html" "A \"title\" \u202e" "127.0.0.1" 2 {2026-01-02T03:04:05.000006789Z true} {4.125 true}`,
		`2 "bad line" "" "" "" 0 true { false} { false} 0 0 "" "" "" 0 {0001-01-01T00:00:00Z true} {0 false}`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("columns:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestLeanAndResultsAt: Lean gives each result's counted fields as Results
// does, in the order they were recorded, and ResultsAt gives the full
// results asked for.
func TestLeanAndResultsAt(t *testing.T) {
	db := openTemp(t)
	id, rec := newRecording(t, db)
	const n = 700
	perm := rand.Perm(n)
	for _, i := range perm {
		r := sample(uint64(i))
		r.URL = fmt.Sprintf("https://h%d.example/%d", i%9, i)
		// Lean reads truncated from extra; headers_truncated, and a
		// header value that spells the key, must not pass for it.
		r.Truncated = i%3 == 0
		r.HeadersTruncated = i%5 == 0
		r.Header = http.Header{"X-Spelled": {`"truncated":true`}}
		rec.Add(r, r.Error == nil)
	}
	if err := rec.Close(nil); err != nil {
		t.Fatal(err)
	}
	var full []*fetch.Result
	for r, err := range db.Results(id) {
		if err != nil {
			t.Fatal(err)
		}
		full = append(full, r)
	}
	i := 0
	for r, err := range db.Lean(id) {
		if err != nil {
			t.Fatal(err)
		}
		f := full[perm[i]]
		want := fetch.Result{Seq: f.Seq, URL: f.URL, Status: f.Status, Error: f.Error, Bytes: f.Bytes, Truncated: f.Truncated, StartedAt: f.StartedAt}
		want.Timing.Total = f.Timing.Total
		if !reflect.DeepEqual(*r, want) {
			t.Fatalf("lean result %d = %+v, want %+v", i, *r, want)
		}
		i++
	}
	if i != n {
		t.Fatalf("Lean gave %d results, want %d", i, n)
	}
	got, err := db.ResultsAt(id, []uint64{650, 3, 42, 9999})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || !reflect.DeepEqual(got, []*fetch.Result{full[3], full[42], full[650]}) {
		t.Errorf("ResultsAt(650, 3, 42, 9999) = %d results, want 3, 42 and 650 in full", len(got))
	}
}

// TestRecorderWithoutConnection: a writer that cannot open its connection
// (here the database file is gone) reports it from Close instead of
// crashing the process.
func TestRecorderWithoutConnection(t *testing.T) {
	db := openTemp(t)
	id, err := db.CreateRun(nil, Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(db.Path()); err != nil {
		t.Fatal(err)
	}
	rec := db.Recorder(id, RecorderOptions{})
	rec.Add(sample(0), true)
	err = rec.Close(nil)
	if err == nil || !strings.Contains(err.Error(), "cannot open or create the file") {
		t.Errorf("Close = %v, want the error of opening the database", err)
	}
}

// TestRecorderLeavesForeignKeysOn: the writer records without foreign-key
// checks on a connection of its own; the pool's connections keep them, so
// a run deleted later takes its results with it.
func TestRecorderLeavesForeignKeysOn(t *testing.T) {
	db := openTemp(t)
	db.sql.SetMaxOpenConns(1) // one pool connection: the one the queries below use
	id, rec := newRecording(t, db)
	for i := range 10 {
		rec.Add(sample(uint64(i)), true)
	}
	if err := rec.Close(nil); err != nil {
		t.Fatal(err)
	}
	if _, err := db.sql.Exec(`DELETE FROM runs WHERE id = ?`, id); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := db.sql.QueryRow(`SELECT count(*) FROM results WHERE run_id = ?`, id).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("%d results left after deleting their run, want 0", n)
	}
}

// TestResultsAtManySeqs: ResultsAt takes more Seqs than SQLite takes
// parameters in one query (report --top 40000), and gives them in order.
func TestResultsAtManySeqs(t *testing.T) {
	db := openTemp(t)
	id, rec := newRecording(t, db)
	const n = 3000
	for i := range n {
		rec.Add(sample(uint64(i)), true)
	}
	if err := rec.Close(nil); err != nil {
		t.Fatal(err)
	}
	seqs := make([]uint64, 40000)
	for i := range seqs {
		seqs[i] = uint64(len(seqs) - 1 - i) // descending, most of them absent
	}
	got, err := db.ResultsAt(id, seqs)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != n {
		t.Fatalf("ResultsAt gave %d results, want %d", len(got), n)
	}
	for i, r := range got {
		if r.Seq != uint64(i) {
			t.Fatalf("result %d has Seq %d, want %d", i, r.Seq, i)
		}
	}
}

// layout1 is the schema of databases made before results had ids.
const layout1 = `
CREATE TABLE runs (
  id INTEGER PRIMARY KEY, started_at TEXT NOT NULL, finished_at TEXT, state TEXT NOT NULL,
  command TEXT NOT NULL, config TEXT NOT NULL, results INTEGER NOT NULL DEFAULT 0,
  failed INTEGER NOT NULL DEFAULT 0, low_water INTEGER NOT NULL DEFAULT 0, offsets TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE results (
  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE, seq INTEGER NOT NULL,
  input TEXT NOT NULL, url TEXT NOT NULL, host TEXT NOT NULL, final_url TEXT NOT NULL,
  status INTEGER NOT NULL, ok INTEGER NOT NULL, error_kind TEXT, error TEXT, total_ms REAL NOT NULL,
  bytes INTEGER NOT NULL, content_type TEXT NOT NULL, title TEXT NOT NULL, ip TEXT NOT NULL,
  attempts INTEGER NOT NULL, started_at TEXT NOT NULL, extra TEXT NOT NULL,
  PRIMARY KEY (run_id, seq)
);
CREATE INDEX results_error ON results(run_id, error_kind) WHERE error_kind IS NOT NULL;
CREATE INDEX results_input ON results(run_id, input);
`

// TestMigrateLayout1: opening a database of the first layout gives each
// run's results ids in input order and keeps every result, and a resumed
// run of it finds what was recorded past its mark.
func TestMigrateLayout1(t *testing.T) {
	path := filepath.Join(t.TempDir(), "old.db")
	old, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := old.Exec(layout1); err != nil {
		t.Fatal(err)
	}
	// Run 1 was interrupted with results for 0..9 and 12; run 2 is done.
	old.Exec(`INSERT INTO runs(id, started_at, state, command, config, results, low_water) VALUES
		(1, '2026-01-01T00:00:00Z', 'interrupted', '[]', '{}', 11, 10),
		(2, '2026-01-02T00:00:00Z', 'done', '[]', '{}', 5, 5)`)
	row := `INSERT INTO results VALUES (?, ?, 'in', ?, 'h', ?, 200, 1, NULL, NULL, 1.5, 10, 'text/html', 't', '127.0.0.1', 1, '2026-01-02T03:04:05Z', '{"timing":{"total":1.5}}')`
	// Run 3 was deleted in the sqlite3 shell (foreign keys off there),
	// leaving a result behind; a user made a view over results.
	old.Exec(`CREATE VIEW failures AS SELECT url FROM results WHERE ok = 0`)
	for _, r := range [][2]int{{1, 12}, {1, 3}, {2, 4}, {2, 0}, {1, 0}, {2, 1}, {1, 1}, {1, 2}, {2, 2}, {2, 3}, {1, 4}, {1, 5}, {1, 6}, {1, 7}, {1, 8}, {1, 9}, {3, 0}} {
		u := fmt.Sprintf("https://h/%d/%d", r[0], r[1])
		if _, err := old.Exec(row, r[0], r[1], u, u); err != nil {
			t.Fatal(err)
		}
	}
	old.Close()

	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var version int
	db.sql.QueryRow(`PRAGMA user_version`).Scan(&version)
	if version != 2 {
		t.Fatalf("user_version = %d after opening, want 2", version)
	}
	for run, want := range map[int64][]uint64{1: {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 12}, 2: {0, 1, 2, 3, 4}} {
		var got []uint64
		for r, err := range db.Results(run) {
			if err != nil {
				t.Fatal(err)
			}
			if r.URL != fmt.Sprintf("https://h/%d/%d", run, r.Seq) || r.Timing.Total != 1.5 {
				t.Fatalf("run %d: result %+v", run, r)
			}
			got = append(got, r.Seq)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("run %d: seqs %v, want %v", run, got, want)
		}
		var bad int
		db.sql.QueryRow(`SELECT count(*) FROM results WHERE run_id = ? AND id != (run_id << 40) +
			(SELECT count(*) FROM results r2 WHERE r2.run_id = results.run_id AND r2.seq < results.seq)`, run).Scan(&bad)
		if bad != 0 {
			t.Fatalf("run %d: %d results whose id is not their place in input order", run, bad)
		}
	}
	var total, failures int
	db.sql.QueryRow(`SELECT count(*) FROM results`).Scan(&total)
	if err := db.sql.QueryRow(`SELECT count(*) FROM failures`).Scan(&failures); err != nil || total != 16 {
		t.Fatalf("after the migration: %d results (want 16, the orphan left behind), the view: %v", total, err)
	}
	p, err := db.Progress(1)
	if err != nil {
		t.Fatal(err)
	}
	if p.LowWater != 10 || len(p.Above) != 1 || !p.Done(12) || p.Done(11) {
		t.Fatalf("progress of the migrated run = %+v", p)
	}
	rec := db.Recorder(1, RecorderOptions{Prior: p})
	rec.Add(sample(12), true)
	if err := rec.Close(nil); err == nil {
		t.Fatal("a migrated run took a second result for a target")
	}
	rec = db.Recorder(1, RecorderOptions{Prior: p})
	for _, s := range []uint64{11, 10} {
		rec.Add(sample(s), true)
	}
	if err := rec.Close(nil); err != nil {
		t.Fatal(err)
	}
	if run, _ := db.Run(1); run.Results != 13 || run.LowWater != 13 {
		t.Fatalf("resumed migrated run: %d results, low water %d; want 13 and 13", run.Results, run.LowWater)
	}
	// The diff index of the old table went with it and comes back on use.
	if _, err := db.Diff(1, 2, DiffOptions{}, func(Change) error { return nil }); err != nil {
		t.Fatal(err)
	}
}

// TestReadmeQueries runs the README's example queries on a database of
// four runs: each must work and read its runs through an index or an id
// range, never by scanning the whole table (nor by building an automatic
// index, which scans it).
func TestReadmeQueries(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, block, ok := strings.Cut(string(readme), "Useful queries (`sqlite3 runs.db`):\n\n```sql\n")
	if !ok {
		t.Fatal("README: no Useful queries block")
	}
	block, _, _ = strings.Cut(block, "```")
	var queries []string
	for q := range strings.SplitSeq(block, ";") {
		var lines []string
		for l := range strings.SplitSeq(q, "\n") {
			if l, _, _ = strings.Cut(l, "--"); strings.TrimSpace(l) != "" {
				lines = append(lines, l)
			}
		}
		if len(lines) > 0 {
			queries = append(queries, strings.Join(lines, "\n"))
		}
	}
	if len(queries) < 5 {
		t.Fatalf("README: %d queries found", len(queries))
	}
	db := openTemp(t)
	for range 4 {
		_, rec := newRecording(t, db)
		for s := range 50 {
			r := sample(uint64(s))
			rec.Add(r, r.Error == nil)
		}
		if err := rec.Close(nil); err != nil {
			t.Fatal(err)
		}
	}
	for _, q := range queries {
		rows, err := db.sql.Query(q)
		if err != nil {
			t.Fatalf("%s\n: %v", q, err)
		}
		n := 0
		for rows.Next() {
			n++
			if strings.Contains(q, "'xx'") {
				// The status-class query: its labels must be classes
				// ("2xx"); || binds tighter than / in SQLite.
				cols, _ := rows.Columns()
				vals := make([]any, len(cols))
				var label string
				vals[0] = &label
				for i := 1; i < len(vals); i++ {
					vals[i] = new(any)
				}
				if err := rows.Scan(vals...); err != nil {
					t.Fatal(err)
				}
				if len(label) != 3 || label[0] < '0' || label[0] > '9' || label[1:] != "xx" {
					t.Errorf("%s\n: label %q, want a status class such as 2xx", q, label)
				}
			}
		}
		rows.Close()
		plan, err := db.sql.Query("EXPLAIN QUERY PLAN " + q)
		if err != nil {
			t.Fatal(err)
		}
		for plan.Next() {
			var id, parent, unused int
			var detail string
			if err := plan.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			// An automatic index is built by scanning the whole table too.
			if strings.HasPrefix(detail, "SCAN results") || strings.HasPrefix(detail, "SCAN a") ||
				strings.HasPrefix(detail, "SCAN b") || strings.Contains(detail, "AUTOMATIC") {
				t.Errorf("%s\nscans the whole table: %s", q, detail)
			}
		}
		plan.Close()
	}
}

// TestSetUpReadsColumns: the layout is read from the tables, not from
// user_version alone. A dump of a current database loaded into a new file
// (user_version 0) opens unchanged; a database an older fanout left with
// runs but no results (killed while creating it) gets the missing parts.
func TestSetUpReadsColumns(t *testing.T) {
	dir := t.TempDir()
	src := openTemp(t)
	id, _ := src.CreateRun(nil, Config{})
	rec := src.Recorder(id, RecorderOptions{})
	rec.Add(sample(0), true)
	if err := rec.Close(nil); err != nil {
		t.Fatal(err)
	}
	dump := filepath.Join(dir, "dump.db")
	if _, err := src.sql.Exec(`VACUUM INTO ?`, dump); err != nil {
		t.Fatal(err)
	}
	half := filepath.Join(dir, "half.db")
	for path, prep := range map[string]string{
		dump: `PRAGMA user_version = 0`,
		half: strings.Split(layout1, "CREATE TABLE results")[0],
	} {
		raw, err := sql.Open("sqlite", path)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := raw.Exec(prep); err != nil {
			t.Fatal(err)
		}
		raw.Close()
		db, err := Open(path)
		if err != nil {
			t.Fatalf("%s: %v", filepath.Base(path), err)
		}
		runs, err := db.Runs()
		if err != nil {
			t.Fatalf("%s: %v", filepath.Base(path), err)
		}
		var n int
		db.sql.QueryRow(`SELECT count(*) FROM results`).Scan(&n)
		if path == dump && (len(runs) != 1 || n != 1) {
			t.Errorf("dump: %d runs, %d results; want 1 and 1", len(runs), n)
		}
		db.Close()
	}
}

// TestOpenErrorsSayWhatToDo: the commonest failures to open a database read
// as advice, not as SQLite's "unable to open database file (14)".
func TestOpenErrorsSayWhatToDo(t *testing.T) {
	dir := t.TempDir()
	notDB := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(notDB, bytes.Repeat([]byte("not a database\n"), 100), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ path, want string }{
		{filepath.Join(dir, "missing", "runs.db"), "check that its directory exists and is writable"},
		{notDB, "not a SQLite database"},
	} {
		db, err := Open(tc.path)
		if err == nil {
			db.Close()
			t.Errorf("Open(%s) succeeded", tc.path)
			continue
		}
		msg := err.Error()
		if !strings.Contains(msg, tc.want) || !strings.HasPrefix(msg, "--db "+tc.path+": ") || strings.Contains(msg, "(") {
			t.Errorf("Open(%s): %q, want \"--db %s: ...%s...\" without SQLite's code", tc.path, msg, tc.path, tc.want)
		}
		var se *sqlite.Error
		if !errors.As(err, &se) {
			t.Errorf("Open(%s): %v does not wrap the *sqlite.Error", tc.path, err)
		}
	}
	// A directory is not "a directory that does not exist or is not writable".
	if db, err := Open(dir); err == nil {
		db.Close()
		t.Errorf("Open(%s), a directory, succeeded", dir)
	} else if !strings.HasPrefix(err.Error(), "--db "+dir+": is a directory") {
		t.Errorf("Open(%s), a directory: %q, want it to say it is a directory", dir, err)
	}
}

// TestOpenRefusesForeignDatabase: a database another program made is
// neither given fanout's tables nor switched to WAL, and its own runs table
// is not mistaken for fanout's.
func TestOpenRefusesForeignDatabase(t *testing.T) {
	for _, tc := range []struct{ name, setup, tables string }{
		{"app", `CREATE TABLE users(name TEXT); CREATE TABLE orders(id INTEGER)`, "orders, users"},
		{"own runs table", `CREATE TABLE runs(x INTEGER); PRAGMA user_version = 7`, "runs"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "other.db")
			other, err := sql.Open("sqlite", path)
			if err != nil {
				t.Fatal(err)
			}
			defer other.Close()
			if _, err := other.Exec(tc.setup); err != nil {
				t.Fatal(err)
			}
			schema := func() (s string) {
				other.QueryRow(`SELECT group_concat(sql, ';') FROM sqlite_schema`).Scan(&s)
				return s
			}
			before := schema()
			db, err := Open(path)
			if err == nil {
				db.Close()
				t.Fatal("Open succeeded")
			}
			if want := "not a fanout database (its tables: " + tc.tables + ")"; !strings.Contains(err.Error(), want) {
				t.Errorf("Open: %v, want it to say %q", err, want)
			}
			var mode string
			if err := other.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "delete" {
				t.Errorf("journal_mode = %q (%v), want it left at delete", mode, err)
			}
			if after := schema(); after != before {
				t.Errorf("schema changed:\n%s\nto\n%s", before, after)
			}
		})
	}
}

// Close twice, Abandon after Close and Cut after either are the caller's
// slips, not panics: a deferred Close may follow an explicit one.
func TestRecorderClosedTwice(t *testing.T) {
	db := openTemp(t)
	_, rec := newRecording(t, db)
	rec.Add(sample(0), true)
	if err := rec.Close(nil); err != nil {
		t.Fatal(err)
	}
	if err := rec.Close(nil); err != nil {
		t.Errorf("second Close: %v, want the first's (nil)", err)
	}
	if err := rec.Abandon(); err != nil {
		t.Errorf("Abandon after Close: %v", err)
	}
	if err := rec.Cut(nil); !errors.Is(err, errRecorderClosed) {
		t.Errorf("Cut after Close: %v, want errRecorderClosed", err)
	}
}

// A recorder for a run that does not exist records nothing and says so.
func TestRecorderForMissingRun(t *testing.T) {
	db := openTemp(t)
	rec := db.Recorder(42, RecorderOptions{})
	rec.Add(sample(0), true)
	if err := rec.Close(nil); !errors.Is(err, ErrNoRun) {
		t.Errorf("Close: %v, want ErrNoRun", err)
	}
	n := 0
	for r, err := range db.Results(42) {
		if r != nil || !errors.Is(err, ErrNoRun) {
			t.Errorf("Results of a run that does not exist: %v, %v; want only ErrNoRun", r, err)
		}
		n++
	}
	if n != 1 {
		t.Errorf("Results of a run that does not exist yielded %d items, want 1 (ErrNoRun)", n)
	}
}

// TestOpenNewFileConcurrently opens one new file from several handles at
// once, as two fanout processes started together with the same --db do.
// The switch to WAL does not wait for the file (SQLite calls no busy
// handler there), so all but one failed at once with "the database stayed
// locked by another process for 10 s".
func TestOpenNewFileConcurrently(t *testing.T) {
	for i := range 60 {
		path := filepath.Join(t.TempDir(), "runs.db")
		var wg sync.WaitGroup
		errs := make([]error, 4)
		for k := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				db, err := Open(path)
				if err == nil {
					_, err = db.Runs()
					db.Close()
				}
				errs[k] = err
			}()
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Fatalf("try %d: %v", i, err)
			}
		}
	}
}

// TestWriteErrorsSayWhatToDo: a database that opens (reading needs no
// write) but may not be written, a file chmod'ed read-only or whose -shm
// is, fails at the run's first write; that error reads as advice too, not
// as SQLite's "attempt to write a readonly database (8)". query_only stands
// in for the read-only file, as tests may run as root.
func TestWriteErrorsSayWhatToDo(t *testing.T) {
	db := openTemp(t)
	id, err := db.CreateRun([]string{"x"}, Config{})
	if err != nil {
		t.Fatal(err)
	}
	db.sql.SetMaxOpenConns(1)
	if _, err := db.sql.Exec(`PRAGMA query_only = ON`); err != nil {
		t.Fatal(err)
	}
	_, createErr := db.CreateRun([]string{"y"}, Config{})
	for what, err := range map[string]error{"CreateRun": createErr, "SetState": db.SetState(id, StateRunning)} {
		if err == nil {
			t.Errorf("%s on a read-only database succeeded", what)
			continue
		}
		msg := err.Error()
		if !strings.Contains(msg, "the database is read-only") || strings.Contains(msg, "(8)") {
			t.Errorf("%s: %q, want it to say the database is read-only, without SQLite's code", what, msg)
		}
		var se *sqlite.Error
		if !errors.As(err, &se) {
			t.Errorf("%s: %v does not wrap the *sqlite.Error", what, err)
		}
	}
}

// TestRecorderDropsDiffsInputIndex: a database an older fanout's diff read
// has an index on (run_id, input), which diff no longer uses and every
// result recorded kept up to date; the next recording drops it.
func TestRecorderDropsDiffsInputIndex(t *testing.T) {
	db := openTemp(t)
	if _, err := db.sql.Exec(`CREATE INDEX IF NOT EXISTS results_input ON results(run_id, input)`); err != nil {
		t.Fatal(err)
	}
	_, rec := newRecording(t, db)
	rec.Add(sample(0), true)
	if err := rec.Close(nil); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := db.sql.QueryRow(`SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = 'results_input'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Error("results_input is still there after a recording")
	}
}
