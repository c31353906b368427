package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nats-io/nats-server/v2/server"
)

// TestSubmitToRunOfOtherInput: submit to an existing run from another
// input is a usage error that says to use a new --run name (it used to
// queue nothing and exit 0); the same input again says the run was
// submitted in full before, not "0 already queued".
func TestSubmitToRunOfOtherInput(t *testing.T) {
	url := startSecureNATS(t, func(*server.Options) {})
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// Never fetched: there is no worker.
	first := write("first.txt", "http://127.0.0.1:9/a\nhttp://127.0.0.1:9/b\n")
	other := write("other.txt", "http://127.0.0.1:9/c\nhttp://127.0.0.1:9/d\n")
	if code, _, errOut := runCLI(t, "", "submit", "--nats", url, "--run", "r2", "-i", first); code != ExitOK {
		t.Fatalf("submit: exit %d: %s", code, errOut)
	}
	for _, tc := range []struct {
		name   string
		input  string
		code   int
		stderr string
	}{
		{"other input", other, ExitUsage, `fanout submit: run "r2" was submitted from a different input: submit this one under a new --run name`},
		{"same input", first, ExitOK, "fanout submit: r2: 2 targets queued (submitted in full before, 0 published now, 0 duplicates in the input)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errOut := runCLI(t, "", "submit", "--nats", url, "--run", "r2", "-i", tc.input)
			if code != tc.code || strings.TrimSpace(errOut) != tc.stderr {
				t.Errorf("exit %d, stderr %q; want exit %d and %q", code, errOut, tc.code, tc.stderr)
			}
		})
	}
}
