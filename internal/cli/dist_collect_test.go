package cli

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/fanout/fanout/output"
	"github.com/fanout/fanout/store"
)

// TestCollectFollowStopsOnFirstInterrupt: collect has nothing to drain, so
// the first Ctrl-C (or SIGTERM) ends it with exit 130, whether it waits for
// a run not submitted yet (it says so) or follows one that workers have not
// finished (what it collected is written). It used to wait for the run to
// end, and for a run that never came, forever.
func TestCollectFollowStopsOnFirstInterrupt(t *testing.T) {
	url := startSecureNATS(t, func(*server.Options) {})
	dir := t.TempDir()
	list := filepath.Join(dir, "urls.txt")
	// Submitted, never fetched: there is no worker.
	if err := os.WriteFile(list, []byte("http://127.0.0.1:9/a\nhttp://127.0.0.1:9/b\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := runCLI(t, "", "submit", "--nats", url, "--run", "held", "-q", "-i", list); code != ExitOK {
		t.Fatalf("submit: exit %d: %s", code, errOut)
	}
	for _, tc := range []struct {
		name, run, stderr string
		db                bool
	}{
		{"run not submitted", "nosuch", "waiting for it to be submitted", false},
		// Following: results stopped coming (none came) and no worker serves it.
		{"run not finished", "held", "no worker serves it", false},
		// Recorded: interrupted, for a later collect (it stayed running,
		// shown as killed).
		{"run not finished, --db", "held", "no worker serves it", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			interrupt := make(chan struct{})
			var stderr syncBuffer
			env := Env{Stdin: strings.NewReader(""), Stdout: new(strings.Builder), Stderr: &stderr, Interrupt: interrupt}
			done := make(chan int, 1)
			args := []string{"collect", "--nats", url, "--run", tc.run, "--follow", "-f", "jsonl", "-o", filepath.Join(dir, tc.run+".jsonl")}
			db := filepath.Join(dir, "runs.db")
			if tc.db {
				args = []string{"collect", "--nats", url, "--run", tc.run, "--follow", "--db", db}
			}
			go func() { done <- Main(t.Context(), env, args) }()
			// Interrupt once collect says it waits: a fixed 500 ms could
			// end before it had connected and looked (a loaded machine,
			// -race), and the interrupt then came before there was
			// anything to wait for, or a run recorded in --db.
			for deadline := time.Now().Add(30 * time.Second); !strings.Contains(stderr.String(), tc.stderr); time.Sleep(20 * time.Millisecond) {
				if time.Now().After(deadline) {
					close(interrupt)
					<-done
					t.Fatalf("collect --follow did not say %q within 30s: %s", tc.stderr, stderr.String())
				}
			}
			close(interrupt)
			start := time.Now()
			select {
			case code := <-done:
				if code != ExitInterrupted {
					t.Errorf("exit %d, want %d: %s", code, ExitInterrupted, stderr.String())
				}
				if d := time.Since(start); d > 10*time.Second {
					t.Errorf("took %v to stop after the interrupt", d)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("collect --follow did not stop within 30s of the interrupt")
			}
			if !strings.Contains(stderr.String(), tc.stderr) {
				t.Errorf("stderr %q, want it to say %q", stderr.String(), tc.stderr)
			}
			if tc.db {
				if _, out, _ := runCLI(t, "", "runs", "--db", db, "-f", "jsonl"); !strings.Contains(out, `"state":"interrupted"`) {
					t.Errorf("the recorded run after Ctrl-C: %s; want it interrupted", out)
				}
			}
		})
	}
}

// TestCollectDBWithoutFollowRecordsDone: a collect --db without --follow
// that finds every target of a fully submitted run with its result records
// the store run as done, as --follow does; it used to leave it running
// (shown as killed by fanout runs once the collect had exited). One that
// finds results missing leaves it interrupted, for a later collect.
func TestCollectDBWithoutFollowRecordsDone(t *testing.T) {
	url := startSecureNATS(t, func(*server.Options) {})
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "<title>ok</title>")
	}))
	defer web.Close()
	dir := t.TempDir()
	state := func(db string) string {
		t.Helper()
		code, out, errOut := runCLI(t, "", "runs", "--db", db, "-f", "jsonl")
		if code != ExitOK {
			t.Fatalf("runs: exit %d: %s", code, errOut)
		}
		var r struct{ State string }
		if err := json.Unmarshal([]byte(strings.TrimSpace(out)), &r); err != nil {
			t.Fatalf("runs: %v: %q", err, out)
		}
		return r.State
	}
	for _, tc := range []struct {
		name   string
		worker bool
		want   string
	}{
		{"every result", true, "done"},
		{"results missing", false, "interrupted"}, // a later collect continues it; it read "killed"
	} {
		t.Run(tc.name, func(t *testing.T) {
			run := strings.ReplaceAll(tc.name, " ", "-")
			if code, _, errOut := runCLI(t, "", "submit", "--nats", url, "--run", run, "-q", web.URL+"/a", web.URL+"/b"); code != ExitOK {
				t.Fatalf("submit: exit %d: %s", code, errOut)
			}
			if tc.worker {
				if code, _, errOut := runCLI(t, "", "worker", "--nats", url, "--run", run, "--exit-when-done", "-q"); code != ExitOK {
					t.Fatalf("worker: exit %d: %s", code, errOut)
				}
			}
			db := filepath.Join(dir, run+".db")
			if code, _, errOut := runCLI(t, "", "collect", "--nats", url, "--run", run, "--db", db); code != ExitOK {
				t.Fatalf("collect: exit %d: %s", code, errOut)
			}
			if got := state(db); got != tc.want {
				t.Errorf("state %q after collect --db without --follow, want %q", got, tc.want)
			}
			if tc.worker {
				return
			}
			// The results come later: a collect again finishes the run.
			if code, _, errOut := runCLI(t, "", "worker", "--nats", url, "--run", run, "--exit-when-done", "-q"); code != ExitOK {
				t.Fatalf("worker: exit %d: %s", code, errOut)
			}
			if code, _, errOut := runCLI(t, "", "collect", "--nats", url, "--run", run, "--db", db); code != ExitOK {
				t.Fatalf("collect again: exit %d: %s", code, errOut)
			}
			if got := state(db); got != "done" {
				t.Errorf("state %q after the results came and a second collect, want done", got)
			}
		})
	}
}

