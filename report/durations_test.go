package report

import (
	"bytes"
	"strings"
	"testing"
)

// TestDurationsAsSummary checks that the page prints a duration as the
// summary and the text format do (internal/humantime): 1234ms is "1.2s",
// where the page alone said "1.23s".
func TestDurationsAsSummary(t *testing.T) {
	t.Parallel()
	rep := build(t, Options{}, res("https://a.example/slow", 200, 1234), res("https://a.example/fast", 200, 8.04))
	var b bytes.Buffer
	if err := rep.WriteHTML(&b); err != nil {
		t.Fatal(err)
	}
	html := b.String()
	for _, want := range []string{"max 1.2s", ">8.0ms<"} {
		if !strings.Contains(html, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(html, "1.23s") {
		t.Errorf("page has %q: not the summary's form", "1.23s")
	}
}
