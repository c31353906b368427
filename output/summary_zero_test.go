package output

import (
	"bytes"
	"testing"
	"time"

	"github.com/fanout/fanout/fetch"
)

// TestSummaryZeroValue: a Summary declared rather than made by NewSummary
// counts like NewSummary(Accept{}) (the zero Accept is the default rule)
// and writes the same report, instead of panicking on a nil map or
// histogram at the first failure or latency.
func TestSummaryZeroValue(t *testing.T) {
	t.Parallel()
	results := []*fetch.Result{
		{Status: 200, Bytes: 10, Timing: fetch.Timing{Total: 12}},
		{Status: 404, Timing: fetch.Timing{Total: 30}},
		{Error: &fetch.Error{Kind: fetch.KindRefused, Message: "refused"}, Timing: fetch.Timing{Total: 1}},
	}
	var zero Summary
	made := NewSummary(Accept{})
	for _, r := range results {
		zero.Add(r)
		made.Add(r)
	}
	if got, want := zero.Failed(), made.Failed(); got != want {
		t.Errorf("zero Summary: Failed() = %d, want %d", got, want)
	}
	if got, want := zero.Percentile(50), made.Percentile(50); got != want {
		t.Errorf("zero Summary: Percentile(50) = %v, want %v", got, want)
	}
	var got, want bytes.Buffer
	if err := zero.Write(&got, time.Second); err != nil {
		t.Fatal(err)
	}
	if err := made.Write(&want, time.Second); err != nil {
		t.Fatal(err)
	}
	if got.String() != want.String() {
		t.Errorf("zero Summary wrote\n%s\nwant\n%s", got.String(), want.String())
	}
	// Empty, it writes too.
	var empty Summary
	if err := empty.Write(&bytes.Buffer{}, time.Second); err != nil {
		t.Fatal(err)
	}
	if d := empty.Percentile(99); d != 0 {
		t.Errorf("empty zero Summary: Percentile(99) = %v, want 0", d)
	}
}
