package cli

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/fanout/fanout/fetch"
	"github.com/fanout/fanout/output"
	"github.com/fanout/fanout/store"
)

// TestDiffExitCodesAndFormats records two runs of the same targets against
// a server that changed in between, then diffs them both ways.
func TestDiffExitCodesAndFormats(t *testing.T) {
	var second atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b := second.Load()
		switch r.URL.Path {
		case "/breaks":
			if b {
				w.WriteHeader(500)
			}
		case "/heals":
			if !b {
				w.WriteHeader(503)
			}
		case "/slows":
			if b {
				time.Sleep(300 * time.Millisecond)
			}
		case "/worse":
			if b {
				w.WriteHeader(502)
			} else {
				w.WriteHeader(404)
			}
		}
		fmt.Fprint(w, "ok")
	}))
	defer srv.Close()
	db := filepath.Join(t.TempDir(), "runs.db")
	targets := []string{}
	for _, p := range []string{"/same", "/breaks", "/heals", "/slows", "/worse"} {
		targets = append(targets, srv.URL+p)
	}
	run := func() {
		t.Helper()
		args := append([]string{"-q", "--retries", "0", "-f", "jsonl", "--db", db, "--new-run"}, targets...)
		if code, _, errOut := runCLI(t, "", args...); code != ExitFailures {
			t.Fatalf("run: exit %d: %s", code, errOut)
		}
	}
	run()
	second.Store(true)
	run()

	code, out, errOut := runCLI(t, "", "diff", "--db", db, "1", "2")
	if code != ExitFailures {
		t.Fatalf("diff 1 2: exit %d, want 1: %s", code, errOut)
	}
	for _, want := range []string{
		"worse   failing    200 -> 500", "better  recovered  503 -> 200", "worse   slower",
		"worse   status     404 -> 502",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("diff text lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "/same") || !strings.Contains(errOut, "5 targets compared: 3 worse, 1 recovered") {
		t.Errorf("diff text:\n%s\nstderr: %s", out, errOut)
	}

	// --no-slower: the same diff without the slower target, which alone
	// cannot fail a gate then.
	code, out, errOut = runCLI(t, "", "diff", "--db", db, "--no-slower", "1", "2")
	if code != ExitFailures || strings.Contains(out, "slower") || !strings.Contains(errOut, "5 targets compared: 2 worse, 1 recovered") {
		t.Errorf("diff --no-slower 1 2: exit %d, want 1 with 2 worse and none slower:\n%s\nstderr: %s", code, out, errOut)
	}
	if code, _, errOut := runCLI(t, "", "diff", "--db", db, "--no-slower", "--min-slower", "1s", "1", "2"); code != ExitUsage || !strings.Contains(errOut, "--no-slower leaves times out") {
		t.Errorf("diff --no-slower --min-slower: exit %d, stderr %q; want 2 naming both", code, errOut)
	}

	code, out, _ = runCLI(t, "", "diff", "--db", db, "-f", "jsonl", "--min-slower", "1h", "2", "1")
	if code != ExitFailures {
		t.Fatalf("diff 2 1: exit %d, want 1 (/heals started failing)", code)
	}
	var kinds []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var c store.Change
		if err := json.Unmarshal([]byte(line), &c); err != nil {
			t.Fatalf("bad JSON line %q: %v", line, err)
		}
		kinds = append(kinds, c.Kind)
	}
	if got := strings.Join(kinds, ","); got != "recovered,failing,status" {
		t.Errorf("jsonl change kinds = %s, want recovered,failing,status", got)
	}

	// Into a closed pipe (fanout diff 1 2 | head): no error, and the
	// summary and exit status that CI reads are those of the whole diff.
	var errb bytes.Buffer
	code = Main(context.Background(), Env{Stdin: strings.NewReader(""), Stdout: epipeWriter{}, Stderr: &errb},
		[]string{"diff", "--db", db, "1", "2"})
	if code != ExitFailures || errb.String() != "run 1 -> run 2: 5 targets compared: 3 worse, 1 recovered, 0 other changes, 0 content changes; 0 only in run 1, 0 only in run 2\n" {
		t.Errorf("diff into a closed pipe: exit %d, stderr %q; want 1 and the whole diff's summary alone", code, errb.String())
	}

	// A run cut short says so: what it did not fetch is not compared.
	cut := filepath.Join(t.TempDir(), "cut.db")
	for i, state := range []string{store.StateDone, store.StateInterrupted} {
		sdb, err := store.Open(cut)
		if err != nil {
			t.Fatal(err)
		}
		id, err := sdb.CreateRun(nil, store.Config{})
		if err != nil {
			t.Fatal(err)
		}
		rec := sdb.Recorder(id, store.RecorderOptions{})
		for j := range 2 - i {
			rec.Add(&fetch.Result{Seq: uint64(j), Input: targets[j], Status: 200, StartedAt: time.Unix(0, 0)}, true)
		}
		if err := rec.Close(nil); err != nil {
			t.Fatal(err)
		}
		if err := sdb.SetState(id, state); err != nil {
			t.Fatal(err)
		}
		sdb.Close()
	}
	if code, _, errOut := runCLI(t, "", "diff", "--db", cut, "1", "2"); code != ExitOK ||
		!strings.Contains(errOut, "run 2 is interrupted, not done") || strings.Contains(errOut, "run 1 is") {
		t.Errorf("diff with an interrupted run: exit %d, stderr %q; want 0 and a note on run 2", code, errOut)
	}

	if code, out, errOut := runCLI(t, "", "diff", "--db", db, "2", "last"); code != ExitOK || out != "" {
		t.Errorf("a run against itself: exit %d, output %q, stderr %q", code, out, errOut)
	}
	// A run of another list (run 3) has nothing in common with run 1: the
	// wrong run, which must not pass a CI check.
	if code, _, errOut := runCLI(t, "", "-q", "--db", db, "--new-run", srv.URL+"/other"); code != ExitOK {
		t.Fatalf("run 3: exit %d: %s", code, errOut)
	}
	if code, _, errOut := runCLI(t, "", "diff", "--db", db, "1", "3"); code != ExitUsage || !strings.Contains(errOut, "no target in common") {
		t.Errorf("diff of runs without a common target: exit %d, stderr %q", code, errOut)
	}
	for _, args := range [][]string{
		{"diff", "--db", db, "--slower", "NaN", "1", "2"},
		{"diff", "--db", db, "1"}, {"diff", "--db", db, "1", "9"}, {"diff", "--db", db, "-f", "csv", "1", "2"},
		{"diff", "--db", filepath.Join(t.TempDir(), "none.db"), "1", "2"},
	} {
		if code, _, _ := runCLI(t, "", args...); code != ExitUsage {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
}

// TestRunsShowAndResumeAfterInterrupt: Ctrl-C leaves a resumable run whose
// canceled targets are neither written nor recorded; rerunning the same
// command continues it; show writes every result again in input order.
// With --ordered too: the resumed session must not wait for the results
// the first one wrote (it once held back every later result, and the run
// ended "done" with only the first session's lines).
func TestRunsShowAndResumeAfterInterrupt(t *testing.T) {
	t.Run("unordered", func(t *testing.T) { testResumeAfterInterrupt(t, false) })
	t.Run("ordered", func(t *testing.T) { testResumeAfterInterrupt(t, true) })
}

func testResumeAfterInterrupt(t *testing.T, ordered bool) {
	var flags []string
	if ordered {
		flags = append(flags, "--ordered")
	}
	rc := newSlowRecording(t, 40, flags...)
	db, out, targets, args := rc.db, rc.out, rc.targets, rc.args
	rc.interrupted(t, 500*time.Millisecond)
	code, listing, _ := runCLI(t, "", "runs", "--db", db)
	if code != ExitOK || !strings.Contains(listing, "interrupted") {
		t.Fatalf("runs: exit %d:\n%s", code, listing)
	}
	first := decodeFile(t, out)
	if len(first) == 0 || len(first) >= len(targets) {
		t.Fatalf("interrupted run wrote %d results, want some but not all of %d", len(first), len(targets))
	}
	if code, _, errOut := runCLI(t, "", args...); code != ExitOK {
		t.Fatalf("rerun: exit %d: %s", code, errOut)
	}
	all := decodeFile(t, out)
	seen := map[string]bool{}
	for _, r := range all {
		if r.Error != nil || seen[r.Input] {
			t.Fatalf("result %+v: an error or a second line", r)
		}
		seen[r.Input] = true
	}
	if len(all) != len(targets) {
		t.Fatalf("after resume: %d results, want %d", len(all), len(targets))
	}
	for i, r := range all {
		if ordered && r.Input != targets[i] {
			t.Fatalf("--ordered: line %d is %s, want %s", i+1, r.Input, targets[i])
		}
	}
	code, shown, _ := runCLI(t, "", "show", "--db", db, "last")
	rs := decodeLines(t, shown)
	if code != ExitOK || len(rs) != len(targets) || rs[0].Input != targets[0] || rs[39].Input != targets[39] {
		t.Fatalf("show: exit %d, %d results", code, len(rs))
	}
	if code, listing, _ = runCLI(t, "", "runs", "--db", db); code != ExitOK || !strings.Contains(listing, "done") || strings.Count(listing, "\n") != 2 {
		t.Fatalf("runs after resume (want one done run):\n%s", listing)
	}
	if code, _, errOut := runCLI(t, "", "resume", "--db", db, "1"); code != ExitOK || !strings.Contains(errOut, "nothing to resume") {
		t.Fatalf("resume of a done run: exit %d: %s", code, errOut)
	}
}

// TestInterruptedRecordingSummary: with --db, the targets Ctrl-C canceled
// are neither written nor recorded (a resume fetches them); the summary
// counted them as failed results all the same ("40 total, 38 failed")
// beside an output of two lines. It counts what the output holds and says
// what is left.
func TestInterruptedRecordingSummary(t *testing.T) {
	rc := newSlowRecording(t, 40)
	if rc.args[0] != "-q" {
		t.Fatalf("args %q", rc.args)
	}
	rc.args = rc.args[1:] // without -q
	out := rc.interruptedStderr(t, 500*time.Millisecond)
	written := len(decodeFile(t, rc.out))
	if written == 0 || written == 40 {
		t.Fatalf("%d results written, want some of 40", written)
	}
	if want := fmt.Sprintf("results       %d total, %d accepted, 0 failed", written, written); !strings.Contains(out, want) {
		t.Errorf("summary, want %q:\n%s", want, out)
	}
	if want := fmt.Sprintf("not fetched   %d targets (interrupted): fanout resume --db %s 1 fetches them", 40-written, rc.db); !strings.Contains(out, want) {
		t.Errorf("summary, want %q:\n%s", want, out)
	}
}

// slowRecording is a --db run of n of the site's /slow/ targets at -c 4,
// written to -o out: slow enough to be interrupted or joined midway.
type slowRecording struct {
	db, out string
	targets []string
	args    []string // the command line, flags then targets
	stdin   string   // what the interrupted run reads on stdin
}

func newSlowRecording(t *testing.T, n int, flags ...string) slowRecording {
	t.Helper()
	s := newSite(t)
	dir := t.TempDir()
	r := slowRecording{db: filepath.Join(dir, "runs.db"), out: filepath.Join(dir, "out.jsonl")}
	for i := range n {
		r.targets = append(r.targets, fmt.Sprintf("%s/slow/%d", s.URL, i))
	}
	r.args = append(append([]string{"-q", "-c", "4", "-f", "jsonl", "-o", r.out, "--db", r.db}, flags...), r.targets...)
	return r
}

// interrupted runs the recording, with Ctrl-C after d and once its output
// file holds a line (on a loaded machine the first results may come later
// than d); it must exit 130.
func (r slowRecording) interrupted(t *testing.T, d time.Duration) {
	t.Helper()
	r.interruptedStderr(t, d)
}

// interruptedStderr is interrupted, returning what the run wrote on stderr.
func (r slowRecording) interruptedStderr(t *testing.T, d time.Duration) string {
	t.Helper()
	interrupt := make(chan struct{})
	var stderr strings.Builder
	env := Env{Stdin: strings.NewReader(r.stdin), Stdout: new(strings.Builder), Stderr: &stderr, Interrupt: interrupt}
	go func() {
		time.Sleep(d)
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			if b, err := os.ReadFile(r.out); err == nil && bytes.IndexByte(b, '\n') >= 0 {
				break
			}
		}
		close(interrupt)
	}()
	if code := Main(t.Context(), env, r.args); code != ExitInterrupted {
		t.Fatalf("interrupted run: exit %d: %s", code, stderr.String())
	}
	return stderr.String()
}

