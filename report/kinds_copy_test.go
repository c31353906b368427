package report

import (
	"slices"
	"testing"

	"github.com/fanout/fanout/fetch"
)

// TestKindsChangedByCaller: fetch.Kinds is an exported slice; the report
// indexed its counts by it, so a caller that sorted or changed it moved
// every count to another kind's name. Not parallel: it changes fetch's
// package state, and parallel tests run only after it has put it back.
func TestKindsChangedByCaller(t *testing.T) {
	saved := slices.Clone(fetch.Kinds)
	t.Cleanup(func() { copy(fetch.Kinds, saved) })
	slices.Reverse(fetch.Kinds)
	fetch.Kinds[0] = "changed"

	rep := build(t, Options{}, withErr(res("https://a.example/", 0, 1), fetch.KindDNS, "no such host"))
	got := map[string]int64{}
	for _, k := range rep.Kinds {
		got[k.Label] = k.N
	}
	if got["dns"] != 1 || len(rep.Kinds) != len(saved) || rep.Kinds[0].Label != string(fetch.KindInvalidURL) {
		t.Errorf("kinds = %v (first %q), want dns at 1, every kind, invalid_url first", got, rep.Kinds[0].Label)
	}
	if len(rep.Errors) != 1 || rep.Errors[0].Kind != fetch.KindDNS {
		t.Errorf("error groups = %+v, want one, of kind dns", rep.Errors)
	}
}
