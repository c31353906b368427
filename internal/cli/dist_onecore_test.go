package cli

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
)

// TestOneCoreCommands: submit, collect and nats ask for one P before they
// start; collect --db, whose store writer runs beside it, the worker and
// the main command, whose engines fetch in parallel, do not. Nothing answers on port 1, so each command fails
// fast after the point where it would have asked.
func TestOneCoreCommands(t *testing.T) {
	const nowhere = "nats://127.0.0.1:1"
	for _, tc := range []struct {
		name string
		args []string
		want int
	}{
		{"submit", []string{"submit", "--nats", nowhere, "http://127.0.0.1:1/"}, 1},
		{"collect", []string{"collect", "--nats", nowhere, "--run", "r"}, 1},
		{"collect --db", []string{"collect", "--nats", nowhere, "--run", "r", "--db", filepath.Join(t.TempDir(), "r.db")}, 0},
		{"nats", []string{"nats", "--listen", "127.0.0.1:99999"}, 1},
		{"worker", []string{"worker", "--nats", nowhere}, 0},
		{"status", []string{"status", "--nats", nowhere}, 0},
		{"main", []string{"--connect-timeout", "1s", "--retries", "0", "http://127.0.0.1:1/"}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			calls := 0
			var out, errOut strings.Builder
			env := Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errOut, OneCore: func() { calls++ }}
			Main(context.Background(), env, tc.args)
			if calls != tc.want {
				t.Errorf("fanout %s: OneCore called %d times, want %d (stderr %q)", strings.Join(tc.args, " "), calls, tc.want, errOut.String())
			}
		})
	}
}
