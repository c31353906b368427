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
	"testing"
)

// judgedSite answers /moved with a 301, /missing with a 404 and anything
// else with a 200.
func judgedSite(t *testing.T) *httptest.Server {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/moved":
			http.Redirect(w, r, "/", http.StatusMovedPermanently)
		case "/missing":
			http.NotFound(w, r)
		default:
			fmt.Fprint(w, "ok")
		}
	}))
	t.Cleanup(ts.Close)
	return ts
}

// acceptedByInput reads the "accepted" of each record of a jsonl or csv
// results file, by input: "" when a record lacks it.
func acceptedByInput(t *testing.T, format string, b []byte) map[string]string {
	t.Helper()
	got := map[string]string{}
	if format == "csv" {
		rows, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
		if err != nil {
			t.Fatalf("csv: %v\n%s", err, b)
		}
		col := slices.Index(rows[0], "accepted")
		if col < 0 {
			t.Fatalf("csv header %v: no accepted column", rows[0])
		}
		for _, row := range rows[1:] {
			got[row[0]] = row[col]
		}
		return got
	}
	for line := range strings.Lines(string(b)) {
		var rec struct {
			Input    string
			Accepted *bool
		}
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("jsonl: %v\n%s", err, line)
		}
		got[rec.Input] = ""
		if rec.Accepted != nil {
			got[rec.Input] = fmt.Sprint(*rec.Accepted)
		}
	}
	return got
}

// TestAcceptedMatchesExitStatus: jsonl and csv say of each result whether
// it was accepted, as the exit status and the summary judge it, so that a
// filter on it agrees with --accept: with --no-follow --accept 200..=299 a
// 301 fails the run, and a jq filter on status >= 400 showed nothing.
// fanout show writes the same verdicts from the database.
func TestAcceptedMatchesExitStatus(t *testing.T) {
	ts := judgedSite(t)
	targets := []string{ts.URL + "/", ts.URL + "/moved", ts.URL + "/missing", "127.0.0.1:" + closedPort(t)}
	for _, c := range []struct {
		args []string
		want []string // accepted, by target
	}{
		{[]string{"--no-follow", "--accept", "200..=299"}, []string{"true", "false", "false", "false"}},
		{[]string{"--no-follow"}, []string{"true", "true", "false", "false"}},
		{[]string{"--accept", "200,404"}, []string{"true", "true", "true", "false"}},
	} {
		for _, format := range []string{"jsonl", "csv"} {
			dir := t.TempDir()
			out, db := filepath.Join(dir, "out."+format), filepath.Join(dir, "runs.db")
			args := append([]string{"-q", "--retries", "0", "-f", format, "-o", out, "--db", db}, c.args...)
			code, _, errOut := runCLI(t, "", append(args, targets...)...)
			if code != ExitFailures {
				t.Fatalf("%v: exit %d, want %d: %s", args, code, ExitFailures, errOut)
			}
			b, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			code, shown, errOut := runCLI(t, "", "show", "--db", db, "-f", format, "last")
			if code != ExitOK {
				t.Fatalf("show: exit %d: %s", code, errOut)
			}
			for what, got := range map[string]map[string]string{"run": acceptedByInput(t, format, b), "show": acceptedByInput(t, format, []byte(shown))} {
				for i, in := range targets {
					if got[in] != c.want[i] {
						t.Errorf("%s -f %s %v: %s accepted %q, want %s", what, format, c.args, in, got[in], c.want[i])
					}
				}
			}
		}
	}
}

// inputsOf returns the inputs of a results file, in its order: jsonl and
// csv by their input field, text by the URL of each line.
func inputsOf(t *testing.T, format string, b []byte) []string {
	t.Helper()
	var ins []string
	switch format {
	case "csv":
		rows, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
		if err != nil {
			t.Fatalf("csv: %v\n%s", err, b)
		}
		for _, row := range rows[1:] {
			ins = append(ins, row[0])
		}
	case "jsonl":
		for line := range strings.Lines(string(b)) {
			var rec struct{ Input string }
			if err := json.Unmarshal([]byte(line), &rec); err != nil {
				t.Fatalf("jsonl: %v\n%s", err, line)
			}
			ins = append(ins, rec.Input)
		}
	default:
		for line := range strings.Lines(string(b)) {
			f := strings.Fields(line)
			if len(f) < 4 {
				t.Fatalf("text line %q", line)
			}
			ins = append(ins, bareURL(f[3]))
		}
	}
	return ins
}

