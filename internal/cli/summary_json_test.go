package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fanout/fanout/output"
)

// TestSummaryJSONFile: --summary-json writes the summary's numbers to a
// file at the end, under -q too, for a CI step to read; a path whose
// directory does not exist is a usage error before anything is fetched,
// and one that cannot be written is exit 3.
func TestSummaryJSONFile(t *testing.T) {
	s := newSite(t)
	dir := t.TempDir()
	name := filepath.Join(dir, "summary.json")
	code, _, errOut := runCLI(t, "", "-q", "-o", filepath.Join(dir, "out.txt"), "--summary-json", name, s.URL+"/", s.URL+"/404")
	if code != ExitFailures {
		t.Fatalf("exit %d, want %d: %s", code, ExitFailures, errOut)
	}
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	var got output.SummaryJSON
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	if got.Results != 2 || got.Failed != 1 || got.Status["4xx"] != 1 || len(got.FailedTargets) != 1 ||
		got.FailedTargets[0].Input != s.URL+"/404" || got.FailedTargets[0].Status != 404 || got.Latency == nil || got.WallMs <= 0 ||
		!got.Complete || got.NotFetched != 0 || got.WholeRun != nil {
		t.Errorf("summary JSON: %s", b)
	}

	// A file that cannot be written (here a directory) fails the run's
	// end with exit 3, the results written.
	code, _, errOut = runCLI(t, "", "-q", "-o", filepath.Join(dir, "out2.txt"), "--summary-json", dir, s.URL+"/")
	if code != ExitIncomplete || !strings.Contains(errOut, "--summary-json "+dir) {
		t.Errorf("unwritable --summary-json: exit %d, stderr %q; want %d naming it", code, errOut, ExitIncomplete)
	}

	s.mu.Lock()
	requests := s.requests
	s.mu.Unlock()
	code, _, errOut = runCLI(t, "", "-q", "--summary-json", filepath.Join(dir, "no", "such", "dir", "s.json"), s.URL+"/")
	if code != ExitUsage || !strings.Contains(errOut, "--summary-json") || !strings.Contains(errOut, "directory does not exist") {
		t.Errorf("missing directory: exit %d, stderr %q; want %d naming --summary-json", code, errOut, ExitUsage)
	}

	// Nor may it overwrite the input, the results or the database (as -o
	// may not): a slip of the shell's completion would lose them.
	list := filepath.Join(dir, "urls.txt")
	os.WriteFile(list, []byte(s.URL+"/\n"), 0o644)
	db := filepath.Join(dir, "runs.db")
	out := filepath.Join(dir, "out.txt")
	for _, c := range []struct {
		file string // what --summary-json names
		args []string
	}{
		{list, []string{"-i", list}},
		{out, []string{"-o", out, s.URL + "/"}},
		{db, []string{"--db", db, s.URL + "/"}},
		{db + "-wal", []string{"--db", db, s.URL + "/"}},
	} {
		before, _ := os.ReadFile(c.file)
		code, _, errOut = runCLI(t, "", append([]string{"-q", "--summary-json", c.file}, c.args...)...)
		if code != ExitUsage || !strings.Contains(errOut, "--summary-json") || !strings.Contains(errOut, "would destroy it") {
			t.Errorf("%q: exit %d, stderr %q; want %d, refusing to overwrite %s", c.args, code, errOut, ExitUsage, c.file)
		}
		if after, _ := os.ReadFile(c.file); string(after) != string(before) {
			t.Errorf("%q: %s changed", c.args, c.file)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.requests != requests {
		t.Errorf("the run fetched %d targets before refusing --summary-json", s.requests-requests)
	}
}

// An interrupted run's summary JSON says it did not complete, and how many
// targets it read but never fetched; the session that resumes it counts
// itself and, in whole_run, every session, which the exit status follows.
// A CI gate on "failed" alone passed both.
func TestSummaryJSONInterruptedAndResumed(t *testing.T) {
	name := filepath.Join(t.TempDir(), "s.json")
	rc := newSlowRecording(t, 40, "--summary-json", name)
	rc.interrupted(t, 500*time.Millisecond)
	read := func() output.SummaryJSON {
		t.Helper()
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		var j output.SummaryJSON
		if err := json.Unmarshal(b, &j); err != nil {
			t.Fatalf("%v: %s", err, b)
		}
		return j
	}
	first := read()
	if first.Complete || first.Results == 0 || first.Results+first.NotFetched > 40 || first.WholeRun != nil {
		t.Errorf("interrupted: %+v; want complete false and some results", first)
	}
	if code, _, errOut := runCLI(t, "", rc.args...); code != ExitOK {
		t.Fatalf("rerun: exit %d: %s", code, errOut)
	}
	second := read()
	if !second.Complete || second.Results != 40-first.Results || second.WholeRun == nil ||
		*second.WholeRun != (output.WholeRunJSON{Results: 40, Accepted: 40}) {
		t.Errorf("resumed: %+v (whole run %+v); want complete, %d results, and 40 in the whole run", second, second.WholeRun, 40-first.Results)
	}
}
