package cli

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fanout/fanout/fetch"
	"github.com/fanout/fanout/output"
	"github.com/fanout/fanout/store"
)

func reportResults() []*fetch.Result {
	return []*fetch.Result{
		{Seq: 0, URL: "https://a.example/", Status: 200, Timing: fetch.Timing{TTFB: 8, Total: 10}, Title: "<script>alert(1)</script>"},
		{Seq: 1, URL: "https://a.example/x", Status: 301, Timing: fetch.Timing{Total: 20}},
		{Seq: 2, URL: "https://b.example/", Error: &fetch.Error{Kind: fetch.KindDNS, Message: "no such host"}, Timing: fetch.Timing{Total: 3}},
	}
}

func runReport(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	env := Env{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb}
	code = Main(context.Background(), env, append([]string{"report"}, args...))
	return code, out.String(), errb.String()
}

func TestReportFromJSONL(t *testing.T) {
	dir := t.TempDir()
	var jsonl bytes.Buffer
	for _, r := range reportResults() {
		if err := json.NewEncoder(&jsonl).Encode(r); err != nil {
			t.Fatal(err)
		}
	}
	in := filepath.Join(dir, "out.jsonl")
	if err := os.WriteFile(in, jsonl.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	page := filepath.Join(dir, "report.html")
	code, _, stderr := runReport(t, "", "--from", in, "-o", page, "--accept", "200..=299")
	if code != ExitOK {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	if !strings.Contains(stderr, "report: 3 results -> "+page) {
		t.Errorf("stderr %q, want a line naming 3 results and the file", stderr)
	}
	b, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	html := string(b)
	for _, want := range []string{"<svg", "200..=299", "&lt;script&gt;alert(1)", "b.example", "out.jsonl"} {
		if !strings.Contains(html, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".fanout-report-*")); len(left) > 0 {
		t.Errorf("temporary files left behind: %v", left)
	}

	// The same results from stdin, the page to stdout.
	code, stdout, stderr := runReport(t, jsonl.String(), "--from", "-", "-o", "-")
	if code != ExitOK || !strings.HasPrefix(stdout, "<!DOCTYPE html>") {
		t.Errorf("--from - -o -: exit %d, stdout starts %q, stderr %q", code, stdout[:min(len(stdout), 30)], stderr)
	}

	// The file of a run killed midway ends mid-line: reported with a
	// warning, that line left out.
	whole := jsonl.String()
	code, _, stderr = runReport(t, whole+whole[:len(whole)/3], "--from", "-", "-o", "-")
	if want := "its last line (" + strconv.Itoa(strings.Count(whole, "\n")+1) + ") is cut short"; code != ExitOK || !strings.Contains(stderr, want) {
		t.Errorf("a cut last line: exit %d, stderr %q; want 0 and %q", code, stderr, want)
	}
}

func TestReportUsageErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.jsonl")
	if err := os.WriteFile(bad, []byte("{\"status\":200}\nnot json\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"no output", []string{"--from", bad}, "-o"},
		{"file and run", []string{"3", "--from", bad, "-o", "x.html"}, "not both"},
		{"missing file", []string{"--from", filepath.Join(dir, "nope.jsonl"), "-o", "x.html"}, "nope.jsonl"},
		{"missing db", []string{"last", "--db", filepath.Join(dir, "nope.db"), "-o", "x.html"}, "nope.db"},
		{"bad accept", []string{"--from", bad, "--accept", "abc", "-o", "x.html"}, "--accept"},
		{"bad line", []string{"--from", bad, "-o", filepath.Join(dir, "r.html")}, "line 2"},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, _, stderr := runReport(t, "", c.args...)
			if code == ExitOK || !strings.Contains(stderr, c.want) {
				t.Errorf("exit %d, stderr %q; want a failure naming %q", code, stderr, c.want)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "r.html")); err == nil {
		t.Errorf("a failed report left its output file behind")
	}
}

func TestReportFromDB(t *testing.T) {
	dir, dbName, db, id := newRecordedRun(t, store.Config{Accept: "200..=299"})
	rec := db.Recorder(id, store.RecorderOptions{})
	for _, r := range reportResults() {
		rec.Add(r, r.Error == nil && r.Status == 200)
	}
	if err := rec.Close(nil); err != nil {
		t.Fatal(err)
	}
	if err := db.SetState(id, store.StateDone); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	page := filepath.Join(dir, "run.html")
	code, _, stderr := runReport(t, "", "last", "--db", dbName, "-o", page)
	if code != ExitOK {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	b, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	html := string(b)
	// The run's own --accept judges it: 1 of 3 accepted (the 301 is not).
	for _, want := range []string{"fanout run 1", "fanout -i urls.txt", "200..=299", ">33%<", "no such host"} {
		if !strings.Contains(html, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if code, _, stderr := runReport(t, "", "last", "--db", dbName, "--accept", "200", "-o", page); code != ExitUsage {
		t.Errorf("--accept with a recorded run: exit %d (%q), want %d", code, stderr, ExitUsage)
	}
}

// TestLargeReportFromDB times fanout report on a database holding
// FANOUT_REPORT_DB_N recorded results (over N/5 hosts, 1% failed), e.g.
//
//	FANOUT_REPORT_DB_N=1000000 go test -run TestLargeReportFromDB -v ./internal/cli/
//
// Recording them takes about as long again; the report and fanout show
// (the run again in input order) are timed.
func TestLargeReportFromDB(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("FANOUT_REPORT_DB_N"))
	if n <= 0 {
		t.Skip("set FANOUT_REPORT_DB_N (e.g. 1000000) to time a report of that many stored results")
	}
	dir, dbName, db, id := newRecordedRun(t, store.Config{})
	rec := db.Recorder(id, store.RecorderOptions{})
	at := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	for i := range n {
		u := fmt.Sprintf("https://h%d.example/page/%d", i%max(1, n/5), i)
		ms := float64(20 + i%97*3 + i%1013)
		r := &fetch.Result{Seq: uint64(i), Input: u, URL: u, FinalURL: u, Status: 200, Proto: "HTTP/1.1", Method: "GET",
			ContentType: "text/html", Bytes: 1024, Title: fmt.Sprintf("Page %d", i), IP: "127.0.0.1", Attempts: 1,
			BodySHA256: "e0ae25d169afe826a2003e8422fa3436a39363513d5fcb5f85b4cc26ef0306e5", StartedAt: at.Add(time.Duration(i) * time.Millisecond),
			Timing: fetch.Timing{Connect: 1, TTFB: ms - 2, Transfer: 1, Total: ms}}
		if i%100 == 7 {
			r.Status, r.Title, r.BodySHA256 = 0, "", ""
			r.Error = &fetch.Error{Kind: fetch.KindTimeout, Message: "no response within 10s"}
		}
		rec.Add(r, r.Error == nil)
		if rec.Due() {
			if err := rec.Cut(nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := rec.Close(nil); err != nil {
		t.Fatal(err)
	}
	if err := db.SetState(id, store.StateDone); err != nil {
		t.Fatal(err)
	}
	db.Close()
	st, err := os.Stat(dbName)
	if err != nil {
		t.Fatal(err)
	}

	page := filepath.Join(dir, "run.html")
	t0 := time.Now()
	code, _, stderr := runReport(t, "", "last", "--db", dbName, "-o", page)
	took := time.Since(t0)
	if code != ExitOK {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	b, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	// The slowest targets' titles come from their full rows.
	if !strings.Contains(string(b), fmt.Sprintf("Page %d", slowestSeq(n))) {
		t.Errorf("the page does not list the slowest target's title")
	}
	// show re-emits the run in input order, which SQLite sorts into.
	shown := filepath.Join(dir, "show.jsonl")
	t0 = time.Now()
	code, _, stderr = runCLI(t, "", "show", "last", "--db", dbName, "-o", shown)
	showTook := time.Since(t0)
	if code != ExitOK {
		t.Fatalf("show: exit %d, stderr %q", code, stderr)
	}
	lines, err := os.ReadFile(shown)
	if err != nil {
		t.Fatal(err)
	}
	if got := bytes.Count(lines, []byte("\n")); got != n {
		t.Fatalf("show wrote %d lines for %d results", got, n)
	}
	t.Logf("%d results, database %d bytes (%.0f B/result): report in %v, page %d KB; show in %v", n, st.Size(),
		float64(st.Size())/float64(n), took.Round(time.Millisecond), len(b)/1024, showTook.Round(time.Millisecond))
}

// slowestSeq is the Seq with the largest total in TestLargeReportFromDB's
// results (ties go to the first).
func slowestSeq(n int) int {
	best, bestMs := 0, -1
	for i := range n {
		if i%100 == 7 {
			continue
		}
		if ms := 20 + i%97*3 + i%1013; ms > bestMs {
			best, bestMs = i, ms
		}
	}
	return best
}

// TestReportCorruptRow: a stored row fanout cannot read (edited by hand in
// the sqlite3 shell) is a run that cannot be reported, exit 3 with the
// store's message, as fanout show does; not a usage error with a hint to
// read --help.
func TestReportCorruptRow(t *testing.T) {
	dir, dbName, db, id := newRecordedRun(t, store.Config{})
	rec := db.Recorder(id, store.RecorderOptions{})
	for _, r := range reportResults() {
		rec.Add(r, r.Error == nil)
	}
	if err := rec.Close(nil); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	raw, err := sql.Open("sqlite", dbName)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec(`UPDATE results SET extra = '{not json' WHERE id = (SELECT min(id) FROM results)`); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	for _, args := range [][]string{{"report", "--db", dbName, "-o", filepath.Join(dir, "r.html")}, {"show", "--db", dbName, "last", "-o", filepath.Join(dir, "r.jsonl")}} {
		code, _, stderr := runCLI(t, "", args...)
		if code != ExitIncomplete || strings.Contains(stderr, "--help") {
			t.Errorf("%s of a run with a corrupt row: exit %d, stderr %q; want %d without a usage hint", args[0], code, stderr, ExitIncomplete)
		}
	}
}

// TestReportFromBadLine: a --from file with a line that is not a result
// (not its cut last line) is results that cannot be read, exit 3 naming the
// line, as for a corrupt stored row; not a usage error with a hint to read
// --help, which could not help.
func TestReportFromBadLine(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.jsonl")
	if err := os.WriteFile(bad, []byte("{\"status\":200}\nnot json\n{\"status\":200}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := runReport(t, "", "--from", bad, "-o", filepath.Join(dir, "r.html"))
	if code != ExitIncomplete || !strings.Contains(stderr, "line 2") || strings.Contains(stderr, "--help") {
		t.Errorf("--from a file with a bad line: exit %d, stderr %q; want %d naming line 2, without a usage hint", code, stderr, ExitIncomplete)
	}
}

// TestReportFromOtherOutput: --from given fanout's csv or text output
// said "results: line 1: invalid character 'i' looking for beginning of
// value" and exit 3; it is a usage error naming the file and what to give.
func TestReportFromOtherOutput(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, tc := range []struct{ name, text string }{
		{"t.csv", strings.Join(output.CSVHeader, ",") + "\nhttp://127.0.0.1:9/,http://127.0.0.1:9/,,200\n"},
		{"t.txt", "200 http://127.0.0.1:9/ ok\n"},
		{"blank-first.txt", "\n \n[1,2]\n"},
		{"-", "input,url\n"},
	} {
		args := []string{"--from", tc.name, "-o", filepath.Join(dir, "r.html")}
		stdin, what := tc.text, "stdin"
		if tc.name != "-" {
			name := filepath.Join(dir, tc.name)
			if err := os.WriteFile(name, []byte(tc.text), 0o644); err != nil {
				t.Fatal(err)
			}
			args[1], stdin, what = name, "", name
		}
		code, _, stderr := runReport(t, stdin, args...)
		want := what + " is not a JSON Lines results file"
		if code != ExitUsage || !strings.Contains(stderr, want) || !strings.Contains(stderr, "fanout -f jsonl") || strings.Count(stderr, "\n") != 1 {
			t.Errorf("--from %s: exit %d, stderr %q; want %d and one line saying %q and -f jsonl", tc.name, code, stderr, ExitUsage, want)
		}
	}
}

// newRecordedRun opens a new database in a temporary directory and creates
// run "fanout -i urls.txt" with cfg in it, for a test to record into.
func newRecordedRun(t *testing.T, cfg store.Config) (dir, dbName string, db *store.DB, id int64) {
	t.Helper()
	dir = t.TempDir()
	dbName = filepath.Join(dir, "runs.db")
	db, err := store.Open(dbName)
	if err != nil {
		t.Fatal(err)
	}
	if id, err = db.CreateRun([]string{"-i", "urls.txt"}, cfg); err != nil {
		t.Fatal(err)
	}
	return dir, dbName, db, id
}
