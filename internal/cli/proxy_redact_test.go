package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRecordedProxyPasswordNotShown: a run recorded with --proxy
// user:password shows the proxy without its password in runs (text and
// jsonl) and in report, while the database keeps it for resume. The
// target is not an http(s) URL, so nothing is fetched.
func TestRecordedProxyPasswordNotShown(t *testing.T) {
	for _, c := range []struct{ name, proxy string }{
		{"http", "http://alice:s3cret@127.0.0.1:1"},
		{"socks5", "socks5://bob:s3cret@127.0.0.1:1"},
		{"https escaped", "https://carol:s3cret%21@[::1]:1"},
	} {
		proxy := c.proxy
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			dbName := filepath.Join(dir, "runs.db")
			if code, _, stderr := runCLI(t, "", "--db", dbName, "-q", "-f", "jsonl", "-o", filepath.Join(dir, "out.jsonl"),
				"--proxy", proxy, "ftp://example.invalid/"); code != ExitFailures {
				t.Fatalf("run: exit %d, stderr %q", code, stderr)
			}
			for name, out := range shownRun(t, dir, dbName) {
				if strings.Contains(out, "s3cret") {
					t.Errorf("%s shows the proxy password: %s", name, out)
				}
				if !strings.Contains(out, ":xxxxx@") {
					t.Errorf("%s does not show the redacted proxy: %s", name, out)
				}
			}
		})
	}
}

// shownRun returns what people are shown of the last run in database
// dbName: the HTML report (written into dir), and runs in text and in
// JSON Lines, by name.
func shownRun(t *testing.T, dir, dbName string) map[string]string {
	t.Helper()
	page := filepath.Join(dir, "run.html")
	if code, _, stderr := runCLI(t, "", "report", "last", "--db", dbName, "-o", page); code != ExitOK {
		t.Fatalf("report: exit %d, stderr %q", code, stderr)
	}
	html, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	shown := map[string]string{"report": string(html)}
	for _, c := range []struct {
		name string
		args []string
	}{
		{"runs", []string{"runs", "--db", dbName}},
		{"runs -f jsonl", []string{"runs", "--db", dbName, "-f", "jsonl"}},
	} {
		code, out, stderr := runCLI(t, "", c.args...)
		if code != ExitOK {
			t.Fatalf("%s: exit %d, stderr %q", c.name, code, stderr)
		}
		shown[c.name] = out
	}
	return shown
}
