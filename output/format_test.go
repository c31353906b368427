package output

import (
	"strings"
	"testing"

	"github.com/fanout/fanout/fetch"
)

// TestParseFormat: a format is named in any case, and "json" (each result
// is a JSON object on its own line, not one JSON document) points at jsonl.
func TestParseFormat(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in, want, err string
	}{
		{"jsonl", "jsonl", ""},
		{"JSONL", "jsonl", ""},
		{"Csv", "csv", ""},
		{"TEXT", "text", ""},
		{"url", "url", ""},
		{"json", "", `unknown output format "json": did you mean jsonl? (one JSON object per line)`},
		{"NDJSON", "", `unknown output format "NDJSON": did you mean jsonl?`},
		{"xml", "", `unknown output format "xml" (choose text, jsonl, csv, url)`},
		{"", "", `unknown output format "" (choose text, jsonl, csv, url)`},
	} {
		got, err := ParseFormat(tc.in)
		if got != tc.want || (err == nil) != (tc.err == "") || err != nil && !strings.Contains(err.Error(), tc.err) {
			t.Errorf("ParseFormat(%q) = %q, %v; want %q, %q", tc.in, got, err, tc.want, tc.err)
		}
		_, encErr := NewEncoder(tc.in, new(strings.Builder), EncoderOptions{})
		if (encErr == nil) != (tc.err == "") {
			t.Errorf("NewEncoder(%q): %v, want the error %q", tc.in, encErr, tc.err)
		}
	}
	if got := encodeAll(t, "JSONL", EncoderOptions{}, []*fetch.Result{{Input: "a", Status: 200}}); !strings.HasPrefix(got, `{"input":"a"`) {
		t.Errorf("JSONL encoder wrote %q, want a JSON line", got)
	}
}