// workedRun submits run's targets, made from the URL of a web server
// whose /gone... paths answer 404 and others 200, to an embedded NATS
// server, and has one worker fetch them all (no retries); it returns
// the NATS server's URL and the web server's.
func workedRun(t *testing.T, run string, targets func(web string) []string) (url, webURL string) {
	t.Helper()
	url = startSecureNATS(t, func(*server.Options) {})
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/gone") {
			http.NotFound(w, r)
			return
		}
		fmt.Fprint(w, "ok")
	}))
	t.Cleanup(web.Close)
	if code, _, errOut := runCLI(t, "", append([]string{"submit", "--nats", url, "--run", run, "-q"}, targets(web.URL)...)...); code != ExitOK {
		t.Fatalf("submit: exit %d: %s", code, errOut)
	}
	if code, _, errOut := runCLI(t, "", "worker", "--nats", url, "--run", run, "--exit-when-done", "-q", "-c", "1", "--retries", "0"); code != ExitOK {
		t.Fatalf("worker: exit %d: %s", code, errOut)
	}
	return url, web.URL
}

// TestCollectSummaryNamesFailed: collect -f jsonl passes the workers'
// records through, decoding only what the summary counts; the summary's
// list of failed targets must still name each one.
func TestCollectSummaryNamesFailed(t *testing.T) {
	url, web := workedRun(t, "named", func(web string) []string {
		return []string{web + "/a", web + "/gone1", web + "/b", web + "/gone2"}
	})
	dir := t.TempDir()
	code, _, errOut := runCLI(t, "", "collect", "--nats", url, "--run", "named", "-f", "jsonl", "-o", filepath.Join(dir, "out.jsonl"),
		"--summary-json", filepath.Join(dir, "summary.json"))
	if code != ExitFailures {
		t.Fatalf("collect: exit %d, want %d: %s", code, ExitFailures, errOut)
	}
	for _, want := range []string{"404             " + web + "/gone1\n", "404             " + web + "/gone2\n"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("the summary does not name %q:\n%s", strings.TrimSpace(want), errOut)
		}
	}
	// --summary-json, which collect takes too, says the same.
	sum, b := readSummaryJSON(t, filepath.Join(dir, "summary.json"))
	if sum.Results != 4 || sum.Failed != 2 || !sum.Complete || len(sum.FailedTargets) != 2 || !strings.HasSuffix(sum.FailedTargets[0].Input, "/gone1") && !strings.HasSuffix(sum.FailedTargets[0].Input, "/gone2") {
		t.Errorf("summary JSON: %s", b)
	}
}

