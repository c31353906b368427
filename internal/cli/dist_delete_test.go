package cli

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// TestDeleteRunWhileServed: status --delete of a run that a worker serves
// and collect --follow follows (the walkthrough's repro): the worker with
// --run and --exit-when-done leaves the run and exits 0, saying so once;
// collect ends with exit 3 and one line saying the run was deleted, the
// results it collected still written. Both used to wait forever.
func TestDeleteRunWhileServed(t *testing.T) {
	url := startSecureNATS(t, func(*server.Options) {})
	hold := make(chan struct{})
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			select { // until the test ends, bounded all the same
			case <-hold:
			case <-r.Context().Done():
			case <-time.After(time.Minute):
			}
		}
		fmt.Fprint(w, "ok")
	}))
	defer web.Close()
	defer close(hold)
	dir := t.TempDir()
	out := filepath.Join(dir, "del.jsonl")
	// One target per message: the fast ones' results come back at once.
	code, _, errOut := runCLI(t, "", "submit", "--nats", url, "--run", "del", "-q", "--batch", "1",
		web.URL+"/a", web.URL+"/b", web.URL+"/slow")
	if code != ExitOK {
		t.Fatalf("submit: exit %d: %s", code, errOut)
	}

	type ended struct {
		code   int
		stderr string
	}
	start := func(args ...string) <-chan ended {
		done := make(chan ended, 1)
		go func() {
			var stderr syncBuffer
			env := Env{Stdin: strings.NewReader(""), Stdout: new(strings.Builder), Stderr: &stderr}
			code := Main(t.Context(), env, args)
			done <- ended{code, stderr.String()}
		}()
		return done
	}
	worker := start("worker", "--nats", url, "--run", "del", "--exit-when-done", "--id", "w1", "-c", "4")
	collect := start("collect", "--nats", url, "--run", "del", "--follow", "-f", "jsonl", "-o", out)
	lines := func() int {
		b, _ := os.ReadFile(out)
		return strings.Count(string(b), "\n")
	}
	for deadline := time.Now().Add(30 * time.Second); lines() < 2; {
		if time.Now().After(deadline) {
			t.Fatalf("collect wrote %d results in 30s, want the 2 fast ones", lines())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if code, _, errOut := runCLI(t, "", "status", "--nats", url, "--run", "del", "--delete"); code != ExitOK {
		t.Fatalf("status --delete: exit %d: %s", code, errOut)
	}

	for _, tc := range []struct {
		name   string
		done   <-chan ended
		code   int
		stderr string
	}{
		{"worker", worker, ExitOK, "run del was deleted: leaving it"},
		{"collect", collect, ExitIncomplete, "fanout collect: run del was deleted while collecting"},
	} {
		select {
		case e := <-tc.done:
			if e.code != tc.code || strings.Count(e.stderr, tc.stderr) != 1 {
				t.Errorf("%s: exit %d, stderr %q; want exit %d saying %q once", tc.name, e.code, e.stderr, tc.code, tc.stderr)
			}
			if strings.Contains(e.stderr, "not found") {
				t.Errorf("%s: stderr tells errors about the deleted run's streams: %q", tc.name, e.stderr)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("%s still running 30s after the run was deleted", tc.name)
		}
	}
	if n := lines(); n != 2 {
		t.Errorf("%s holds %d results after the run was deleted, want the 2 collected", out, n)
	}
}
