package report

import (
	"reflect"
	"testing"

	"github.com/fanout/fanout/fetch"
)

// TestZeroAggregator: `var a Aggregator` panicked at its first Add (a nil
// map); the zero value works as NewAggregator(Options{}) does.
func TestZeroAggregator(t *testing.T) {
	t.Parallel()
	var empty Aggregator
	if rep := empty.Report(RunInfo{}); rep.Total != 0 {
		t.Errorf("empty zero Aggregator: Total %d, want 0", rep.Total)
	}
	var a Aggregator
	a.Add(&fetch.Result{})
	a.Add(withErr(res("https://a.example/", 0, 5), fetch.KindDNS, "no such host"))
	got := a.Report(RunInfo{})
	want := NewAggregator(Options{})
	want.Add(&fetch.Result{})
	want.Add(withErr(res("https://a.example/", 0, 5), fetch.KindDNS, "no such host"))
	w := want.Report(RunInfo{})
	got.Generated = w.Generated
	if got.Total != 2 || !reflect.DeepEqual(got, w) {
		t.Errorf("zero Aggregator's report:\n%+v\nwant NewAggregator(Options{})'s:\n%+v", got, w)
	}
}