// closedStdout is a stdout whose reader is gone (fanout collect | head):
// every write fails as os.Stdout's does then.
type closedStdout struct{}

func (closedStdout) Write([]byte) (int, error) {
	return 0, &os.PathError{Op: "write", Path: "/dev/stdout", Err: syscall.EPIPE}
}

// TestCollectIntoClosedPipe: collect whose stdout was closed by its reader
// says so once, in the main command's words (not "write /dev/stdout",
// a file the user never gave), and exits 3.
func TestCollectIntoClosedPipe(t *testing.T) {
	url, _ := workedRun(t, "piped", func(web string) []string { return []string{web + "/a", web + "/b"} })
	for _, format := range []string{"jsonl", "csv"} { // written through, and encoded
		var errb bytes.Buffer
		code := Main(t.Context(), Env{Stdin: strings.NewReader(""), Stdout: closedStdout{}, Stderr: &errb},
			[]string{"collect", "--nats", url, "--run", "piped", "-f", format, "-q"})
		errOut := errb.String()
		if code != ExitIncomplete {
			t.Errorf("-f %s: exit %d, want %d: %s", format, code, ExitIncomplete, errOut)
		}
		if want := "the reader of stdout closed it (broken pipe)"; strings.Count(errOut, want) != 1 ||
			strings.Contains(errOut, "/dev/stdout") || strings.Count(errOut, "\n") != 1 {
			t.Errorf("-f %s: stderr %q, want one line saying %q", format, errOut, want)
		}
	}
}

