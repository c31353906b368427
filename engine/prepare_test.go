package engine

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/fanout/fanout/fetch"
)

// TestPrepareErrorOneResult: a target whose request Options.Prepare
// refuses gets one result, of kind local, after one attempt, with retries
// allowed: the refusal would repeat, and the host is not at fault (its
// other targets, here the same host's, are not skipped).
func TestPrepareErrorOneResult(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	t.Cleanup(srv.Close)
	cfg := DefaultConfig()
	cfg.Retry.Max = 3
	cfg.Limits.MaxHostErrors = 1
	cfg.Request.Prepare = func(req *http.Request, t *fetch.Target) error {
		if req.URL.Path == "/refused" {
			return errors.New("no token")
		}
		return nil
	}
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	var targets []fetch.Target
	for i, p := range []string{"/refused", "/refused", "/ok"} {
		u := srv.URL + p
		targets = append(targets, fetch.Target{Seq: uint64(i), Input: u, URL: u, HostKey: fetch.HostKeyOf(u)})
	}
	var got []fetch.Result
	for r := range e.Start(context.Background(), SliceSource(targets)).Results() {
		got = append(got, r)
	}
	if len(got) != 3 {
		t.Fatalf("%d results, want 3", len(got))
	}
	for _, r := range got {
		want := fetch.ErrorKind("")
		if r.Input == srv.URL+"/refused" {
			want = fetch.KindLocal
		}
		if kind := errKind(r); kind != want || r.Attempts != 1 {
			t.Errorf("%s: kind %q after %d attempts, want %q after 1", r.Input, kind, r.Attempts, want)
		}
	}
	if n := hits.Load(); n != 1 {
		t.Errorf("server got %d requests, want 1 (/ok's)", n)
	}
}

func errKind(r fetch.Result) fetch.ErrorKind {
	if r.Error == nil {
		return ""
	}
	return r.Error.Kind
}
