package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/fanout/fanout/store"
)

// TestKillAndResumeExactlyOnce kills the fanout binary with SIGKILL at ten
// random moments of a --db run and resumes it each time (alternately with
// the same command line and with fanout resume); at the end the database
// and the -o file hold every target exactly once, and no line is torn.
func TestKillAndResumeExactlyOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the binary a dozen times")
	}
	const n = 3000
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// 5-35 ms: with -c 10 the run takes several seconds, so the
		// kills land in the middle of it.
		select {
		case <-time.After(time.Duration(5+rand.IntN(30)) * time.Millisecond):
		case <-r.Context().Done():
			return
		}
		fmt.Fprintf(w, "<title>%s</title>", r.URL.Path)
	}))
	defer srv.Close()
	dir := t.TempDir()
	list := filepath.Join(dir, "targets.txt")
	var sb strings.Builder
	for i := range n {
		fmt.Fprintf(&sb, "%s/t/%d\n", srv.URL, i)
	}
	if err := os.WriteFile(list, []byte(sb.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	db, out := filepath.Join(dir, "runs.db"), filepath.Join(dir, "out.jsonl")
	runArgs := []string{"-i", list, "-f", "jsonl", "-o", out, "--db", db, "-q", "-c", "10", "--retries", "0"}
	resumeArgs := []string{"resume", "--db", db, "-q", "last"}

	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	killed := 0
	for i := range 10 {
		args := runArgs
		if i%2 == 1 && hasRun(t, db) {
			// (A session killed before it recorded its run leaves
			// nothing to resume: on a loaded machine the random moment
			// can come that early.)
			args = resumeArgs
		}
		cmd := exec.Command(binary, args...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(rng.IntN(700)) * time.Millisecond)
		cmd.Process.Signal(syscall.SIGKILL)
		err := cmd.Wait()
		var ee *exec.ExitError
		if errors.As(err, &ee) && ee.Sys().(syscall.WaitStatus).Signaled() {
			killed++
		} else if err != nil {
			t.Fatalf("session %d (%v): %v\n%s", i, args, err, stderr.String())
		}
	}
	if killed < 5 {
		t.Fatalf("only %d of 10 sessions were killed before finishing; the test did not test", killed)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	final := exec.CommandContext(ctx, binary, resumeArgs...)
	if b, err := final.CombinedOutput(); err != nil {
		t.Fatalf("final resume: %v\n%s", err, b)
	}

	// The output file: one whole JSON line per target.
	checkEachOnce200(t, out, n)

	// The database: one run, done, each Seq once with its own input.
	sdb, err := store.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	defer sdb.Close()
	runs, err := sdb.Runs()
	if err != nil || len(runs) != 1 || runs[0].State != store.StateDone || runs[0].Results != n {
		t.Fatalf("runs = %+v, %v; want one done run with %d results", runs, err, n)
	}
	next := uint64(0)
	for r, err := range sdb.Results(runs[0].ID) {
		if err != nil {
			t.Fatal(err)
		}
		if r.Seq != next || !strings.HasSuffix(r.Input, "/t/"+strconv.FormatUint(r.Seq, 10)) || r.Status != 200 {
			t.Fatalf("result %d: seq %d input %s status %d", next, r.Seq, r.Input, r.Status)
		}
		next++
	}
	if next != n {
		t.Fatalf("database holds %d results, want %d", next, n)
	}
	t.Logf("%d of 10 sessions killed mid-run", killed)
}

// checkEachOnce200 fails unless the JSON Lines file out holds n distinct
// targets, each exactly once, every line whole and with status 200.
func checkEachOnce200(t *testing.T, out string, n int) {
	t.Helper()
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	seen := map[string]int{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var r struct {
			Input  string `json:"input"`
			Status int    `json:"status"`
		}
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("torn line %q: %v", sc.Text(), err)
		}
		if r.Status != 200 {
			t.Errorf("%s: status %d, want 200 (an attempt cut short by a kill or a SIGTERM?)", r.Input, r.Status)
		}
		seen[r.Input]++
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(seen) != n {
		t.Errorf("%d distinct targets in the output, want %d", len(seen), n)
	}
	for in, c := range seen {
		if c != 1 {
			t.Errorf("%s written %d times", in, c)
		}
	}
}

// hasRun reports whether the database db exists and holds a run.
func hasRun(t *testing.T, db string) bool {
	t.Helper()
	if _, err := os.Stat(db); err != nil {
		return false
	}
	sdb, err := store.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	defer sdb.Close()
	runs, err := sdb.Runs()
	if err != nil {
		t.Fatal(err)
	}
	return len(runs) > 0
}

// TestSameCommandStartedTogether starts one --db command four times at
// once on a new database, as a scheduler firing twice or a user's double
// Enter would: one process records the run, the others are refused. Each
// used to find no run to resume, create its own and write the same -o at
// once (the file had lines torn, lost and doubled), or to take over the
// run another had just created.
func TestSameCommandStartedTogether(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the binary sixty times")
	}
	const n = 100
	// The server answers nothing until three of a try's four processes
	// have ended (been refused), or 5 s have passed: on a loaded machine a
	// process could otherwise start only once the first had fetched every
	// target, and rightly begin a second run (not this test's case).
	var ended atomic.Int32
	var tryStart atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for ended.Load() < 3 && time.Since(time.Unix(0, tryStart.Load())) < 5*time.Second {
			time.Sleep(5 * time.Millisecond)
		}
		time.Sleep(time.Duration(rand.IntN(5)) * time.Millisecond)
		fmt.Fprintf(w, "<title>%s</title>", r.URL.Path)
	}))
	defer srv.Close()
	var sb strings.Builder
	for i := range n {
		fmt.Fprintf(&sb, "%s/t/%d\n", srv.URL, i)
	}
	for try := range 15 {
		dir := t.TempDir()
		list := filepath.Join(dir, "targets.txt")
		if err := os.WriteFile(list, []byte(sb.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		db, out := filepath.Join(dir, "runs.db"), filepath.Join(dir, "out.jsonl")
		ended.Store(0)
		tryStart.Store(time.Now().UnixNano())
		cmds := make([]*exec.Cmd, 4)
		stderrs := make([]bytes.Buffer, len(cmds))
		errs := make([]error, len(cmds))
		var wg sync.WaitGroup
		for i := range cmds {
			cmds[i] = exec.Command(binary, "-i", list, "-f", "jsonl", "-o", out, "--db", db, "-q", "-c", "20")
			cmds[i].Stderr = &stderrs[i]
			if err := cmds[i].Start(); err != nil {
				t.Fatal(err)
			}
			wg.Go(func() {
				errs[i] = cmds[i].Wait()
				ended.Add(1)
			})
		}
		wg.Wait()
		ran := 0
		for i, cmd := range cmds {
			err := errs[i]
			switch {
			case err == nil:
				ran++
			case cmd.ProcessState.ExitCode() == 2 && strings.Contains(stderrs[i].String(), "is being recorded by another fanout process"):
			default:
				t.Fatalf("try %d: process %d: %v\n%s", try, i, err, stderrs[i].String())
			}
		}
		sdb, err := store.Open(db)
		if err != nil {
			t.Fatal(err)
		}
		runs, err := sdb.Runs()
		sdb.Close()
		if err != nil || len(runs) != 1 || runs[0].State != store.StateDone || runs[0].Results != n {
			t.Fatalf("try %d: %d runs (%v); want one done run with %d results", try, len(runs), err, n)
		}
		if ran != 1 {
			// A second process that started once the first had finished
			// starts a new run: not this test's case.
			t.Fatalf("try %d: %d processes ran", try, ran)
		}
		checkEachOnce200(t, out, n)
		if t.Failed() {
			t.Fatalf("try %d", try)
		}
	}
}