// bareURL drops the scheme and a trailing slash: text shows a bare
// host's input as the URL that answered.
func bareURL(u string) string {
	return strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(u, "https://"), "http://"), "/")
}

// TestFailedWritesOnlyNotAccepted: --failed writes only the results not
// accepted (as show --failed lists them from the database), for a CI log
// that wants the failures alone; the summary, --summary-json, --db and the
// exit status still count every result.
func TestFailedWritesOnlyNotAccepted(t *testing.T) {
	ts := judgedSite(t)
	closed := "127.0.0.1:" + closedPort(t)
	targets := []string{ts.URL + "/", ts.URL + "/moved", ts.URL + "/missing", closed, ts.URL + "/again"}
	for _, c := range []struct {
		name    string
		args    []string
		targets []string
		want    []string // inputs written, in input order (--ordered)
		exit    int
	}{
		{"failures", []string{"--no-follow", "--accept", "200..=299"}, targets, []string{ts.URL + "/moved", ts.URL + "/missing", closed}, ExitFailures},
		{"by --accept", []string{"--accept", "200,404"}, targets, []string{closed}, ExitFailures},
		{"none failed", nil, []string{ts.URL + "/", ts.URL + "/moved"}, nil, ExitOK},
	} {
		for _, format := range []string{"text", "jsonl", "csv"} {
			t.Run(c.name+"/"+format, func(t *testing.T) {
				dir := t.TempDir()
				out, db, sj := filepath.Join(dir, "out"), filepath.Join(dir, "runs.db"), filepath.Join(dir, "summary.json")
				args := append([]string{"--failed", "--ordered", "--retries", "0", "-f", format, "-o", out, "--db", db, "--summary-json", sj}, c.args...)
				code, _, errOut := runCLI(t, "", append(args, c.targets...)...)
				if code != c.exit {
					t.Fatalf("exit %d, want %d: %s", code, c.exit, errOut)
				}
				b, err := os.ReadFile(out)
				if err != nil {
					t.Fatal(err)
				}
				got := inputsOf(t, format, b)
				want := c.want
				if format == "text" {
					want = nil
					for _, in := range c.want {
						want = append(want, bareURL(in))
					}
				}
				if strings.Join(got, "\n") != strings.Join(want, "\n") {
					t.Errorf("written %q, want %q:\n%s", got, want, b)
				}
				if format == "csv" && len(c.want) == 0 && !strings.HasPrefix(string(b), "input,") {
					t.Errorf("csv with no failures lacks its header: %q", b)
				}
				if !strings.Contains(errOut, fmt.Sprintf("%d total, %d accepted, %d failed", len(c.targets), len(c.targets)-len(c.want), len(c.want))) {
					t.Errorf("the summary does not count every result:\n%s", errOut)
				}
				if sum, b := readSummaryJSON(t, sj); sum.Results != int64(len(c.targets)) || sum.Failed != int64(len(c.want)) {
					t.Errorf("summary JSON does not count every result: %s", b)
				}
				// The database records every result; show --failed
				// writes the same ones as the run did.
				for _, failed := range []bool{false, true} {
					sargs := []string{"show", "--db", db, "-f", "jsonl", "last"}
					want := c.targets
					if failed {
						sargs, want = append(sargs, "--failed"), c.want
					}
					code, shown, errOut := runCLI(t, "", sargs...)
					if code != ExitOK {
						t.Fatalf("show: exit %d: %s", code, errOut)
					}
					if got := inputsOf(t, "jsonl", []byte(shown)); strings.Join(got, "\n") != strings.Join(want, "\n") {
						t.Errorf("%v: %q, want %q", sargs, got, want)
					}
				}
			})
		}
	}
}
