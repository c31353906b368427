package input

import (
	"fmt"
	"strings"
	"testing"
)

// TestReaderBOMs: a UTF-8 byte order mark never turns a target line into
// an invalid target, nor a blank or comment line into a target: at the
// start of the input, of a later line (files joined with cat), after
// white space, or after another mark. Count agrees with the Reader.
func TestReaderBOMs(t *testing.T) {
	t.Parallel()
	long := "https://a.example/" + strings.Repeat("a", 70<<10)
	for _, tc := range []struct {
		name, text string
		want       []string // Input, invalid ones marked with "!"
	}{
		{"at the start", "\ufeffhttp://a/\n", []string{"http://a/"}},
		{"after blank lines", "\n \n\ufeffhttp://a/\n", []string{"http://a/"}},
		{"files joined", "\ufeffhttp://a/\n\ufeffhttp://b/\r\n", []string{"http://a/", "http://b/"}},
		{"after white space", "  \ufeffhttp://a/\n\t\ufeff b.example\n", []string{"http://a/", "b.example"}},
		{"after another", "\ufeff\ufeffhttp://a/\n \ufeff \ufeff b.example\n", []string{"http://a/", "b.example"}},
		{"before a comment", " \ufeff# c\n\ufeff #d\nhttp://a/\n", []string{"http://a/"}},
		{"alone", "\ufeff\n  \ufeff \ufeff \nhttp://a/\n", []string{"http://a/"}},
		{"in a url", "http://a/\ufeff\n", []string{"http://a/\ufeff"}},
		{"before a long line", "  \ufeff" + long + "\n", []string{"!" + long[:truncLen] + "…"}},
		{"before a long blank line", "  \ufeff" + strings.Repeat(" ", 70<<10) + "\nhttp://a/", []string{"http://a/"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := readAll(t, NewReader(Options{}, src("f", tc.text)))
			if fmt.Sprint(inputs(got)) != fmt.Sprint(tc.want) {
				t.Fatalf("inputs\n got  %.300q\n want %.300q", inputs(got), tc.want)
			}
			for _, tg := range got {
				if tg.Invalid != "" && tg.Invalid != reasonTooLong {
					t.Errorf("%q: invalid (%s)", tg.Input, tg.Invalid)
				}
			}
			if n, err := Count(strings.NewReader(tc.text)); n != int64(len(tc.want)) || err != nil {
				t.Errorf("Count = %d, %v; want %d", n, err, len(tc.want))
			}
		})
	}
}
