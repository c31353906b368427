package cli

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/fanout/fanout/store"
)

// TestDiffContent: two runs whose bodies all changed are content changes:
// counted in the summary always, listed with --content, in input order
// (n=0, n=1, ..., n=11, not n=0, n=1, n=10, n=11, n=2 as text sorts),
// and never worse: the exit status is the same with --content as without.
func TestDiffContent(t *testing.T) {
	var second atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := r.URL.Query().Get("n")
		if second.Load() && n == "7" {
			w.WriteHeader(http.StatusInternalServerError)
		}
		fmt.Fprintf(w, "<title>page %s</title> fetched in run %v", n, second.Load())
	}))
	defer srv.Close()
	db := filepath.Join(t.TempDir(), "runs.db")
	var targets, want []string
	for i := range 12 {
		targets = append(targets, fmt.Sprintf("%s/?n=%d", srv.URL, i))
		if i != 7 {
			want = append(want, targets[i])
		}
	}
	run := func(wantCode int) {
		t.Helper()
		args := append([]string{"-q", "--retries", "0", "-c", "4", "-f", "jsonl", "--db", db, "--new-run"}, targets...)
		if code, _, errOut := runCLI(t, "", args...); code != wantCode {
			t.Fatalf("run: exit %d, want %d: %s", code, wantCode, errOut)
		}
	}
	run(ExitOK)
	second.Store(true)
	run(ExitFailures)

	code, out, errOut := runCLI(t, "", "diff", "--db", db, "1", "2")
	if code != ExitFailures || strings.Contains(out, "content") {
		t.Errorf("diff 1 2: exit %d, want 1 (n=7 fails), and no content line:\n%s", code, out)
	}
	if !strings.Contains(errOut, "12 targets compared: 1 worse, 0 recovered, 0 other changes, 11 content changes (--content lists them);") {
		t.Errorf("diff 1 2: summary %q, want 11 content changes counted", errOut)
	}

	code, out, errOut = runCLI(t, "", "diff", "--db", db, "--content", "1", "2")
	if code != ExitFailures {
		t.Errorf("diff --content 1 2: exit %d, want 1 as without --content: %s", code, errOut)
	}
	var got []string
	for line := range strings.SplitSeq(strings.TrimSpace(out), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if f[0] == "worse" {
			if !strings.HasSuffix(line, "/?n=7") {
				t.Errorf("worse line %q, want n=7's", line)
			}
			continue
		}
		if f[0] != "content" || !strings.Contains(line, " -> ") {
			t.Errorf("line %q, want a content change with its hashes", line)
		}
		got = append(got, f[len(f)-1])
	}
	if !slices.Equal(got, want) {
		t.Errorf("content changes listed:\n%s\nwant, in input order:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if !strings.Contains(errOut, "11 content changes;") {
		t.Errorf("diff --content: summary %q", errOut)
	}

	// jsonl: both sides' hashes and titles, and the gate unchanged when
	// only content changed (run 2 against itself is no change at all;
	// run 1 against run 2 read the other way round recovers n=7).
	code, out, _ = runCLI(t, "", "diff", "--db", db, "--content", "-f", "jsonl", "2", "1")
	if code != ExitOK {
		t.Errorf("diff --content 2 1: exit %d, want 0: content changes are never worse", code)
	}
	n := 0
	for line := range strings.SplitSeq(strings.TrimSpace(out), "\n") {
		var c store.Change
		if err := json.Unmarshal([]byte(line), &c); err != nil {
			t.Fatalf("%v: %s", err, line)
		}
		if c.Kind != store.ChangeContent {
			continue
		}
		n++
		if c.Worse || c.A.BodySHA256 == "" || c.B.BodySHA256 == "" || c.A.BodySHA256 == c.B.BodySHA256 || c.A.Title == "" {
			t.Errorf("content change %+v: want two different hashes, titles, not worse", c)
		}
	}
	if n != 11 {
		t.Errorf("%d content changes in jsonl, want 11:\n%s", n, out)
	}
}
