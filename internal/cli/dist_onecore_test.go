package cli

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nats-io/nats-server/v2/server"
)

// TestOneCoreCommands: submit, collect and nats ask for one P once
// connected; the same commands hosting the embedded server, collect --db
// (its store writer runs beside it), the worker and the main command
// (their engines fetch in parallel) do not.
func TestOneCoreCommands(t *testing.T) {
	url := startSecureNATS(t, func(*server.Options) {})
	const nowhere = "nats://127.0.0.1:1" // nothing answers: fails at connect
	embedded := []string{"--nats", "embedded", "--nats-listen", "127.0.0.1:" + closedPort(t),
		"--nats-store", filepath.Join(t.TempDir(), "js")}
	for _, tc := range []struct {
		name string
		args []string
		want int
	}{
		{"submit", []string{"submit", "--nats", url, "--run", "r", "http://127.0.0.1:1/"}, 1},
		{"collect", []string{"collect", "--nats", url, "--run", "r"}, 1},
		{"nats", []string{"nats", "--listen", "127.0.0.1:99999"}, 1},
		{"submit hosting the server", append([]string{"submit", "--run", "e", "http://127.0.0.1:1/"}, embedded...), 0},
		{"collect hosting the server", append([]string{"collect", "--run", "e"}, embedded...), 0},
		{"collect --db", []string{"collect", "--nats", url, "--run", "r", "--db", filepath.Join(t.TempDir(), "r.db")}, 0},
		{"worker", []string{"worker", "--nats", nowhere}, 0},
		{"status", []string{"status", "--nats", url}, 0},
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
