package cli

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestAcceptedWritesOnlyAccepted: --accepted writes only the results
// accepted, --failed only the others, neither all of them, in every
// format; the summary, --summary-json, --db and the exit status count
// every result whichever is given. -f url writes each result's URL as
// fetched and nothing else, so --accepted -f url is the live URLs, in
// input order with --ordered; show writes the same from the database.
func TestAcceptedWritesOnlyAccepted(t *testing.T) {
	ts := judgedSite(t)
	live := []string{ts.URL + "/a", ts.URL + "/b", ts.URL + "/moved"} // /moved: a 301 to /, followed
	dead := []string{ts.URL + "/missing", ts.URL + "/missing?again"}
	targets := []string{live[0], dead[0], live[1], live[2], dead[1]}
	for _, c := range []struct {
		flag string
		want []string // the targets written, in input order
	}{
		{"", targets},
		{"--failed", dead},
		{"--accepted", live},
	} {
		for _, format := range []string{"text", "jsonl", "csv", "url"} {
			t.Run(strings.TrimPrefix(c.flag, "--")+"/"+format, func(t *testing.T) {
				dir := t.TempDir()
				out, db, sj := filepath.Join(dir, "out"), filepath.Join(dir, "runs.db"), filepath.Join(dir, "summary.json")
				args := []string{"--ordered", "--retries", "0", "-f", format, "-o", out, "--db", db, "--summary-json", sj}
				if c.flag != "" {
					args = append(args, c.flag)
				}
				code, _, errOut := runCLI(t, "", append(args, targets...)...)
				if code != ExitFailures {
					t.Fatalf("exit %d, want %d (the 404s fail the run, written or not): %s", code, ExitFailures, errOut)
				}
				b, err := os.ReadFile(out)
				if err != nil {
					t.Fatal(err)
				}
				got := lines(string(b))
				if format == "csv" {
					got = got[1:] // the header
				}
				if len(got) != len(c.want) {
					t.Errorf("%d lines written, want %d:\n%s", len(got), len(c.want), b)
				}
				if format == "url" && !slices.Equal(got, c.want) {
					t.Errorf("-f url wrote %q, want %q", got, c.want)
				}
				if !strings.Contains(errOut, "5 total, 3 accepted, 2 failed") {
					t.Errorf("the summary does not count every result:\n%s", errOut)
				}
				if sum, b := readSummaryJSON(t, sj); sum.Results != 5 || sum.Failed != 2 {
					t.Errorf("summary JSON does not count every result: %s", b)
				}
				// The database has every result; show filters them as
				// the run did.
				sargs := []string{"show", "--db", db, "-f", "url", "last"}
				if c.flag != "" {
					sargs = append(sargs, c.flag)
				}
				code, shown, errOut := runCLI(t, "", sargs...)
				if code != ExitOK || !slices.Equal(lines(shown), c.want) {
					t.Errorf("%v: exit %d, %q, want %q: %s", sargs, code, lines(shown), c.want, errOut)
				}
			})
		}
	}

	// To stdout, as it is piped into the next tool, unordered: the live
	// URLs, each once, and nothing else there.
	code, out, errOut := runCLI(t, "", append([]string{"--accepted", "-f", "url", "--retries", "0"}, targets...)...)
	got := lines(out)
	slices.Sort(got)
	if want := slices.Sorted(slices.Values(live)); code != ExitFailures || !slices.Equal(got, want) {
		t.Errorf("--accepted -f url to stdout: exit %d, %q, want %q: %s", code, got, want, errOut)
	}
}

// TestFailedAndAcceptedExclusive: --failed and --accepted together would
// write nothing; the main command, collect and show refuse them, naming
// both, before anything is fetched (or, for collect, connected to). collect
// refuses --accepted with --db, which writes nothing, as it does --failed.
func TestFailedAndAcceptedExclusive(t *testing.T) {
	var hits atomic.Int64
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	t.Cleanup(ts.Close)
	db := filepath.Join(t.TempDir(), "runs.db")
	// Port 1 of loopback: nothing listens there, and collect must not get
	// as far as trying.
	nats := []string{"collect", "--nats", "nats://127.0.0.1:1", "--run", "r"}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--failed", "--accepted", ts.URL + "/"}, "--failed and --accepted: give one"},
		{append(nats, "--failed", "--accepted"), "--failed and --accepted: give one"},
		{append(nats, "--accepted", "--db", db), "--db and --accepted"},
		{[]string{"show", "--db", db, "--failed", "--accepted", "last"}, "--failed and --accepted: give one"},
	} {
		code, _, errOut := runCLI(t, "", c.args...)
		if code != ExitUsage || !strings.Contains(errOut, c.want) {
			t.Errorf("%q: exit %d, stderr %q; want %d saying %q", c.args, code, errOut, ExitUsage, c.want)
		}
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("%d requests made by refused command lines", n)
	}
}

// TestRerunSwappingFailedForAcceptedIsRefused: an unfinished run recorded
// with --failed is not continued by the same command with --accepted,
// which would leave the failed results in one part of its output and the
// accepted in the other; the refusal names both. fanout resume continues
// it as it was recorded, writing the failed only.
func TestRerunSwappingFailedForAcceptedIsRefused(t *testing.T) {
	// --accept 500: every 200 fails, so --failed writes them all.
	rc := newSlowRecording(t, 40, "--failed", "--accept", "500")
	rc.interrupted(t, 500*time.Millisecond)
	first := len(decodeFile(t, rc.out))
	swapped := slices.Clone(rc.args)
	swapped[slices.Index(swapped, "--failed")] = "--accepted"
	code, _, errOut := runCLI(t, "", swapped...)
	for _, want := range []string{"other --failed, --accepted:", "only the failed in one part and only the accepted in another (--failed, --accepted)", "--new-run"} {
		if code != ExitUsage || !strings.Contains(errOut, want) {
			t.Errorf("rerun with --accepted: exit %d, stderr %q; want %d saying %q", code, errOut, ExitUsage, want)
		}
	}
	if n := len(decodeFile(t, rc.out)); n != first {
		t.Errorf("the refused rerun changed the output: %d lines, had %d", n, first)
	}
	if code, _, errOut := runCLI(t, "", "resume", "--db", rc.db, "-q", "1"); code != ExitFailures {
		t.Fatalf("resume: exit %d, want %d: %s", code, ExitFailures, errOut)
	}
	if n := len(decodeFile(t, rc.out)); n != len(rc.targets) {
		t.Errorf("after resume: %d results written, want every one of the %d (all failed)", n, len(rc.targets))
	}
}
