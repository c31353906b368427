package fetch

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
)

// authLog is a loopback server that records the Authorization of each
// request by path; /same redirects to its own /ok, /to redirects to the
// URL in its query.
type authLog struct {
	*sync.Mutex
	seen map[string][]string
	url  string
}

func newAuthLog(t *testing.T) authLog {
	a := authLog{Mutex: &sync.Mutex{}, seen: map[string][]string{}}
	a.url = serve(t, func(w http.ResponseWriter, r *http.Request) {
		a.Lock()
		a.seen[r.URL.Path] = append(a.seen[r.URL.Path], r.Header.Get("Authorization"))
		a.Unlock()
		switch r.URL.Path {
		case "/same":
			http.Redirect(w, r, "/ok", http.StatusFound)
		case "/to":
			http.Redirect(w, r, r.URL.Query().Get("u"), http.StatusFound)
		}
	}).URL
	return a
}

func (a authLog) got(path string) []string {
	a.Lock()
	defer a.Unlock()
	return a.seen[path]
}

// TestPrepareSetsPerHostAuthorization: one Client, a token per host set by
// Prepare; each server gets its own and no other's, a redirect back to the
// same origin carries it again, and one to another host does not.
func TestPrepareSetsPerHostAuthorization(t *testing.T) {
	t.Parallel()
	a, b, c := newAuthLog(t), newAuthLog(t), newAuthLog(t)
	tokens := map[string]string{HostKeyOf(a.url): "Bearer a", HostKeyOf(b.url): "Bearer b"} // none for c
	cl := newTestClient(t, func(o *Options) {
		o.Prepare = func(req *http.Request, t *Target) error {
			if tok, ok := tokens[t.HostKey]; ok {
				req.Header.Set("Authorization", tok)
			}
			return nil
		}
	})
	fetch := func(u string) {
		t.Helper()
		r := cl.Fetch(context.Background(), Target{URL: u, HostKey: HostKeyOf(u)})
		wantKind(t, r, "")
	}
	fetch(a.url + "/")
	fetch(b.url + "/")
	fetch(c.url + "/") // after a's and b's: what they set is theirs alone
	fetch(a.url + "/same")
	fetch(a.url + "/to?u=" + b.url + "/from-a")
	for _, tc := range []struct {
		srv  authLog
		path string
		want []string
	}{
		{a, "/", []string{"Bearer a"}},
		{b, "/", []string{"Bearer b"}},
		{c, "/", []string{""}},
		{a, "/same", []string{"Bearer a"}},
		{a, "/ok", []string{"Bearer a"}}, // the same origin: prepared again
		{a, "/to", []string{"Bearer a"}}, // the target's own request
		{b, "/from-a", []string{""}},     // another host: a's token stays home
	} {
		if got := tc.srv.got(tc.path); len(got) != len(tc.want) || len(got) > 0 && got[0] != tc.want[0] {
			t.Errorf("%s%s got Authorization %q, want %q", tc.srv.url, tc.path, got, tc.want)
		}
	}
}

// TestPrepareErrorSendsNothing: an error from Prepare ends the target with
// kind local, Permanent (so the engine does not retry it), before any
// request; a bare host does not fall back to http after it.
func TestPrepareErrorSendsNothing(t *testing.T) {
	t.Parallel()
	var hits, calls atomic.Int32
	ts := serve(t, func(w http.ResponseWriter, r *http.Request) { hits.Add(1) })
	cl := newTestClient(t, func(o *Options) {
		o.Prepare = func(*http.Request, *Target) error {
			calls.Add(1)
			return errors.New("no token for this host")
		}
	})
	for _, tg := range []Target{
		{URL: ts.URL + "/", HostKey: HostKeyOf(ts.URL)},
		{URL: "https://" + ts.Listener.Addr().String() + "/", HostKey: HostKeyOf(ts.URL), Bare: true},
	} {
		calls.Store(0)
		r := cl.Fetch(context.Background(), tg)
		wantKind(t, r, KindLocal)
		if !r.Error.Permanent || r.Status != 0 || r.FinalURL != "" || r.Error.Message != "not sent: Options.Prepare: no token for this host" {
			t.Errorf("%s: result %+v, error %+v; want no status, no final URL, a permanent error naming Prepare", tg.URL, r, r.Error)
		}
		if n := calls.Load(); n != 1 {
			t.Errorf("%s: Prepare called %d times, want 1", tg.URL, n)
		}
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("server got %d requests, want none", n)
	}
}
