package cli

import (
	"path/filepath"
	"strings"
	"testing"
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
	db, err := openDB(dbName)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	run, err := runArg(db, "last")
	if err != nil {
		t.Fatal(err)
	}
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