// TestCollectAcceptedByItsAccept: collect -f jsonl writes the workers'
// records through, and workers take no --accept: each record's
// "accepted" is collect's verdict, by its own --accept, as its summary,
// its exit status and --failed judge; csv, which decodes, says the same.
func TestCollectAcceptedByItsAccept(t *testing.T) {
	var targets []string
	url, _ := workedRun(t, "judged", func(web string) []string {
		targets = []string{web + "/a", web + "/gone1", "127.0.0.1:" + closedPort(t)}
		return targets
	})
	dir := t.TempDir()
	for i, c := range []struct {
		accept string
		want   map[string]string // by input's end: accepted
	}{
		{"200..=399", map[string]string{"/a": "true", "/gone1": "false", "closed": "false"}},
		{"200..=404", map[string]string{"/a": "true", "/gone1": "true", "closed": "false"}},
		{"300..", map[string]string{"/a": "false", "/gone1": "true", "closed": "false"}},
	} {
		for _, format := range []string{"jsonl", "csv"} {
			out := filepath.Join(dir, fmt.Sprintf("%d.%s", i, format))
			code, _, errOut := runCLI(t, "", "collect", "--nats", url, "--run", "judged", "-q", "-f", format, "-o", out, "--accept", c.accept)
			if code != ExitFailures {
				t.Fatalf("collect --accept %s: exit %d, want %d (the closed port fails): %s", c.accept, code, ExitFailures, errOut)
			}
			b, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			if format == "jsonl" {
				for line := range strings.Lines(string(b)) {
					var rec struct {
						Input    string
						Accepted *bool
					}
					if err := json.Unmarshal([]byte(line), &rec); err != nil || rec.Accepted == nil {
						t.Fatalf("--accept %s: a line without accepted (%v): %s", c.accept, err, line)
					}
					got[rec.Input] = fmt.Sprint(*rec.Accepted)
				}
			} else {
				rows, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
				if err != nil {
					t.Fatal(err)
				}
				col := slices.Index(rows[0], "accepted")
				for _, row := range rows[1:] {
					got[row[0]] = row[col]
				}
			}
			for _, in := range targets {
				key := "closed"
				if j := strings.LastIndex(in, "/"); j > 0 {
					key = in[j:]
				}
				if got[in] != c.want[key] {
					t.Errorf("collect -f %s --accept %s: %s accepted %q, want %s", format, c.accept, in, got[in], c.want[key])
				}
			}
		}
	}
	// --failed writes only those its --accept refuses, through the
	// records (jsonl) as decoded (csv); the summary counts them all.
	for _, format := range []string{"jsonl", "csv"} {
		out := filepath.Join(dir, "failed."+format)
		code, _, errOut := runCLI(t, "", "collect", "--nats", url, "--run", "judged", "--failed", "-f", format, "-o", out, "--accept", "200..=404")
		if code != ExitFailures || !strings.Contains(errOut, "3 total, 2 accepted, 1 failed") {
			t.Fatalf("collect --failed: exit %d, want %d, and a summary of every result: %s", code, ExitFailures, errOut)
		}
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		if got := inputsOf(t, format, b); len(got) != 1 || got[0] != targets[2] {
			t.Errorf("collect --failed -f %s wrote %q, want only %s", format, got, targets[2])
		}
	}
	// --accepted the others, and -f url their URLs alone: the live ones.
	for _, format := range []string{"jsonl", "csv", "url"} {
		out := filepath.Join(dir, "accepted."+format)
		code, _, errOut := runCLI(t, "", "collect", "--nats", url, "--run", "judged", "--accepted", "-f", format, "-o", out, "--accept", "200..=404")
		if code != ExitFailures || !strings.Contains(errOut, "3 total, 2 accepted, 1 failed") {
			t.Fatalf("collect --accepted: exit %d, want %d, and a summary of every result: %s", code, ExitFailures, errOut)
		}
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		if format == "url" {
			got = strings.Fields(string(b))
		} else {
			got = inputsOf(t, format, b)
		}
		slices.Sort(got)
		if want := []string{targets[0], targets[1]}; !slices.Equal(got, want) {
			t.Errorf("collect --accepted -f %s wrote %q, want %q", format, got, want)
		}
	}
	if code, _, errOut := runCLI(t, "", "collect", "--nats", url, "--run", "judged", "--failed", "--db", filepath.Join(dir, "runs.db")); code != ExitUsage {
		t.Errorf("collect --failed --db: exit %d, want %d (it writes nothing): %s", code, ExitUsage, errOut)
	}
}

