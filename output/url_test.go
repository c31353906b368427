package output

import (
	"bytes"
	"strings"
	"testing"

	"github.com/fanout/fanout/fetch"
)

// TestURLFormat: -f url writes each result's URL as fetched (not its
// final_url: the next tool follows redirects itself), one line per
// result and nothing else; an invalid target, which has no URL, gives its
// input, escaped like the text format's.
func TestURLFormat(t *testing.T) {
	t.Parallel()
	rs := append(sampleResults(),
		&fetch.Result{Input: "bad\x1b[2J\rline", Error: &fetch.Error{Kind: fetch.KindInvalidURL, Message: "m"}})
	var b bytes.Buffer
	enc, err := NewEncoder("url", &b, EncoderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		if err := enc.Encode(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := enc.Flush(); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"https://example.com/",
		"http://go.dev", // final_url https://go.dev/
		"https://example.com/missing",
		"https://down.example/",
		"https://nxdomain.invalid/",
		"ht!tp://bad", // invalid: its input
		"https://evil.example/",
		"http://moved.example/",
		"https://gz.example/",
	}
	want = append(want, `bad\x1b[2J\rline`)
	if got := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n"); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("url format:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
