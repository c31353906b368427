package cli

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/fanout/fanout/fetch"
)

// TestMatchFlag: a health endpoint that answers 200 with
// {"status":"DOWN"} counted as healthy. With --match the body must hold
// the string: one that lacks it is a mismatch with its 200 kept, not
// accepted (exit 1), tried once (another attempt gets the same body) and
// no sign that its host is down (--max-host-errors skips nothing). A 404
// is outside --accept, its body is not searched: it stays a plain 404.
func TestMatchFlag(t *testing.T) {
	t.Parallel()
	var down atomic.Int64
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/up":
			fmt.Fprint(w, `{"status":"UP"}`)
		case "/down":
			down.Add(1)
			fmt.Fprint(w, `{"status":"DOWN"}`)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(ts.Close)
	const downs = 3
	args := []string{"-q", "-f", "jsonl", "--per-host", "1", "--retries", "2", "--max-host-errors", "1", "--match", `"status":"UP"`}
	for i := range downs {
		args = append(args, fmt.Sprintf("%s/down?%d", ts.URL, i))
	}
	args = append(args, ts.URL+"/up", ts.URL+"/404")
	code, out, errOut := runCLI(t, "", args...)
	if code != ExitFailures {
		t.Errorf("exit %d, want %d: %s", code, ExitFailures, errOut)
	}
	type line struct {
		Input    string
		Status   int
		Error    *fetch.Error
		Attempts int
		Accepted bool
	}
	var n int
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var l line
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("bad JSON line %q: %v", sc.Text(), err)
		}
		n++
		kind := fetch.ErrorKind("")
		if l.Error != nil {
			kind = l.Error.Kind
		}
		switch {
		case strings.Contains(l.Input, "/down"):
			if l.Status != 200 || kind != fetch.KindMismatch || l.Accepted || l.Attempts != 1 ||
				l.Error.Message != `body lacks "status":"UP"` {
				t.Errorf("%s: %+v (error %+v), want 200, one attempt, not accepted, mismatch naming the string", l.Input, l, l.Error)
			}
		case strings.HasSuffix(l.Input, "/up"):
			if l.Status != 200 || kind != "" || !l.Accepted {
				t.Errorf("%s: %+v (error %+v), want 200 accepted", l.Input, l, l.Error)
			}
		default:
			if l.Status != 404 || kind != "" || l.Accepted {
				t.Errorf("%s: %+v (error %+v), want a plain 404, not accepted", l.Input, l, l.Error)
			}
		}
	}
	if n != downs+2 {
		t.Errorf("%d results, want %d: %s", n, downs+2, out)
	}
	if got := down.Load(); got != downs {
		t.Errorf("%d requests for the %d mismatching targets, want one each", got, downs)
	}
}

// TestMatchWithHeadRefused: a HEAD response has no body to search, so
// --match with -X HEAD could only fail every target; it is a usage error,
// from the main command and from a worker, before anything is fetched or
// any connection made (nothing listens on port 1). A worker's --accept,
// which says which bodies its --match searches, is checked too.
func TestMatchWithHeadRefused(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--match", "UP", "-X", "HEAD", "http://127.0.0.1:1/"}, "--match is for a body, and a HEAD request gets none"},
		{[]string{"--match", "", "http://127.0.0.1:1/"}, "--match has an empty string"},
		{[]string{"worker", "--nats", "nats://127.0.0.1:1", "--exit-when-done", "--match", "UP", "-X", "head"}, "--match is for a body, and a HEAD request gets none"},
		{[]string{"worker", "--nats", "nats://127.0.0.1:1", "--exit-when-done", "--match", "UP", "--accept", "2xx"}, `--accept: bad range "2xx"`},
	} {
		code, out, errOut := runCLI(t, "", tc.args...)
		if code != ExitUsage || !strings.Contains(errOut, tc.want) || out != "" {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want %d saying %q", tc.args, code, out, errOut, ExitUsage, tc.want)
		}
	}
}
