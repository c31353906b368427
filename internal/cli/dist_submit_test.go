package cli

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/fanout/fanout/dist"
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

// TestSubmitInterrupted: Ctrl-C stops a submit reading a producer that has
// not ended (stdin from a pipe, held open), exit 130, and the run is not
// marked submitted in full: it went on reading after the first Ctrl-C, and
// when the producer died of the same Ctrl-C, took its EOF for the end of
// the list, exit 0, and refused the whole list afterwards as another input.
// Submitting the whole list again continues the run.
func TestSubmitInterrupted(t *testing.T) {
	url := startSecureNATS(t, func(*server.Options) {})
	var lines []string
	for i := range 2000 {
		lines = append(lines, fmt.Sprintf("http://127.0.0.1:9/%d", i))
	}
	all := strings.Join(lines, "\n") + "\n"
	for _, producerDies := range []bool{false, true} {
		run := fmt.Sprintf("int%v", producerDies)
		t.Run(run, func(t *testing.T) {
			pr, pw := io.Pipe()
			interrupt := make(chan struct{})
			go func() {
				io.WriteString(pw, strings.Join(lines[:700], "\n")+"\n")
				// Submit has read them, and made the run: a fixed 300 ms
				// was not always enough for that on a loaded machine.
				waitRun(t, url, run)
				close(interrupt)
				if producerDies {
					pw.Close() // EOF, after the Ctrl-C that ended the producer
				}
			}()
			defer pw.Close()
			var stderr strings.Builder
			env := Env{Stdin: pr, Stdout: new(strings.Builder), Stderr: &stderr, Interrupt: interrupt}
			done := make(chan int, 1)
			go func() {
				done <- Main(t.Context(), env, []string{"submit", "--nats", url, "--run", run, "--batch", "100"})
			}()
			select {
			case code := <-done:
				if code != ExitInterrupted || !strings.Contains(stderr.String(), "interrupted; the run is not submitted in full") {
					t.Fatalf("exit %d, want %d: %s", code, ExitInterrupted, stderr.String())
				}
			case <-time.After(20 * time.Second):
				t.Fatal("submit still reading 20 s after Ctrl-C")
			}
			key := runMeta(t, url, run).DedupeKey
			code, _, errOut := runCLI(t, all, "submit", "--nats", url, "--run", run, "--batch", "100")
			if code != ExitOK || !strings.Contains(errOut, "2000 targets queued (continued") {
				t.Errorf("submit of the whole list again: exit %d: %s", code, errOut)
			}
			// The run keeps the key its input was deduplicated with, and
			// a re-submit reads the input with it again.
			if again := runMeta(t, url, run).DedupeKey; len(key) != 32 || again != key {
				t.Errorf("dedupe key %q, after a re-submit %q: want one of 32 hex digits, kept", key, again)
			}
		})
	}
}

// TestSubmitDefaultNamesDiffer: two submits without --run in one second
// got one name, and the second was refused as another input.
func TestSubmitDefaultNamesDiffer(t *testing.T) {
	url := startSecureNATS(t, func(*server.Options) {})
	var names []string
	for i := range 2 {
		code, out, errOut := runCLI(t, fmt.Sprintf("http://127.0.0.1:9/%d\n", i), "submit", "--nats", url, "-q")
		if code != ExitOK {
			t.Fatalf("submit %d: exit %d: %s", i, code, errOut)
		}
		names = append(names, strings.TrimSpace(out))
	}
	if names[0] == names[1] || !strings.HasPrefix(names[0], "run-") {
		t.Errorf("default run names %q", names)
	}
}

// runMeta reads run's metadata from the server at url.
func runMeta(t *testing.T, url, run string) dist.Meta {
	t.Helper()
	c, err := dist.Connect(t.Context(), dist.Options{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	m, _, err := dist.LoadMeta(t.Context(), c.JS, run)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// waitRun waits until run exists on the server at url: a submit under way
// has made it. It gives up after 30 s, and the test then fails.
func waitRun(t *testing.T, url, run string) {
	c, err := dist.Connect(t.Context(), dist.Options{URL: url})
	if err != nil {
		t.Error(err)
		return
	}
	defer c.Close()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		_, _, err := dist.LoadMeta(t.Context(), c.JS, run)
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("run %s was not made within 30s: %v", run, err)
			return
		}
	}
}

// TestNATSUnreachableIsExit3: a NATS server that does not answer is an
// outage, exit 3 as for any run that could not finish, not a usage error
// (exit 2): a script must tell a typo from a server to wait for.
func TestNATSUnreachableIsExit3(t *testing.T) {
	for _, args := range [][]string{
		{"submit", "--run", "r", "http://127.0.0.1:9/"},
		{"collect", "--run", "r"},
		{"status"},
	} {
		code, _, errOut := runCLI(t, "", append(args, "--nats", "nats://127.0.0.1:1")...)
		if code != ExitIncomplete || !strings.Contains(errOut, "nothing answers there") {
			t.Errorf("%s against nothing: exit %d, want %d: %s", args[0], code, ExitIncomplete, errOut)
		}
	}
	if code, _, errOut := runCLI(t, "", "status", "--nats", "nats://127.0.0.1:1", "--tls-ca", filepath.Join(t.TempDir(), "none.pem")); code != ExitUsage {
		t.Errorf("a missing --tls-ca file: exit %d, want %d: %s", code, ExitUsage, errOut)
	}
}

// TestSubmitOfDeletedRun: a run deleted while it is being submitted
// (fanout status --delete) makes the submit say so at its next checkpoint;
// it said "another submit to this run is running".
func TestSubmitOfDeletedRun(t *testing.T) {
	url := startSecureNATS(t, func(*server.Options) {})
	pr, pw := io.Pipe()
	var stderr strings.Builder
	env := Env{Stdin: pr, Stdout: new(strings.Builder), Stderr: &stderr}
	done := make(chan int, 1)
	go func() { done <- Main(t.Context(), env, []string{"submit", "--nats", url, "--run", "del", "-q"}) }()
	line := func(i int) string { return fmt.Sprintf("http://127.0.0.1:9/%d\n", i) }
	for i := range 10 {
		io.WriteString(pw, line(i))
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if code, _, _ := runCLI(t, "", "status", "--nats", url, "--run", "del"); code == ExitOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the run did not appear within 10 s")
		}
	}
	if code, _, errOut := runCLI(t, "", "status", "--nats", url, "--run", "del", "--delete"); code != ExitOK {
		t.Fatalf("delete: exit %d: %s", code, errOut)
	}
	go func() {
		for i := 10; i < 3000; i++ { // past a checkpoint
			if _, err := io.WriteString(pw, line(i)); err != nil {
				return
			}
		}
		pw.Close()
	}()
	select {
	case code := <-done:
		if code != ExitIncomplete || !strings.Contains(stderr.String(), `run "del": was deleted while it was being submitted`) {
			t.Errorf("exit %d, want %d saying the run was deleted: %s", code, ExitIncomplete, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("submit of a deleted run still running after 30 s")
	}
	pr.Close()
}
