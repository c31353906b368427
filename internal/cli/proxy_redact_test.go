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
			page := filepath.Join(dir, "run.html")
			code, _, stderr := runCLI(t, "", "report", "last", "--db", dbName, "-o", page)
			if code != ExitOK {
				t.Fatalf("report: exit %d, stderr %q", code, stderr)
			}
			html, err := os.ReadFile(page)
			if err != nil {
				t.Fatal(err)
			}
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
				if strings.Contains(out, "s3cret") {
					t.Errorf("%s shows the proxy password: %s", c.name, out)
				}
				if !strings.Contains(out, ":xxxxx@") {
					t.Errorf("%s does not show the redacted proxy: %s", c.name, out)
				}
			}
			if strings.Contains(string(html), "s3cret") {
				t.Errorf("report shows the proxy password")
			}
			if !strings.Contains(string(html), ":xxxxx@") {
				t.Errorf("report does not show the redacted proxy")
			}
		})
	}
}
