package cli

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/fanout/fanout/fetch"
	"github.com/nats-io/nats-server/v2/server"
)

// TestWorkerMatchAndHeaders: a worker takes --match, with its --accept
// saying which statuses' bodies it searches, and --response-headers, and
// its results reach collect so: a 200 without the string is a mismatch
// with its status kept, a 404 and a 201 outside the worker's --accept
// 200 are not searched, and the headers of each response ride along.
func TestWorkerMatchAndHeaders(t *testing.T) {
	url := startSecureNATS(t, func(*server.Options) {})
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Add("Set-Cookie", "a=1")
		w.Header().Add("Set-Cookie", "b=2")
		switch r.URL.Path {
		case "/up":
			fmt.Fprint(w, `{"status":"UP"}`)
		case "/down":
			fmt.Fprint(w, `{"status":"DOWN"}`)
		case "/created":
			w.WriteHeader(http.StatusCreated)
			fmt.Fprint(w, `{"status":"DOWN"}`)
		default:
			http.NotFound(w, r)
		}
	}))
	defer web.Close()
	paths := []string{"/up", "/down", "/created", "/gone"}
	var targets []string
	for _, p := range paths {
		targets = append(targets, web.URL+p)
	}
	if code, _, errOut := runCLI(t, "", append([]string{"submit", "--nats", url, "--run", "wm", "-q"}, targets...)...); code != ExitOK {
		t.Fatalf("submit: exit %d: %s", code, errOut)
	}
	if code, _, errOut := runCLI(t, "", "worker", "--nats", url, "--run", "wm", "--exit-when-done", "-q", "-c", "1", "--retries", "0",
		"--match", `"status":"UP"`, "--accept", "200", "--response-headers"); code != ExitOK {
		t.Fatalf("worker: exit %d: %s", code, errOut)
	}
	_, out, errOut := runCLI(t, "", "collect", "--nats", url, "--run", "wm", "-f", "jsonl")
	byPath := map[string]fetch.Result{}
	for _, r := range decodeLines(t, out) {
		byPath[r.URL[len(web.URL):]] = r
	}
	for _, tc := range []struct {
		path   string
		status int
		kind   fetch.ErrorKind
	}{
		{"/up", 200, ""},
		{"/down", 200, fetch.KindMismatch},
		{"/created", 201, ""}, // outside the worker's --accept: not searched
		{"/gone", 404, ""},
	} {
		r, ok := byPath[tc.path]
		switch {
		case !ok:
			t.Errorf("%s: no result (stderr %s)", tc.path, errOut)
			continue
		case r.Status != tc.status:
			t.Errorf("%s: status %d, want %d", tc.path, r.Status, tc.status)
		case tc.kind == "" && r.Error != nil, tc.kind != "" && (r.Error == nil || r.Error.Kind != tc.kind):
			t.Errorf("%s: error %+v, want kind %q", tc.path, r.Error, tc.kind)
		}
		if got := r.Header.Values("Set-Cookie"); len(got) != 2 || got[0] != "a=1" || got[1] != "b=2" {
			t.Errorf("%s: Set-Cookie %q, want both values from the worker's --response-headers", tc.path, got)
		}
	}
}
