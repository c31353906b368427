package cli

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
)

// TestRunsAndDiffFormatAnyCase: -f takes a format name in any case on the
// main command, show and collect; runs and diff, whose -f is text or
// jsonl, refused "JSONL" with a usage error.
func TestRunsAndDiffFormatAnyCase(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	t.Cleanup(srv.Close)
	db := filepath.Join(t.TempDir(), "runs.db")
	for range 2 {
		if code, _, errOut := runCLI(t, "", "-q", "--db", db, "--new-run", srv.URL+"/"); code != ExitOK {
			t.Fatalf("run: exit %d: %s", code, errOut)
		}
	}
	for _, tc := range []struct {
		args  []string
		lines int // JSON lines on stdout
	}{
		{[]string{"runs", "--db", db, "-f", "JSONL"}, 2},
		{[]string{"runs", "--db", db, "-f", "Text"}, 0},
		{[]string{"diff", "--db", db, "-f", "JSONL", "1", "2"}, 0},
		{[]string{"diff", "--db", db, "--format", "TEXT", "1", "2"}, 0},
	} {
		code, out, errOut := runCLI(t, "", tc.args...)
		if code != ExitOK {
			t.Errorf("%q: exit %d, want 0: %s", tc.args, code, errOut)
			continue
		}
		n := 0
		for line := range strings.SplitSeq(strings.TrimSpace(out), "\n") {
			if json.Valid([]byte(line)) {
				n++
			}
		}
		if n != tc.lines {
			t.Errorf("%q: %d JSON lines, want %d:\n%s", tc.args, n, tc.lines, out)
		}
	}
	if code, _, errOut := runCLI(t, "", "runs", "--db", db, "-f", "csv"); code != ExitUsage || !strings.Contains(errOut, `--format "csv": want text or jsonl`) {
		t.Errorf("runs -f csv: exit %d, %q; want %d and the formats it takes", code, errOut, ExitUsage)
	}
}
