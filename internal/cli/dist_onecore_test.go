package cli

import (
	"context"
	"strings"
	"testing"
)

// TestOneCoreCommands: submit, collect and nats ask for one P before they
// start; the worker and the main command, whose engines fetch in
// parallel, do not. Nothing answers on port 1, so each command fails
// fast after the point where it would have asked.
func TestOneCoreCommands(t *testing.T) {
	const nowhere = "nats://127.0.0.1:1"
	for _, tc := range []struct {
		args []string
		want int
	}{
		{[]string{"submit", "--nats", nowhere, "http://127.0.0.1:1/"}, 1},
		{[]string{"collect", "--nats", nowhere, "--run", "r"}, 1},
		{[]string{"nats", "--listen", "127.0.0.1:99999"}, 1},
		{[]string{"worker", "--nats", nowhere}, 0},
		{[]string{"status", "--nats", nowhere}, 0},
		{[]string{"--connect-timeout", "1s", "--retries", "0", "http://127.0.0.1:1/"}, 0},
	} {
		t.Run(tc.args[0], func(t *testing.T) {
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