// collect -f jsonl writes the workers' records through without decoding
// their attempts; the summary still counts the retries, as the main
// command's does.
func TestCollectSummaryCountsRetries(t *testing.T) {
	url := startSecureNATS(t, func(*server.Options) {})
	var mu sync.Mutex
	seen := map[string]bool{}
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		again := seen[r.URL.Path]
		seen[r.URL.Path] = true
		mu.Unlock()
		if strings.HasPrefix(r.URL.Path, "/flaky") && !again {
			w.WriteHeader(http.StatusServiceUnavailable) // retried: the second attempt answers 200
			return
		}
		if r.URL.Path == "/big" {
			w.Write(bytes.Repeat([]byte("x"), 4096)) // cut at the worker's --max-body
			return
		}
		fmt.Fprint(w, "ok")
	}))
	defer web.Close()
	targets := []string{web.URL + "/a", web.URL + "/flaky1", web.URL + "/b", web.URL + "/flaky2", web.URL + "/big"}
	if code, _, errOut := runCLI(t, "", append([]string{"submit", "--nats", url, "--run", "retried", "-q"}, targets...)...); code != ExitOK {
		t.Fatalf("submit: exit %d: %s", code, errOut)
	}
	if code, _, errOut := runCLI(t, "", "worker", "--nats", url, "--run", "retried", "--exit-when-done", "-q", "--max-body", "1KiB"); code != ExitOK {
		t.Fatalf("worker: exit %d: %s", code, errOut)
	}
	dir := t.TempDir()
	code, _, errOut := runCLI(t, "", "collect", "--nats", url, "--run", "retried", "-f", "jsonl", "-o", filepath.Join(dir, "out.jsonl"),
		"--summary-json", filepath.Join(dir, "summary.json"))
	if code != ExitOK {
		t.Fatalf("collect: exit %d, want %d: %s", code, ExitOK, errOut)
	}
	for _, want := range []string{
		"retries       2 (2 targets took more than one attempt)\n",
		// Results delivered twice are dropped, not "skipped" (the kind of
		// the targets of failing hosts).
		"collected 5 results of run retried (5 submitted, 0 duplicate results dropped)\n",
		// Read from the records written through, as attempts are.
		"truncated     1 body cut at --max-body",
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("the summary does not hold %q:\n%s", strings.TrimSpace(want), errOut)
		}
	}
	if sum, b := readSummaryJSON(t, filepath.Join(dir, "summary.json")); sum.RetriedTargets != 2 || sum.Retries != 2 || sum.Failed != 0 || sum.Truncated != 1 {
		t.Errorf("summary JSON: %s; want retried_targets 2, retries 2, failed 0, truncated 1", b)
	}
}

// collect -f jsonl writes the workers' records through without decoding
// their URLs; the summary still names the hosts skipped
// (--max-host-errors), as the main command's does.
func TestCollectSummaryNamesSkippedHosts(t *testing.T) {
	url := startSecureNATS(t, func(*server.Options) {})
	dead := "127.0.0.1:" + closedPort(t)
	var targets []string
	for i := range 6 {
		targets = append(targets, fmt.Sprintf("http://%s/%d", dead, i))
	}
	if code, _, errOut := runCLI(t, "", append([]string{"submit", "--nats", url, "--run", "skips", "-q"}, targets...)...); code != ExitOK {
		t.Fatalf("submit: exit %d: %s", code, errOut)
	}
	if code, _, errOut := runCLI(t, "", "worker", "--nats", url, "--run", "skips", "--exit-when-done", "-q", "-c", "1",
		"--retries", "0", "--max-host-errors", "2"); code != ExitOK {
		t.Fatalf("worker: exit %d: %s", code, errOut)
	}
	dir := t.TempDir()
	code, _, errOut := runCLI(t, "", "collect", "--nats", url, "--run", "skips", "-f", "jsonl", "-o", filepath.Join(dir, "out.jsonl"),
		"--summary-json", filepath.Join(dir, "summary.json"))
	if code != ExitFailures {
		t.Fatalf("collect: exit %d, want %d: %s", code, ExitFailures, errOut)
	}
	if want := "skipped hosts: " + dead + " 4\n"; !strings.Contains(errOut, want) {
		t.Errorf("the summary does not hold %q:\n%s", strings.TrimSpace(want), errOut)
	}
	if sum, b := readSummaryJSON(t, filepath.Join(dir, "summary.json")); sum.SkippedHosts[dead] != 4 {
		t.Errorf("summary JSON: %s", b)
	}
}

// readSummaryJSON reads a --summary-json file, and returns it decoded and
// as written.
func readSummaryJSON(t *testing.T, name string) (output.SummaryJSON, []byte) {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	var sum output.SummaryJSON
	if err := json.Unmarshal(b, &sum); err != nil {
		t.Fatal(err)
	}
	return sum, b
}