func decodeFile(t *testing.T, name string) []fetch.Result {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return decodeLines(t, string(b))
}

// An output that is not a regular file (/dev/null here; a pipe is the
// same) cannot be synced or cut back, so it takes no part in checkpoints:
// recording must not fail on it, before or after a resume.
func TestRecordToDevNull(t *testing.T) {
	s := newSite(t)
	db := filepath.Join(t.TempDir(), "runs.db")
	args := []string{"-q", "-f", "jsonl", "-o", os.DevNull, "--db", db, s.URL + "/ok/1", s.URL + "/ok/2"}
	if code, _, errOut := runCLI(t, "", args...); code != ExitOK {
		t.Fatalf("--db with -o %s: exit %d: %s", os.DevNull, code, errOut)
	}
	code, shown, _ := runCLI(t, "", "show", "--db", db, "last")
	if rs := decodeLines(t, shown); code != ExitOK || len(rs) != 2 {
		t.Fatalf("show: exit %d, %d results, want 2", code, len(rs))
	}
}

// TestSameRunTwiceAtOnce: the same --db command started again while the
// first is still recording would resume the live run, cut its output file
// back and fail on its result ids; it is refused with a one-line message,
// and the first run ends whole. (A killed run is resumed as before: its
// lock died with it.)
func TestSameRunTwiceAtOnce(t *testing.T) {
	rc := newSlowRecording(t, 24)
	db, out, targets, args := rc.db, rc.out, rc.targets, rc.args
	first := make(chan int, 1)
	var firstErr strings.Builder
	go func() {
		env := Env{Stdin: strings.NewReader(""), Stdout: new(strings.Builder), Stderr: &firstErr}
		first <- Main(t.Context(), env, args)
	}()
	// Wait until the first has its run.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, listing, _ := runCLI(t, "", "runs", "--db", db); strings.Contains(listing, "running") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the first run did not start")
		}
	}
	code, _, errOut := runCLI(t, "", args...)
	if code != ExitUsage || !strings.Contains(errOut, "being recorded by another fanout process") || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
		t.Errorf("second at once: exit %d, stderr %q; want exit %d and one line", code, errOut, ExitUsage)
	}
	// What that message offers, --new-run, must not write the live run's
	// -o file too: two processes appending at their own offsets tear lines.
	code, _, errOut = runCLI(t, "", append([]string{"--new-run"}, args...)...)
	if code != ExitUsage || !strings.Contains(errOut, "is being written by run 1") {
		t.Errorf("--new-run to the live run's -o: exit %d, stderr %q; want exit %d, refused", code, errOut, ExitUsage)
	}
	// To another file it is a new run of its own.
	other := append([]string{"--new-run"}, args...)
	for i, a := range other {
		if a == out {
			other[i] = out + ".2"
		}
	}
	if code, _, errOut := runCLI(t, "", other...); code != ExitOK {
		t.Errorf("--new-run -o another file: exit %d: %s", code, errOut)
	}
	if code := <-first; code != ExitOK {
		t.Fatalf("first: exit %d: %s", code, firstErr.String())
	}
	rs := decodeFile(t, out)
	seen := map[string]bool{}
	for _, r := range rs {
		seen[r.Input] = true
	}
	if len(rs) != len(targets) || len(seen) != len(targets) {
		t.Fatalf("output: %d lines for %d distinct targets, want %d each", len(rs), len(seen), len(targets))
	}
}

