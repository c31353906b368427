package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fanout/fanout/store"
)

// TestRecordedSecretHeadersNotShown: a run recorded with -H headers that
// carry credentials (Authorization, Cookie, an API key or token) shows
// them without their values in runs (text and jsonl) and in report, as it
// does a --proxy password, while other headers are shown whole and the
// database keeps them all for resume. The target is not an http(s) URL, so
// nothing is fetched.
func TestRecordedSecretHeadersNotShown(t *testing.T) {
	dir := t.TempDir()
	dbName := filepath.Join(dir, "runs.db")
	secrets := []string{"Authorization: Bearer s3cret-bearer", "cookie: sid=s3cret-cookie",
		"X-Api-Key: s3cret-key", "X-Auth-Token:s3cret-token", "Proxy-Authorization: Basic s3cret-basic"}
	args := []string{"--db", dbName, "-q", "-f", "jsonl", "-o", filepath.Join(dir, "out.jsonl"),
		"-H", "Accept: text/x-plain-visible", "-H", "Authorization:"}
	for _, h := range secrets {
		args = append(args, "-H", h)
	}
	if code, _, stderr := runCLI(t, "", append(args, "ftp://example.invalid/")...); code != ExitFailures {
		t.Fatalf("run: exit %d, stderr %q", code, stderr)
	}
	for name, out := range shownRun(t, dir, dbName) {
		if strings.Contains(out, "s3cret") {
			t.Errorf("%s shows a secret header's value: %s", name, out)
		}
		if !strings.Contains(out, "xxxxx") {
			t.Errorf("%s does not show the redacted headers: %s", name, out)
		}
		if !strings.Contains(out, "text/x-plain-visible") {
			t.Errorf("%s does not show the Accept header whole: %s", name, out)
		}
	}
	// The database keeps the values: resume sends the same headers.
	run := lastRun(t, dbName)
	if got := strings.Join(run.Command, " "); !strings.Contains(got, "Bearer s3cret-bearer") {
		t.Errorf("the recorded command lost the Authorization value: %s", got)
	}
}

// TestRedactHeader: the header values hidden from people are those whose
// name says they carry credentials; a header removed with "Name:" keeps
// its form.
func TestRedactHeader(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"Authorization: Bearer abc", "Authorization: xxxxx"},
		{"authorization:abc", "authorization: xxxxx"},
		{"Cookie: a=b; c=d", "Cookie: xxxxx"},
		{"X-API-Key: k", "X-API-Key: xxxxx"},
		{"X-Vault-Token: t", "X-Vault-Token: xxxxx"},
		{"X-Client-Secret: s", "X-Client-Secret: xxxxx"},
		{"Authorization:", "Authorization:"},
		{"Accept: application/json", "Accept: application/json"},
		{"Content-Type: text/plain", "Content-Type: text/plain"},
		{"Keep-Alive: timeout=5", "Keep-Alive: timeout=5"},
	} {
		if got := redactHeader(c.in); got != c.want {
			t.Errorf("redactHeader(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// TestRecordedBodyAndTargetCredentialsNotShown: a -d body (a form's
// password, a token) and the credentials in a target URL's user info are
// shown as xxxxx by runs and report, while the database keeps them for
// resume; a body read from @FILE shows the file's name. The targets are
// not http(s) URLs, so nothing is fetched.
func TestRecordedBodyAndTargetCredentialsNotShown(t *testing.T) {
	for _, c := range []struct {
		name, data string
		shown      []string
	}{
		{"inline body", "user=alice&password=s3cret-form", []string{"--data=xxxxx", "ftp://alice:xxxxx@", "ftp://xxxxx@b.example.invalid/"}},
		{"body from a file", "@" + filepath.Join(t.TempDir(), "body-s3cret.txt"), nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			dbName := filepath.Join(dir, "runs.db")
			if strings.HasPrefix(c.data, "@") {
				if err := os.WriteFile(c.data[1:], []byte("password=s3cret-file"), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			code, _, stderr := runCLI(t, "", "--db", dbName, "-q", "-f", "jsonl", "-o", filepath.Join(dir, "out.jsonl"),
				"-d", c.data, "ftp://alice:s3cret-pass@a.example.invalid/", "ftp://s3cret-token@b.example.invalid/")
			if code != ExitFailures {
				t.Fatalf("run: exit %d, stderr %q", code, stderr)
			}
			for name, out := range shownRun(t, dir, dbName) {
				for _, secret := range []string{"s3cret-form", "s3cret-pass", "s3cret-token", "s3cret-file"} {
					if strings.Contains(out, secret) {
						t.Errorf("%s shows %s: %s", name, secret, out)
					}
				}
				for _, want := range c.shown {
					if name != "report" && !strings.Contains(out, want) { // report shows flags, not targets
						t.Errorf("%s does not show %q: %s", name, want, out)
					}
				}
				if strings.HasPrefix(c.data, "@") && !strings.Contains(out, "body-s3cret.txt") {
					t.Errorf("%s does not name the body's file: %s", name, out)
				}
			}
			run := lastRun(t, dbName)
			if got := strings.Join(append(run.Command, run.Config.Args...), " "); !strings.Contains(got, c.data) || !strings.Contains(got, "s3cret-pass") {
				t.Errorf("the recorded command lost the body or a target's credentials: %s", got)
			}
		})
	}
}

// lastRun reads the last run recorded in database dbName.
func lastRun(t *testing.T, dbName string) store.Run {
	t.Helper()
	db, err := openDB(dbName)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	run, err := runArg(db, "last")
	if err != nil {
		t.Fatal(err)
	}
	return run
}