// TestCollectAgainSaysEarlier: a collect --db of a run an earlier collect
// recorded says so, as resume does, counts the results met again as
// already in the database (it called them "duplicate results dropped",
// and after a collect that died, "collected 19000 results" looked like a
// loss), and ends with the whole run's line, whose failures set the exit
// status: a complete run collected again exited 0 over "results 0 total".
func TestCollectAgainSaysEarlier(t *testing.T) {
	url, _ := workedRun(t, "again", func(web string) []string {
		return []string{web + "/a", web + "/gone1", web + "/b"}
	})
	dir := t.TempDir()
	db := filepath.Join(dir, "runs.db")
	collected := time.Now()
	code, _, first := runCLI(t, "", "collect", "--nats", url, "--run", "again", "--db", db)
	if code != ExitFailures || !strings.Contains(first, "collected 3 results of run again (3 submitted, 0 duplicate results dropped)") ||
		strings.Contains(first, "whole run") || strings.Contains(first, "continuing") {
		t.Fatalf("first collect: exit %d, want %d:\n%s", code, ExitFailures, first)
	}
	// runs gives the run its results' times, not the collect's: it
	// started before the collect did (the worker ran first), and
	// collecting it again later does not make it longer.
	times := func() store.Run {
		sdb, err := store.Open(db)
		if err != nil {
			t.Fatal(err)
		}
		defer sdb.Close()
		r, err := sdb.Run(1)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	r1 := times()
	if !r1.StartedAt.Before(collected) || r1.FinishedAt.Before(r1.StartedAt) || !r1.FinishedAt.Before(collected) {
		t.Errorf("run recorded from %v to %v, want the results' span, before the collect at %v", r1.StartedAt, r1.FinishedAt, collected)
	}
	time.Sleep(50 * time.Millisecond)
	sumFile := filepath.Join(dir, "summary.json")
	code, _, again := runCLI(t, "", "collect", "--nats", url, "--run", "again", "--db", db, "--summary-json", sumFile)
	if r2 := times(); !r2.StartedAt.Equal(r1.StartedAt) || !r2.FinishedAt.Equal(r1.FinishedAt) {
		t.Errorf("collected again: run from %v to %v, was %v to %v", r2.StartedAt, r2.FinishedAt, r1.StartedAt, r1.FinishedAt)
	}
	if code != ExitFailures {
		t.Errorf("collect again: exit %d, want %d (the whole run's failures)", code, ExitFailures)
	}
	for _, want := range []string{
		"fanout collect: continuing run 1 in " + db + ": 3 targets already have results\n",
		"whole run     3 results (this collect and earlier ones), 2 accepted, 1 failed\n",
		"collected 0 results of run again (3 submitted, 3 already in " + db + " from an earlier collect, 0 duplicate results dropped)\n",
	} {
		if !strings.Contains(again, want) {
			t.Errorf("collect again does not say %q:\n%s", strings.TrimSpace(want), again)
		}
	}
	sum, b := readSummaryJSON(t, sumFile)
	if sum.WholeRun == nil || sum.WholeRun.Results != 3 || sum.WholeRun.Failed != 1 || !sum.Complete {
		t.Errorf("summary JSON: %s", b)
	}
	// An earlier collect killed (the run left running, no end recorded),
	// and none new to collect: the run ends done, with an end, not one
	// that reads as killed (found in review: a zero end was written).
	sdb, err := store.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	if err := sdb.SetState(1, store.StateRunning); err != nil {
		t.Fatal(err)
	}
	sdb.Close()
	if code, _, errOut := runCLI(t, "", "collect", "--nats", url, "--run", "again", "--db", db); code != ExitFailures {
		t.Fatalf("collect after a killed one: exit %d: %s", code, errOut)
	}
	if r3 := times(); r3.State != store.StateDone || r3.FinishedAt.IsZero() || r3.FinishedAt.Before(r3.StartedAt) {
		t.Errorf("collect after a killed one: run %s from %v to %v, want done with an end", r3.State, r3.StartedAt, r3.FinishedAt)
	}
}