// TestResumeRefusedAfterOutputRewritten: a run interrupted, then a new run
// to the same -o: resuming the first would cut the second's file back to
// the first's length, mid-line. It is refused, and the file is untouched.
func TestResumeRefusedAfterOutputRewritten(t *testing.T) {
	rc := newSlowRecording(t, 24)
	db, out, args := rc.db, rc.out, rc.args
	rc.interrupted(t, 300*time.Millisecond)
	if code, _, errOut := runCLI(t, "", append([]string{"--new-run"}, args...)...); code != ExitOK {
		t.Fatalf("new run: exit %d: %s", code, errOut)
	}
	before, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	code, _, errOut := runCLI(t, "", "resume", "--db", db, "1")
	if code != ExitUsage || !strings.Contains(errOut, "run 2 has written --output") {
		t.Errorf("resume 1: exit %d, stderr %q; want exit %d naming run 2", code, errOut, ExitUsage)
	}
	// resume has no --new-run: it names the command line that starts one.
	if want := "fanout: to start the run again as a new one: fanout --quiet=true"; !strings.Contains(errOut, want) ||
		!strings.HasSuffix(errOut, " --db "+db+" --new-run\n") {
		t.Errorf("resume 1: stderr %q; want a line %q... ending in --db %s --new-run", errOut, want, db)
	}
	if after, _ := os.ReadFile(out); string(after) != string(before) {
		t.Errorf("the refused resume changed %s", out)
	}
}

// epipeWriter is stdout after the reader closed the pipe (head -2): every
// write fails with EPIPE, as os.Stdout's do with SIGPIPE ignored.
type epipeWriter struct{}

func (epipeWriter) Write([]byte) (int, error) {
	return 0, &os.PathError{Op: "write", Path: "/dev/stdout", Err: syscall.EPIPE}
}

