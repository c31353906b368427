package output

import (
	"slices"
	"strings"
	"testing"

	"github.com/fanout/fanout/fetch"
)

// TestExportedListsAreCopies: CSVHeader and Formats are exported slices a
// caller may change; the csv encoder wrote CSVHeader itself, so a caller
// appending to it changed every encoder's header, and the width of every
// row after it. Not parallel: it changes package state, and parallel tests
// run only after it has put it back.
func TestExportedListsAreCopies(t *testing.T) {
	rs := []*fetch.Result{{Input: "a", URL: "http://a/", Status: 200}}
	want := encodeAll(t, "csv", EncoderOptions{}, rs)
	header, formats := slices.Clone(CSVHeader), slices.Clone(Formats)
	t.Cleanup(func() { CSVHeader, Formats = header, formats })

	CSVHeader[0] = "changed"
	CSVHeader = append(CSVHeader, "extra")
	Formats[0], Formats[1] = "bogus", "other"
	if got := encodeAll(t, "csv", EncoderOptions{}, rs); got != want {
		t.Errorf("csv after changing CSVHeader:\n%s\nwant\n%s", got, want)
	}
	_, err := NewEncoder("nope", new(strings.Builder), EncoderOptions{})
	if err == nil || !strings.Contains(err.Error(), "text, jsonl, csv, url") {
		t.Errorf("NewEncoder(nope) after changing Formats: %v, want the real formats listed", err)
	}
}
