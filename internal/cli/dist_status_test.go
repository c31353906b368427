package cli

import (
	"io"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nats-io/nats-server/v2/server"
)

// TestStatusDelete: status --delete says what it deleted, and refuses with
// exit 2 what it cannot delete: no --run (it used to list the runs and
// exit 0) or a run that does not exist (it used to exit 0 in silence).
func TestStatusDelete(t *testing.T) {
	url := startSecureNATS(t, func(*server.Options) {})
	// Submitted, never fetched: there is no worker.
	if code, _, errOut := runCLI(t, "", "submit", "--nats", url, "--run", "gone", "-q", "http://127.0.0.1:9/a"); code != ExitOK {
		t.Fatalf("submit: exit %d: %s", code, errOut)
	}
	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"without --run", []string{"--delete"}, ExitUsage, "--delete needs --run NAME"},
		{"no such run", []string{"--run", "nosuch", "--delete"}, ExitUsage, `run "nosuch": no such run`},
		{"a run", []string{"--run", "gone", "--delete"}, ExitOK, "deleted run gone (its targets, results and leases)"},
		{"the run once deleted", []string{"--run", "gone"}, ExitUsage, `run "gone": no such run`},
		{"deleted twice", []string{"--run", "gone", "--delete"}, ExitUsage, `run "gone": no such run`},
		// Where it looked: a user who forgot $FANOUT_NATS sees which server.
		{"not found names the server", []string{"--run", "gone"}, ExitUsage, `run "gone": no such run, on nats://127.0.0.1:`},
		{"no runs", nil, ExitOK, "fanout status: no runs, on nats://127.0.0.1:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, "", append([]string{"status", "--nats", url}, tc.args...)...)
			if code != tc.code || !strings.Contains(errOut, tc.stderr) {
				t.Errorf("exit %d, stderr %q; want exit %d saying %q", code, errOut, tc.code, tc.stderr)
			}
			if out != "" {
				t.Errorf("stdout %q, want nothing", out)
			}
			if lines := strings.Count(strings.TrimSpace(errOut), "\n") + 1; lines != 1 {
				t.Errorf("stderr has %d lines, want 1: %q", lines, errOut)
			}
		})
	}
}

// TestStatusOnEmbeddedServerSaysSo: without --nats, status and collect start
// an embedded server of their own, where the user's run is not: the error
// says so and how to name the server.
func TestStatusOnEmbeddedServerSaysSo(t *testing.T) {
	addr := "127.0.0.1:" + closedPort(t)
	store := filepath.Join(t.TempDir(), "js")
	for _, args := range [][]string{{"status", "--run", "big"}, {"collect", "--run", "big"}} {
		args = append(args, "--nats", "embedded", "--nats-listen", addr, "--nats-store", store)
		code, _, errOut := runCLI(t, "", args...)
		if code != ExitUsage || !strings.Contains(errOut, `run "big": no such run`) ||
			!strings.Contains(errOut, "on the embedded NATS server this command started (nats://"+addr+"): name the server with --nats or $FANOUT_NATS") {
			t.Errorf("%s: exit %d, stderr %q", args[0], code, errOut)
		}
	}
}

// TestStatusListsState: the list of runs says which are still being
// submitted: a run left so by a submit that died showed as any other.
func TestStatusListsState(t *testing.T) {
	url := startSecureNATS(t, func(*server.Options) {})
	if code, _, errOut := runCLI(t, "", "submit", "--nats", url, "--run", "whole", "-q", "http://127.0.0.1:9/a"); code != ExitOK {
		t.Fatalf("submit: exit %d: %s", code, errOut)
	}
	interrupt := make(chan struct{})
	pr, pw := io.Pipe()
	defer pw.Close()
	go func() {
		io.WriteString(pw, "http://127.0.0.1:9/b\n")
		// Submit has made the run (a fixed 300 ms was not always enough on
		// a loaded machine, and the run was never made).
		waitRun(t, url, "half")
		close(interrupt) // Ctrl-C before the input ends: the run stays being submitted
	}()
	env := Env{Stdin: pr, Stdout: new(strings.Builder), Stderr: new(strings.Builder), Interrupt: interrupt}
	if code := Main(t.Context(), env, []string{"submit", "--nats", url, "--run", "half"}); code != ExitInterrupted {
		t.Fatalf("interrupted submit: exit %d", code)
	}
	code, out, errOut := runCLI(t, "", "status", "--nats", url)
	if code != ExitOK {
		t.Fatalf("status: exit %d: %s", code, errOut)
	}
	for _, want := range []string{"\tsubmitting\n", "whole\t1 targets\t"} {
		if !strings.Contains(out, want) {
			t.Errorf("status lists %q, want %q in it", out, want)
		}
	}
	if !strings.Contains(out, "\tsubmitted\n") {
		t.Errorf("status lists %q, want the whole run submitted", out)
	}
}

// TestDistHelpListsFlagsAlike: the distributed commands list their flags
// in the order they are declared, the NATS connection's first, alike in
// each; status alone sorted them by name, which scattered --nats, --creds
// and --tls-ca among its own.
func TestDistHelpListsFlagsAlike(t *testing.T) {
	flagsOf := func(cmd string) []string {
		t.Helper()
		code, out, errOut := runCLI(t, "", cmd, "--help")
		if code != ExitOK {
			t.Fatalf("%s --help: exit %d: %s", cmd, code, errOut)
		}
		_, list, _ := strings.Cut(out, "\nFlags:\n")
		var names []string
		for _, l := range strings.Split(list, "\n") {
			if _, after, ok := strings.Cut(l, "--"); ok {
				name, _, _ := strings.Cut(after, " ")
				names = append(names, name)
			}
		}
		return names
	}
	want := flagsOf("submit")[:8] // the NATS connection's
	if want[0] != "nats" {
		t.Fatalf("submit --help lists %v first, want --nats", want)
	}
	for _, cmd := range []string{"worker", "collect", "status"} {
		got := flagsOf(cmd)
		if len(got) < len(want) || !slices.Equal(got[:len(want)], want) {
			t.Errorf("%s --help lists %v, want it to start with %v as submit's does", cmd, got, want)
		}
	}
}
