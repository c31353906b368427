package cli

import (
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// humanDuration is the form of every duration fanout prints for a person
// (internal/humantime): "0.47ms", "6.7ms", "123ms", "1.2s", "2m05s", "1h02m".
var humanDuration = regexp.MustCompile(`^([0-9]+(\.[0-9]{1,2})?ms|[0-9]+\.[0-9]s|[0-9]+m[0-9]{2}s|[0-9]+h[0-9]{2}m)$`)

// TestHumanDurations checks that runs and diff print durations as the text
// format and the summary do: runs said "0s" and "1s" for runs the summary
// called 5.2ms and 1.1s, and diff "1.103s" for a time the text format
// showed as 1.1s.
func TestHumanDurations(t *testing.T) {
	t.Parallel()
	var slow atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if slow.Load() {
			time.Sleep(1100 * time.Millisecond) // above a second: "1.1s", not "1.103s" nor "1s"
		}
	}))
	defer srv.Close()
	db := filepath.Join(t.TempDir(), "runs.db")
	for _, s := range []bool{false, true} {
		slow.Store(s)
		if code, _, errOut := runCLI(t, "", "-q", "--db", db, "--new-run", srv.URL+"/t"); code != ExitOK {
			t.Fatalf("run: exit %d: %s", code, errOut)
		}
	}

	_, listing, _ := runCLI(t, "", "runs", "--db", db)
	lines := strings.Split(strings.TrimSpace(listing), "\n")
	if len(lines) != 3 {
		t.Fatalf("runs listing:\n%s", listing)
	}
	for _, line := range lines[1:] {
		// RUN STATE DATE TIME DURATION ...
		if f := strings.Fields(line); len(f) < 5 || !humanDuration.MatchString(f[4]) {
			t.Errorf("runs: duration of %q is not in the human form", line)
		}
	}

	code, out, errOut := runCLI(t, "", "diff", "--db", db, "1", "2")
	m := regexp.MustCompile(`slower +(\S+) -> (\S+) `).FindStringSubmatch(out)
	if code != ExitFailures || m == nil {
		t.Fatalf("diff: exit %d, want %d and a slower target:\n%s%s", code, ExitFailures, out, errOut)
	}
	for _, d := range m[1:] {
		if !humanDuration.MatchString(d) {
			t.Errorf("diff: duration %q is not in the human form:\n%s", d, out)
		}
	}
}
