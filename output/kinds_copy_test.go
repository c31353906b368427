package output

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fanout/fanout/fetch"
)

// TestSummaryKindsChangedByCaller: fetch.Kinds is an exported slice, which
// fetch says the packages using it do not read; the summary listed its
// "errors" line by it, so a caller that changed an entry hid that kind's
// count there. Not parallel: it changes fetch's package state, and
// parallel tests run only after it has put it back.
func TestSummaryKindsChangedByCaller(t *testing.T) {
	saved := slices.Clone(fetch.Kinds)
	t.Cleanup(func() { copy(fetch.Kinds, saved) })
	for i := range fetch.Kinds {
		fetch.Kinds[i] = "changed"
	}
	s := NewSummary(DefaultAccept())
	s.Add(&fetch.Result{Input: "https://a.example/", Error: &fetch.Error{Kind: fetch.KindDNS, Message: "no such host"}})
	s.Add(&fetch.Result{Input: "https://b.example/", Status: 200, Error: &fetch.Error{Kind: fetch.KindMismatch, Message: "body lacks UP"}})
	var b bytes.Buffer
	if err := s.Write(&b, time.Second); err != nil {
		t.Fatal(err)
	}
	if want := "errors        dns 1  mismatch 1\n"; !strings.Contains(b.String(), want) {
		t.Errorf("summary:\n%s\nwant the line %q", b.String(), want)
	}
}
