package engine

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/fanout/fanout/fetch"
	"github.com/fanout/fanout/input"
)

// TestTargetsOneResultPerElement: a slice given through input.Targets gets
// one result per element, which its Seq maps back to: blank, comment-like,
// padded and repeated elements included (a Reader over input.Args skips
// the first two and dedupes nothing only when told, so its Seqs are not
// the slice's indexes).
func TestTargetsOneResultPerElement(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("<title>" + r.URL.Path + "</title>"))
	}))
	defer srv.Close()
	urls := []string{srv.URL + "/a", "", "  " + srv.URL + "/b  ", "#c", srv.URL + "/a", "a\nb"}
	e, err := New(DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	got := make([]*fetch.Result, len(urls))
	run := e.Start(context.Background(), SliceSource(input.Targets(urls)))
	for r := range run.Results() {
		if r.Seq >= uint64(len(urls)) || got[r.Seq] != nil {
			t.Fatalf("result with seq %d: out of range or a second one", r.Seq)
		}
		got[r.Seq] = &r
	}
	for i, want := range []struct {
		title string // "" for an invalid element
	}{{"/a"}, {""}, {"/b"}, {""}, {"/a"}, {""}} {
		r := got[i]
		switch {
		case r == nil:
			t.Errorf("element %d (%q): no result", i, urls[i])
		case r.Input != urls[i]:
			t.Errorf("element %d: input %q, want the element %q", i, r.Input, urls[i])
		case want.title != "" && (r.Error != nil || r.Title != want.title):
			t.Errorf("element %d (%q): title %q error %v, want %q", i, urls[i], r.Title, r.Error, want.title)
		case want.title == "" && (r.Error == nil || r.Error.Kind != fetch.KindInvalidURL):
			t.Errorf("element %d (%q): error %v, want invalid_url", i, urls[i], r.Error)
		}
	}
}