// TestShowIntoClosedPipe: fanout show last | head stops quietly with exit
// 0, while a write error that loses data (a full disk) is still reported.
func TestShowIntoClosedPipe(t *testing.T) {
	s := newSite(t)
	db := filepath.Join(t.TempDir(), "runs.db")
	if code, _, errOut := runCLI(t, "", "-q", "-o", os.DevNull, "--db", db, s.URL+"/ok/1", s.URL+"/ok/2"); code != ExitOK {
		t.Fatalf("recording: exit %d: %s", code, errOut)
	}
	show := func(stdout io.Writer) (int, string) {
		var errb bytes.Buffer
		code := Main(context.Background(), Env{Stdin: strings.NewReader(""), Stdout: stdout, Stderr: &errb},
			[]string{"show", "--db", db, "last"})
		return code, errb.String()
	}
	if code, errOut := show(epipeWriter{}); code != ExitOK || errOut != "" {
		t.Errorf("show into a closed pipe: exit %d, stderr %q; want 0 and nothing", code, errOut)
	}
	if code, errOut := show(failWriter{}); code != ExitIncomplete || !strings.Contains(errOut, "no space left") {
		t.Errorf("show onto a full disk: exit %d, stderr %q; want %d and the error", code, errOut, ExitIncomplete)
	}
	// runs as well, in both formats: not a usage error with a usage hint.
	for _, format := range []string{"text", "jsonl"} {
		runs := func(stdout io.Writer) (int, string) {
			var errb bytes.Buffer
			code := Main(context.Background(), Env{Stdin: strings.NewReader(""), Stdout: stdout, Stderr: &errb},
				[]string{"runs", "--db", db, "-f", format})
			return code, errb.String()
		}
		if code, errOut := runs(epipeWriter{}); code != ExitOK || errOut != "" {
			t.Errorf("runs -f %s into a closed pipe: exit %d, stderr %q; want 0 and nothing", format, code, errOut)
		}
		if code, errOut := runs(failWriter{}); code != ExitIncomplete || !strings.Contains(errOut, "no space left") || strings.Contains(errOut, "--help") {
			t.Errorf("runs -f %s onto a full disk: exit %d, stderr %q; want %d and the error alone", format, code, errOut, ExitIncomplete)
		}
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) {
	return 0, &os.PathError{Op: "write", Path: "/dev/stdout", Err: syscall.ENOSPC}
}

// TestOutputThatWouldDestroyItsInput: -o naming the database (a slip for
// --db) once emptied it, and report replaced it with HTML, with or without
// --db; -o naming an -i list truncated the list before it was read. Each
// is refused, and the file is left as it was.
func TestOutputThatWouldDestroyItsInput(t *testing.T) {
	s := newSite(t)
	dir := t.TempDir()
	db, list := filepath.Join(dir, "runs.db"), filepath.Join(dir, "urls.txt")
	if err := os.WriteFile(list, []byte(s.URL+"/ok/1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := runCLI(t, "", "-q", "-o", os.DevNull, "--db", db, "-i", list); code != ExitOK {
		t.Fatalf("recording: exit %d: %s", code, errOut)
	}
	sub := filepath.Join(dir, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, file string // file must survive
		args       []string
		says       string // the refusal names the file so
	}{
		{"run -o the db", db, []string{"-q", "--db", db, "-o", db, s.URL + "/ok/2"}, "the --db file " + db},
		{"show -o the db", db, []string{"show", "--db", db, "last", "-o", db}, "the --db file " + db},
		{"show -o the db's WAL", db, []string{"show", "--db", db, "last", "-o", db + "-wal"}, "beside the --db file " + db},
		{"report -o the db by another path", db, []string{"report", "--db", db, "last", "-o", filepath.Join(sub, "..", "runs.db")}, "the --db file " + db},
		{"run -o its -i list", list, []string{"-q", "-i", list, "-o", list}, "the -i file " + list},
		// -o alone, naming a database: a slip for --db.
		{"run -o a database", db, []string{"-q", "-o", db, s.URL + "/ok/2"}, "is an SQLite database (did you mean --db"},
		{"report -o a database", db, []string{"report", "--from", list, "-o", db}, "is an SQLite database"},
		{"report -o its --from file", list, []string{"report", "--from", list, "-o", list}, "the --from file " + list},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before, err := os.ReadFile(tc.file)
			if err != nil {
				t.Fatal(err)
			}
			code, _, errOut := runCLI(t, "", tc.args...)
			if code != ExitUsage || !strings.Contains(errOut, "would destroy it") || !strings.Contains(errOut, tc.says) {
				t.Errorf("exit %d, stderr %q; want %d and a refusal", code, errOut, ExitUsage)
			}
			if after, err := os.ReadFile(tc.file); err != nil || !bytes.Equal(after, before) {
				t.Errorf("%s changed (%d bytes -> %d, %v)", tc.file, len(before), len(after), err)
			}
		})
	}
	if code, _, errOut := runCLI(t, "", "runs", "--db", db); code != ExitOK {
		t.Errorf("the database after all that: exit %d: %s", code, errOut)
	}
}

