package cli

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// TestDiffPairsTargets: diff pairs two runs' targets as input dedupe tells
// them apart, not by the text of their lines: a list regenerated between
// runs (another order, fragments, the case of scheme and host, a default
// port, a bare host written otherwise) compares the same targets, and a
// change names run B's line. Lines that are not valid targets pair by
// their text; with --no-dedupe a target's first occurrence counts.
func TestDiffPairsTargets(t *testing.T) {
	var second atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if second.Load() && r.URL.Path == "/docs/b" {
			w.WriteHeader(http.StatusInternalServerError)
		}
		fmt.Fprint(w, "ok")
	}))
	defer srv.Close()
	port := srv.URL[strings.LastIndexByte(srv.URL, ':')+1:]
	u := func(format string) string { return strings.ReplaceAll(format, "PORT", port) }
	tests := []struct {
		name     string
		a, b     []string
		flags    []string
		code     int
		summary  string   // the diff summary's start
		worse    []string // the input lines of the worse changes, in order
		onlyText string   // the summary's end
	}{
		{
			name: "docs team's lists",
			a:    []string{u("http://docs.sim:PORT/docs/a#one"), u("http://docs.sim:PORT/docs/a#two"), u("http://docs.sim:PORT/docs/c")},
			b:    []string{u("http://docs.sim:PORT/docs/a#two"), u("http://docs.sim:PORT/docs/a#one"), u("HTTP://DOCS.sim:PORT/docs/c")},
			code: ExitOK, summary: "2 targets compared: 0 worse", onlyText: "0 only in run 1, 0 only in run 2",
		},
		{
			name: "changed line named as run B has it",
			a:    []string{u("http://docs.sim:PORT/docs/b"), u("http://docs.sim:PORT/docs/a"), u("http://docs.sim:PORT/gone")},
			b:    []string{u("http://docs.sim:PORT/new"), u("http://Docs.Sim:PORT/docs/a#top"), u("HTTP://DOCS.SIM:PORT/docs/b")},
			code: ExitFailures, summary: "2 targets compared: 1 worse", worse: []string{u("HTTP://DOCS.SIM:PORT/docs/b")},
			onlyText: "1 only in run 1, 1 only in run 2",
		},
		{
			name: "bare host pairs by its own key",
			a:    []string{u("docs.sim:PORT/docs/b"), u("http://docs.sim:PORT/docs/b")},
			b:    []string{u("http://docs.sim:PORT/docs/b"), u("DOCS.SIM:PORT/docs/b#x")},
			code: ExitFailures, summary: "2 targets compared: 2 worse",
			worse:    []string{u("http://docs.sim:PORT/docs/b"), u("DOCS.SIM:PORT/docs/b#x")},
			onlyText: "0 only in run 1, 0 only in run 2",
		},
		{
			name: "invalid lines pair by their text",
			a:    []string{"ftp://docs.sim/x", "FTP://docs.sim/x", u("http://docs.sim:PORT/docs/a")},
			b:    []string{"ftp://docs.sim/x", u("http://docs.sim:PORT/docs/a")},
			code: ExitOK, summary: "2 targets compared: 0 worse", onlyText: "1 only in run 1, 0 only in run 2",
		},
		{
			name:  "no-dedupe: first occurrence",
			a:     []string{u("http://docs.sim:PORT/docs/b#1"), u("http://docs.sim:PORT/docs/b#2")},
			b:     []string{u("http://docs.sim:PORT/docs/b#3"), u("http://docs.sim:PORT/docs/b#4")},
			flags: []string{"--no-dedupe"},
			code:  ExitFailures, summary: "1 target compared: 1 worse", worse: []string{u("http://docs.sim:PORT/docs/b#3")},
			onlyText: "0 only in run 1, 0 only in run 2",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			db := filepath.Join(dir, "runs.db")
			run := func(name string, lines []string, failing bool) {
				t.Helper()
				second.Store(failing)
				list := filepath.Join(dir, name)
				if err := os.WriteFile(list, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
					t.Fatal(err)
				}
				args := append([]string{"-q", "--retries", "0", "-f", "jsonl", "-o", filepath.Join(dir, name+".out"),
					"--db", db, "--new-run", "--resolve", "docs.sim:" + port + ":127.0.0.1", "-i", list}, tt.flags...)
				if code, _, errOut := runCLI(t, "", args...); code != ExitOK && code != ExitFailures {
					t.Fatalf("run %s: exit %d: %s", name, code, errOut)
				}
			}
			run("a.txt", tt.a, false)
			run("b.txt", tt.b, true)
			code, out, errOut := runCLI(t, "", "diff", "--db", db, "1", "2")
			if code != tt.code {
				t.Errorf("diff: exit %d, want %d: %s%s", code, tt.code, out, errOut)
			}
			if !strings.Contains(errOut, tt.summary) || !strings.Contains(errOut, tt.onlyText) {
				t.Errorf("diff summary %q, want %q ... %q", errOut, tt.summary, tt.onlyText)
			}
			var worse []string
			for line := range strings.SplitSeq(strings.TrimSpace(out), "\n") {
				if f := strings.Fields(line); len(f) > 0 && f[0] == "worse" {
					worse = append(worse, f[len(f)-1])
				}
			}
			if fmt.Sprint(worse) != fmt.Sprint(tt.worse) {
				t.Errorf("worse changes for %q, want %q:\n%s", worse, tt.worse, out)
			}
		})
	}
}

// TestRunSelectors: diff, show and report take last~N, the Nth run before
// the last (a deploy pipeline's "fanout diff last~1 last"), and a
// selector past the oldest run is a usage error that says how far back
// the runs go.
func TestRunSelectors(t *testing.T) {
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 3 { // the third run: worse than the second
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	defer srv.Close()
	dir := t.TempDir()
	db := filepath.Join(dir, "runs.db")
	for i := range 3 {
		args := []string{"-q", "--retries", "0", "-f", "jsonl", "-o", filepath.Join(dir, fmt.Sprint(i)), "--db", db, "--new-run", srv.URL + "/x"}
		if code, _, errOut := runCLI(t, "", args...); code != ExitOK && code != ExitFailures {
			t.Fatalf("run %d: exit %d: %s", i+1, code, errOut)
		}
	}
	tests := []struct {
		args    []string
		code    int
		errText string // in stderr
	}{
		{[]string{"diff", "last~1", "last"}, ExitFailures, "run 2 -> run 3: 1 target compared: 1 worse"},
		{[]string{"diff", "last~2", "last~1"}, ExitOK, "run 1 -> run 2: 1 target compared: 0 worse"},
		{[]string{"diff", "1", "last~0"}, ExitFailures, "run 1 -> run 3:"},
		{[]string{"diff", "last~3", "last"}, ExitUsage, `run "last~3": the database holds 3 runs, so the oldest is last~2`},
		{[]string{"diff", "last~one", "last"}, ExitUsage, "want last~N with N a whole number"},
		{[]string{"show", "-f", "jsonl", "last~2"}, ExitOK, ""},
		{[]string{"report", "-o", filepath.Join(dir, "r.html"), "last~1"}, ExitOK, ""},
		{[]string{"resume", "last~9"}, ExitUsage, "the oldest is last~2"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			args := append([]string{tt.args[0], "--db", db}, tt.args[1:]...)
			code, _, errOut := runCLI(t, "", args...)
			if code != tt.code || !strings.Contains(errOut, tt.errText) {
				t.Errorf("exit %d, want %d; stderr %q, want %q in it", code, tt.code, errOut, tt.errText)
			}
		})
	}
}