// TestRunsTellsKilledFromRunning: a run marked running whose lock nobody
// holds was killed; fanout runs and the report say so.
func TestRunsTellsKilledFromRunning(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the test holds the lock in this process, which only open file description locks (Linux) tell apart")
	}
	path := filepath.Join(t.TempDir(), "runs.db")
	db, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for range 2 {
		if _, err := db.CreateRun([]string{"-i", "urls.txt"}, store.Config{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.LockRun(2); err != nil { // run 2 is being recorded by "another process"
		t.Fatal(err)
	}
	code, out, errOut := runCLI(t, "", "runs", "--db", path)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != ExitOK || len(lines) != 3 || !strings.Contains(lines[1], " killed ") || !strings.Contains(lines[2], " running ") {
		t.Errorf("runs: exit %d, stderr %q, output:\n%s\nwant run 1 killed and run 2 running", code, errOut, out)
	}
	code, out, _ = runCLI(t, "", "runs", "--db", path, "-f", "jsonl")
	if code != ExitOK || !strings.Contains(out, `"state":"killed"`) || !strings.Contains(out, `"state":"running"`) {
		t.Errorf("runs -f jsonl: exit %d:\n%s", code, out)
	}
}

// TestResumeOfCollectedRun: a run that collect recorded from NATS is
// continued by collect; resume said only "unknown flag: --run".
func TestResumeOfCollectedRun(t *testing.T) {
	path := filepath.Join(t.TempDir(), "runs.db")
	db, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	_, err = db.CreateRun([]string{"collect", "--run", "r7"}, store.Config{Flags: map[string]string{"nats-run": "r7"}})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	code, _, errOut := runCLI(t, "", "resume", "--db", path, "last")
	if want := "continue it with fanout collect --run r7 --db " + path; code != ExitUsage || !strings.Contains(errOut, want) {
		t.Errorf("resume: exit %d, stderr %q; want %d and %q", code, errOut, ExitUsage, want)
	}
}

// TestResumeAfterOutputDeleted: the -o file of an interrupted run is gone.
// The resume is refused without leaving an empty file behind, and names
// the show command that writes the recorded results again; after it, the
// resume ends with every target once.
func TestResumeAfterOutputDeleted(t *testing.T) {
	rc := newSlowRecording(t, 24)
	rc.interrupted(t, 300*time.Millisecond)
	if err := os.Remove(rc.out); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := runCLI(t, "", "resume", "--db", rc.db, "last")
	show := "fanout show --db " + rc.db + " 1 -f jsonl -o " + rc.out
	if code != ExitUsage || !strings.Contains(errOut, "is gone") || !strings.Contains(errOut, show) {
		t.Fatalf("resume: exit %d, stderr %q; want %d naming %q", code, errOut, ExitUsage, show)
	}
	if _, err := os.Stat(rc.out); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the refused resume left %s behind (%v)", rc.out, err)
	}
	if code, _, errOut := runCLI(t, "", strings.Fields(show)[1:]...); code != ExitOK {
		t.Fatalf("%s: exit %d: %s", show, code, errOut)
	}
	if code, _, errOut := runCLI(t, "", "resume", "--db", rc.db, "last"); code != ExitOK {
		t.Fatalf("resume after show: exit %d: %s", code, errOut)
	}
	seen := map[string]bool{}
	for _, r := range decodeFile(t, rc.out) {
		if seen[r.Input] {
			t.Fatalf("%s twice", r.Input)
		}
		seen[r.Input] = true
	}
	if len(seen) != len(rc.targets) {
		t.Errorf("%d targets in %s, want %d", len(seen), rc.out, len(rc.targets))
	}
}

// After a resume the summary counts the session, and a line counts the
// whole run, which the exit status is about.
func TestResumeSummaryCountsWholeRun(t *testing.T) {
	rc := newSlowRecording(t, 40)
	if rc.args[0] != "-q" {
		t.Fatalf("args %q: want -q first", rc.args)
	}
	rc.args = rc.args[1:] // with the summary
	rc.interrupted(t, 500*time.Millisecond)
	first := len(decodeFile(t, rc.out))
	code, _, errOut := runCLI(t, "", rc.args...)
	if code != ExitOK {
		t.Fatalf("rerun: exit %d: %s", code, errOut)
	}
	session := fmt.Sprintf("results       %d total, %d accepted, 0 failed\n", 40-first, 40-first)
	whole := "whole run     40 results (this session and earlier ones), 40 accepted, 0 failed\n"
	if !strings.Contains(errOut, session) || !strings.Contains(errOut, whole) {
		t.Errorf("summary after resuming a run with %d results:\n%s\nwant it to hold:\n%s%s", first, errOut, session, whole)
	}
	// A run with no earlier session has no such line.
	if code, _, errOut := runCLI(t, "", "-c", "4", "-f", "jsonl", "-o", filepath.Join(t.TempDir(), "o"),
		"--db", filepath.Join(t.TempDir(), "new.db"), rc.targets[0]); code != ExitOK || strings.Contains(errOut, "whole run") {
		t.Errorf("new run: exit %d, summary:\n%s", code, errOut)
	}
}

// resume takes the pacing and patience flags for its session: here a
// --timeout far below the site's slow replies, so every target this
// session fetches times out, while the first session's results stand.
func TestResumeOverridesTimeout(t *testing.T) {
	rc := newSlowRecording(t, 40)
	rc.interrupted(t, 500*time.Millisecond)
	first := decodeFile(t, rc.out)
	code, _, errOut := runCLI(t, "", "resume", "--db", rc.db, "--timeout", "1ms", "--retries", "0", "last")
	if code != ExitFailures {
		t.Fatalf("resume --timeout 1ms: exit %d, want %d: %s", code, ExitFailures, errOut)
	}
	all := decodeFile(t, rc.out)
	if len(all) != len(rc.targets) {
		t.Fatalf("after resume: %d results, want %d", len(all), len(rc.targets))
	}
	for i, r := range all {
		timedOut := r.Error != nil && r.Error.Kind == fetch.KindTimeout
		if i < len(first) == timedOut {
			t.Errorf("line %d (%s): error %v; want a timeout only in the resumed session's lines (after line %d)", i+1, r.Input, r.Error, len(first))
		}
	}
	// The run is done now, with failures: resuming it again has nothing to
	// fetch, and its exit status is still the whole run's.
	if code, _, errOut := runCLI(t, "", "resume", "--db", rc.db, "last"); code != ExitFailures || !strings.Contains(errOut, "nothing to resume (40 results, ") {
		t.Errorf("resume of the done run with failures: exit %d, want %d: %s", code, ExitFailures, errOut)
	}
	if code, _, errOut := runCLI(t, "", "resume", "--db", rc.db, "--timeout", "soon", "last"); code != ExitUsage || !strings.Contains(errOut, "--timeout") {
		t.Errorf("resume --timeout soon: exit %d: %s", code, errOut)
	}
}

// TestResumeCSVHasOneHeader: a resumed run appends to its -o file after
// the committed lines, which begin with the csv header row; the resumed
// session must not write the header again in the middle of the table.
// A run cut off before its first commit (offset 0) starts the file anew,
// header included.
func TestResumeCSVHasOneHeader(t *testing.T) {
	rc := newSlowRecording(t, 40)
	rc.out = strings.TrimSuffix(rc.out, ".jsonl") + ".csv"
	for i, a := range rc.args {
		switch a {
		case "jsonl":
			rc.args[i] = "csv"
		case strings.TrimSuffix(rc.out, ".csv") + ".jsonl":
			rc.args[i] = rc.out
		}
	}
	rc.interrupted(t, 500*time.Millisecond)
	b, err := os.ReadFile(rc.out)
	if err != nil {
		t.Fatal(err)
	}
	first := strings.Count(string(b), "\n") - 1
	if first <= 0 || first >= len(rc.targets) {
		t.Fatalf("interrupted run wrote %d rows, want some but not all of %d", first, len(rc.targets))
	}
	if code, _, errOut := runCLI(t, "", rc.args...); code != ExitOK {
		t.Fatalf("rerun: exit %d: %s", code, errOut)
	}
	if b, err = os.ReadFile(rc.out); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	header := strings.Join(output.CSVHeader, ",")
	if lines[0] != header {
		t.Fatalf("first line %q, want the header", lines[0])
	}
	for i, l := range lines[1:] {
		if l == header {
			t.Fatalf("line %d is a second header row (after %d rows from the first session)", i+2, first)
		}
	}
	if len(lines) != len(rc.targets)+1 {
		t.Fatalf("after resume: %d lines, want a header and %d rows", len(lines), len(rc.targets))
	}
}

// TestRerunWithOtherFlagsIsRefused: the same command line run again
// resumes the unfinished run, but one that changed what is fetched (-X, -H),
// how a result is judged (--accept) or the order of the output (--ordered)
// made one run of two kinds, recorded under the first one's command. It is
// refused, naming the flags and what each would mix (--accept was said to
// make "two kinds of requests"); a pacing flag (-c) or -q may change;
// --new-run starts anew.
func TestRerunWithOtherFlagsIsRefused(t *testing.T) {
	rc := newSlowRecording(t, 40)
	rc.interrupted(t, 500*time.Millisecond)
	first := len(decodeFile(t, rc.out))
	withFlags := func(flags ...string) []string {
		return append(append([]string{}, flags...), rc.args...)
	}
	for _, tc := range []struct {
		flags     []string
		want, not []string
	}{
		{[]string{"-X", "HEAD", "-H", "X-A: 1", "--accept", "200..=499"},
			[]string{"run 1, unfinished", "--method, --header, --accept", "targets fetched two ways (--method, --header) and of results judged by two rules (--accept)", "fanout resume 1", "--new-run"}, nil},
		{[]string{"--accept", "200..=499"}, []string{"other --accept:", "judged by two rules (--accept)"}, []string{"fetched", "order"}},
		{[]string{"--ordered"}, []string{"other --ordered:", "output in two orders (--ordered)"}, []string{"fetched", "judged"}},
		{[]string{"--failed"}, []string{"other --failed:", "only the failed in another (--failed)"}, []string{"fetched", "judged", "order"}},
		{[]string{"--max-body", "1KiB"}, []string{"targets fetched two ways (--max-body)"}, []string{"judged", "order"}},
		// --match decides what is accepted, as --accept does.
		{[]string{"--match", "hello"}, []string{"other --match:", "judged by two rules (--match)"}, []string{"fetched", "order"}},
	} {
		code, _, errOut := runCLI(t, "", withFlags(tc.flags...)...)
		for _, want := range tc.want {
			if code != ExitUsage || !strings.Contains(errOut, want) {
				t.Errorf("rerun with %q: exit %d, stderr %q; want %d saying %q", tc.flags, code, errOut, ExitUsage, want)
			}
		}
		for _, not := range tc.not {
			if strings.Contains(errOut, not) {
				t.Errorf("rerun with %q: stderr %q; want nothing about %q", tc.flags, errOut, not)
			}
		}
	}
	if n := len(decodeFile(t, rc.out)); n != first {
		t.Errorf("the refused reruns changed the output: %d lines, had %d", n, first)
	}
	// Given as its default, a flag is no change.
	if code, _, errOut := runCLI(t, "", withFlags("-c", "8", "-X", "GET", "--accept", "200..=399")...); code != ExitOK || len(decodeFile(t, rc.out)) != len(rc.targets) {
		t.Errorf("rerun with other pacing: exit %d: %s", code, errOut)
	}
}

// TestResumeRefusesTheRunsOwnFlags: -o, -f and the other flags that say
// what is fetched and how it is written belong to the run; resume said only
// "unknown shorthand flag: 'o' in -o".
func TestResumeRefusesTheRunsOwnFlags(t *testing.T) {
	db := filepath.Join(t.TempDir(), "runs.db")
	for _, args := range [][]string{{"-o", "x.jsonl"}, {"--format", "csv"}, {"-H", "X-A: 1"}} {
		code, _, errOut := runCLI(t, "", append(append([]string{"resume", "--db", db}, args...), "1")...)
		if code != ExitUsage || !strings.Contains(errOut, "are the run's own") || !strings.Contains(errOut, "--concurrency, --per-host") {
			t.Errorf("resume %q: exit %d, stderr %q", args, code, errOut)
		}
	}
}

// TestRerunOfStdinIsANewRun: the same command line reading stdin does not
// resume an unfinished run that read stdin: nothing says the lines are the
// same (a nightly "generate | fanout --db" gives other ones), and results
// were given to the wrong targets. It starts a new run and says so;
// fanout resume continues the old one.
func TestRerunOfStdinIsANewRun(t *testing.T) {
	rc := newSlowRecording(t, 40)
	rc.stdin = strings.Join(rc.targets, "\n")
	rc.args = rc.args[:len(rc.args)-len(rc.targets)] // flags only: the targets come on stdin
	rc.interrupted(t, 500*time.Millisecond)
	other := strings.ReplaceAll(rc.stdin, "/slow/", "/ok/")
	code, _, errOut := runCLI(t, other, slices.DeleteFunc(slices.Clone(rc.args), func(a string) bool { return a == "-q" })...)
	if code != ExitOK || !strings.Contains(errOut, "run 1, unfinished, read stdin too: this is a new run (fanout resume --db "+rc.db+" 1 continues") {
		t.Fatalf("rerun with other lines: exit %d, want 0 and a notice: %s", code, errOut)
	}
	rs := decodeFile(t, rc.out)
	if len(rs) != len(rc.targets) {
		t.Fatalf("new run wrote %d results, want %d", len(rs), len(rc.targets))
	}
	for _, r := range rs {
		if !strings.Contains(r.Input, "/ok/") {
			t.Fatalf("result for %s: an earlier run's target in the new run's output", r.Input)
		}
	}
	sdb, err := store.Open(rc.db)
	if err != nil {
		t.Fatal(err)
	}
	defer sdb.Close()
	if runs, err := sdb.Runs(); err != nil || len(runs) != 2 || runs[0].State == store.StateDone || runs[1].State != store.StateDone {
		t.Errorf("runs %+v, %v: want the first unfinished and a second done", runs, err)
	}
}

// TestResumeShorterStdinStaysUnfinished: a run that read stdin, resumed
// with stdin empty (or shorter), used to be marked done with exit 0,
// missing every target past what the new input gave, and could not be
// resumed again. It stays unfinished, exit 3, and a resume given the same
// lines again completes it.
func TestResumeShorterStdinStaysUnfinished(t *testing.T) {
	release := make(chan struct{})
	arrived := make(chan struct{}, 100)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/slow/") {
			arrived <- struct{}{}
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}
		fmt.Fprint(w, "<title>ok</title>")
	}))
	defer srv.Close()
	defer func() {
		select {
		case <-release:
		default:
			close(release)
		}
	}()
	var sb strings.Builder
	for i := range 10 {
		fmt.Fprintf(&sb, "%s/fast/%d\n", srv.URL, i)
	}
	for i := range 10 {
		fmt.Fprintf(&sb, "%s/slow/%d\n", srv.URL, i)
	}
	lines := sb.String()
	dir := t.TempDir()
	db, out := filepath.Join(dir, "runs.db"), filepath.Join(dir, "out.jsonl")

	// The first session: the fast targets, then Ctrl-C while the first
	// slow one is in flight (-c 1: one at a time, in order).
	interrupt := make(chan struct{})
	var stderr strings.Builder
	done := make(chan int)
	go func() {
		env := Env{Stdin: strings.NewReader(lines), Stdout: new(strings.Builder), Stderr: &stderr, Interrupt: interrupt}
		done <- Main(context.Background(), env, []string{"-i", "-", "-f", "jsonl", "-o", out, "--db", db, "-q", "-c", "1", "--retries", "0"})
	}()
	<-arrived
	close(interrupt)
	close(release)
	if code := <-done; code != ExitInterrupted {
		t.Fatalf("first session: exit %d, want %d\n%s", code, ExitInterrupted, stderr.String())
	}

	code, _, errOut := runCLI(t, "", "resume", "--db", db, "-q", "last")
	if code != ExitIncomplete || !strings.Contains(errOut, "not the input the run read") {
		t.Errorf("resume with stdin empty: exit %d, want %d\n%s", code, ExitIncomplete, errOut)
	}
	sdb, err := store.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	r, err := sdb.LastRun()
	sdb.Close()
	if err != nil || r.State == store.StateDone {
		t.Fatalf("after a resume with stdin empty: run %+v, %v; want it unfinished", r.State, err)
	}

	if code, _, errOut := runCLI(t, lines, "resume", "--db", db, "-q", "last"); code != 0 {
		t.Fatalf("resume with the same lines: exit %d\n%s", code, errOut)
	}
	if b, err := os.ReadFile(out); err != nil || strings.Count(string(b), "\n") != 20 {
		t.Fatalf("output: %d lines, %v; want 20", strings.Count(string(b), "\n"), err)
	}
}

// TestDiffThresholdErrors checks that a bad --slower or --min-slower is
// refused (exit 2, before the database is opened) in one line that names
// the flag that is wrong and the value given, not both flags.
func TestDiffThresholdErrors(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "none.db")
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--slower", "-5"}, "fanout: --slower must be a percentage not below 0, got -5\n"},
		{[]string{"--slower", "NaN"}, "fanout: --slower must be a percentage not below 0, got NaN\n"},
		{[]string{"--min-slower", "-1s"}, "fanout: --min-slower must not be negative, got -1s\n"},
	} {
		args := append([]string{"diff", "--db", db}, tt.args...)
		code, _, errOut := runCLI(t, "", append(args, "1", "2")...)
		if code != ExitUsage || errOut != tt.want {
			t.Errorf("fanout %s: exit %d, stderr %q; want exit 2 and %q", strings.Join(args, " "), code, errOut, tt.want)
		}
	}
}

// TestResumeElsewhereReadsTheRunsFiles: file names in a run's command line
// are relative to the directory it was started in. A resume started in
// another directory must send the run's -d @FILE body, not a file of the
// same name there (or fail for want of one): a run whose targets got two
// different bodies, with nothing said.
func TestResumeElsewhereReadsTheRunsFiles(t *testing.T) {
	s := newSite(t)
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	for name, body := range map[string]string{a: "from-a", b: "from-b"} {
		if err := os.Mkdir(name, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(name, "body.txt"), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	db, out := filepath.Join(dir, "runs.db"), filepath.Join(dir, "out.jsonl")
	args := []string{"-q", "-c", "1", "-d", "@body.txt", "-f", "jsonl", "-o", out, "--db", db, "--save", "bodies"}
	for i := range 20 {
		args = append(args, fmt.Sprintf("%s/echo?%d", s.URL, i))
	}
	t.Chdir(a)
	interrupt := make(chan struct{})
	close(interrupt) // Ctrl-C at once: the run starts (almost) nothing
	var stderr strings.Builder
	env := Env{Stdin: strings.NewReader(""), Stdout: new(strings.Builder), Stderr: &stderr, Interrupt: interrupt}
	if code := Main(t.Context(), env, args); code != ExitInterrupted {
		t.Fatalf("interrupted run: exit %d: %s", code, stderr.String())
	}
	first := len(decodeFile(t, out))
	if first == 20 {
		t.Fatal("the interrupted run fetched every target: nothing left to resume")
	}
	t.Chdir(b)
	if code, _, errOut := runCLI(t, "", "resume", "--db", db, "last"); code != ExitOK {
		t.Fatalf("resume from another directory: exit %d: %s", code, errOut)
	}
	rs := decodeFile(t, out)
	if len(rs) != 20 {
		t.Fatalf("%d results after the resume, want 20", len(rs))
	}
	for _, r := range rs {
		if r.Title != "POST from-a" {
			t.Errorf("%s: title %q, want the body of the run's own body.txt (\"POST from-a\")", r.Input, r.Title)
		}
	}
	// --save bodies: the run's directory, a/bodies, not b/bodies.
	if _, err := os.Stat(filepath.Join(b, "bodies")); err == nil {
		t.Error("the resume saved bodies in its own directory's bodies, not the run's")
	}
	for _, r := range rs {
		if _, err := os.Stat(filepath.Join(a, "bodies", r.BodySHA256[:2], r.BodySHA256)); r.Saved && err != nil {
			t.Errorf("%s: saved, but not in the run's --save directory: %v", r.Input, err)
		}
	}
}

// TestNewRunOverAnUnfinishedRunsOutputWarns: a command that differs from an
// interrupted run's (another -f) starts a new run, which rewrites the -o
// file the interrupted run's results were in: that run can no longer be
// resumed. It happened without a word; it now warns, naming the run and
// how to write its results again.
func TestNewRunOverAnUnfinishedRunsOutputWarns(t *testing.T) {
	s := newSite(t)
	dir := t.TempDir()
	db, out := filepath.Join(dir, "runs.db"), filepath.Join(dir, "out.txt")
	var targets []string
	for i := range 20 {
		targets = append(targets, fmt.Sprintf("%s/ok/%d", s.URL, i))
	}
	interrupt := make(chan struct{})
	close(interrupt) // Ctrl-C at once: run 1 stays unfinished
	var stderr strings.Builder
	env := Env{Stdin: strings.NewReader(""), Stdout: new(strings.Builder), Stderr: &stderr, Interrupt: interrupt}
	if code := Main(t.Context(), env, append([]string{"-q", "-c", "1", "-f", "jsonl", "-o", out, "--db", db}, targets...)); code != ExitInterrupted {
		t.Fatalf("interrupted run: exit %d: %s", code, stderr.String())
	}
	code, _, errOut := runCLI(t, "", append([]string{"-q", "-f", "csv", "-o", out, "--db", db}, targets...)...)
	if code != ExitOK || !strings.Contains(errOut, "holds the results of run 1, which did not finish") || !strings.Contains(errOut, "fanout show --db "+db+" 1 -o FILE") {
		t.Errorf("new run over run 1's output: exit %d, stderr %q; want 0 and a warning naming run 1", code, errOut)
	}
	// The same command again resumes nothing and rewrites nothing of run 1's: no warning.
	code, _, errOut = runCLI(t, "", append([]string{"-q", "-f", "csv", "-o", filepath.Join(dir, "other.csv"), "--db", db}, targets...)...)
	if code != ExitOK || strings.Contains(errOut, "warning") {
		t.Errorf("a run with its own output: exit %d, stderr %q; want 0 and no warning", code, errOut)
	}
}

// TestRecordedDedupeKey: a run recorded with --db keeps the key its input
// was deduplicated with (input.Options.DedupeKey, random for each run), and
// a resume reads the input with that key again: with another, two URLs
// whose hashes collide under one key and not the other would number the
// rest of the targets otherwise.
func TestRecordedDedupeKey(t *testing.T) {
	rc := newSlowRecording(t, 40)
	rc.interrupted(t, 500*time.Millisecond)
	key := func() string {
		t.Helper()
		db, err := store.Open(rc.db)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		r, err := db.LastRun()
		if err != nil {
			t.Fatal(err)
		}
		return r.Config.DedupeKey
	}
	first := key()
	if len(first) != 32 {
		t.Fatalf("recorded dedupe key %q: want 32 hex digits", first)
	}
	rec := &recording{cfg: store.Config{DedupeKey: first}}
	if k := rec.dedupeKey(); hex.EncodeToString(k[:]) != first {
		t.Errorf("the resumed run's reader gets key %x, want the recorded %s", k, first)
	}
	if code, _, errOut := runCLI(t, "", rc.args...); code != ExitOK {
		t.Fatalf("rerun: exit %d: %s", code, errOut)
	}
	if again := key(); again != first {
		t.Errorf("after the resume, dedupe key %q, want %q", again, first)
	}
	var none *recording
	if k := none.dedupeKey(); k != ([16]byte{}) {
		t.Errorf("without --db, key %x; want zero (a random one)", k)
	}
}

// TestResumeHelpShowsOneDefault: a pacing flag resume leaves unset is the
// run's own; its help must not also print pflag's "(default 0s)", which
// it did for the duration flags.
func TestResumeHelpShowsOneDefault(t *testing.T) {
	code, out, errOut := runCLI(t, "", "resume", "--help")
	if code != ExitOK {
		t.Fatalf("resume --help: exit %d: %s", code, errOut)
	}
	for _, name := range resumeOverrides {
		var line string
		for l := range strings.Lines(out) {
			if strings.Contains(l, "--"+name+" ") {
				line = l
			}
		}
		if !strings.Contains(line, "(default: the run's own)") || strings.Count(line, "(default") != 1 {
			t.Errorf("--%s: %q, want only (default: the run's own)", name, line)
		}
	}
}

// TestDiffNotesOtherAccept: runs judged by other --accept rules differ on
// a status that did not change ("worse failing 204 -> 204"); diff says
// why, in one line. Its summary counts in the singular too ("1 target").
func TestDiffNotesOtherAccept(t *testing.T) {
	var second atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/204":
			w.WriteHeader(204)
		case second.Load():
			w.WriteHeader(403)
		default:
			w.WriteHeader(404)
		}
	}))
	defer srv.Close()
	db := filepath.Join(t.TempDir(), "runs.db")
	for _, args := range [][]string{
		{"--accept", "200..=399", srv.URL + "/204", srv.URL + "/40x"},
		{"--accept", "200", srv.URL + "/204", srv.URL + "/40x"},
		{"--accept", "200..400", srv.URL + "/204"}, // 200..=399 written otherwise: no note
	} {
		if code, _, errOut := runCLI(t, "", append([]string{"-q", "--retries", "0", "-f", "jsonl", "--db", db, "--new-run"}, args...)...); code == ExitUsage {
			t.Fatalf("run %q: exit %d: %s", args, code, errOut)
		}
		second.Store(true)
	}
	note := "run 1 accepted 200..=399, run 2 200: the same status can be accepted in one and failing in the other"
	for _, tc := range []struct {
		a, b      string
		code      int
		out, errs string
		note      bool
	}{
		{"1", "2", ExitFailures, "worse   failing    204 -> 204", "2 targets compared: 1 worse, 0 recovered, 1 other change, 0 content changes;", true},
		{"1", "3", ExitOK, "", "1 target compared: 0 worse, 0 recovered, 0 other changes, 0 content changes;", false},
	} {
		code, out, errOut := runCLI(t, "", "diff", "--db", db, tc.a, tc.b)
		if code != tc.code || !strings.Contains(out, tc.out) || !strings.Contains(errOut, tc.errs) ||
			strings.Contains(errOut, note) != tc.note || strings.Count(errOut, "\n") != 1+btoi(tc.note) {
			t.Errorf("diff %s %s: exit %d, stdout %q, stderr %q; want %d, %q, %q, the note about --accept %v", tc.a, tc.b, code, out, errOut, tc.code, tc.out, tc.errs, tc.note)
		}
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestRunsHidesDedupeKey: the key of a run's dedupe hash stays in the
// database, where a resume reads it; fanout runs -f jsonl printed it.
func TestRunsHidesDedupeKey(t *testing.T) {
	s := newSite(t)
	db := filepath.Join(t.TempDir(), "runs.db")
	if code, _, errOut := runCLI(t, "", "-q", "-f", "jsonl", "--db", db, s.URL+"/", s.URL+"/a"); code != ExitOK {
		t.Fatalf("run: exit %d: %s", code, errOut)
	}
	sdb, err := store.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	r, err := sdb.LastRun()
	sdb.Close()
	if err != nil || len(r.Config.DedupeKey) != 32 {
		t.Fatalf("recorded dedupe key %q (%v): want 32 hex digits", r.Config.DedupeKey, err)
	}
	code, out, errOut := runCLI(t, "", "runs", "--db", db, "-f", "jsonl")
	if code != ExitOK || !strings.Contains(out, `"config":{`) || strings.Contains(out, "dedupe_key") || strings.Contains(out, r.Config.DedupeKey) {
		t.Errorf("runs -f jsonl: exit %d, stdout %q, stderr %q; want the config without the dedupe key", code, out, errOut)
	}
}

// TestShowColor: show -f text takes --color as the run does (found in
// review: "show -f text --color never" was an unknown flag, and a text
// shown on a terminal had no colour at all).
func TestShowColor(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/gone" {
			http.NotFound(w, r)
		}
	}))
	defer ts.Close()
	db := filepath.Join(t.TempDir(), "runs.db")
	if code, _, errOut := runCLI(t, "", "-q", "--db", db, "-f", "jsonl", ts.URL+"/ok", ts.URL+"/gone"); code != ExitFailures {
		t.Fatalf("run: exit %d: %s", code, errOut)
	}
	for _, c := range []struct {
		color string
		want  bool
	}{{"always", true}, {"never", false}, {"auto", false}} { // auto: stdout is no terminal here
		code, out, errOut := runCLI(t, "", "show", "--db", db, "last", "-f", "text", "--color", c.color)
		if code != ExitOK || strings.Contains(out, "\x1b[") != c.want || !strings.Contains(out, "/gone") {
			t.Errorf("show --color %s: exit %d, coloured %v, want %v: %q %s", c.color, code, strings.Contains(out, "\x1b["), c.want, out, errOut)
		}
	}
	if code, _, errOut := runCLI(t, "", "show", "--db", db, "last", "--color", "sometimes"); code != ExitUsage || !strings.Contains(errOut, `--color "sometimes"`) {
		t.Errorf("show --color sometimes: exit %d, want %d naming it: %s", code, ExitUsage, errOut)
	}
}
