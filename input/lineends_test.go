package input

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/fanout/fanout/fetch"
)

// TestReaderCRLineEnds: a CR alone ends a line, as LF and CRLF do. Old Mac
// files and some exporters end lines so; read as LF lines, a whole such
// file was one invalid target ("control character in url"). Each line
// keeps its number (Position), reading a byte at a time or half reads
// changes nothing, Count agrees, and the source is not read past its end.
func TestReaderCRLineEnds(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", 70<<10) // over MaxLineBytes and the buffer
	cut := "!" + long[:truncLen] + "…"  // what is kept of it
	var macBig strings.Builder          // a CR file longer than the buffer
	var macBigWant []string
	for i := range 5000 {
		fmt.Fprintf(&macBig, "http://h%d.example/p\r", i)
		macBigWant = append(macBigWant, fmt.Sprintf("http://h%d.example/p@%d", i, i+1))
	}
	for _, tc := range []struct {
		name, text string
		want       []string // Input@line, invalid ones marked with "!"
	}{
		{"cr only", "http://a/\rhttp://b/\r", []string{"http://a/@1", "http://b/@2"}},
		{"cr only, no final cr", "a.example\rb.example", []string{"a.example@1", "b.example@2"}},
		{"blank and comment lines", "\r\ra.example\r# c\r  \rb.example\r", []string{"a.example@3", "b.example@6"}},
		{"mixed", "a.example\nb.example\rc.example\r\nd.example\n", []string{"a.example@1", "b.example@2", "c.example@3", "d.example@4"}},
		{"cr before crlf", "a.example\r\r\nb.example", []string{"a.example@1", "b.example@3"}},
		{"lf files, then a cr file (cat)", "a.example\nb.example\nc.example\rd.example\r", []string{"a.example@1", "b.example@2", "c.example@3", "d.example@4"}},
		{"bom", "\ufeffa.example\r\ufeffb.example\r", []string{"a.example@1", "b.example@2"}},
		{"comment after a target", "a.example  # x\rb.example\r", []string{"a.example@1", "b.example@2"}},
		{"big cr file", macBig.String(), macBigWant},
		{"cr after a long line, in the buffer", long[:9000] + "\rhttp://b/\r", []string{cut + "@1", "http://b/@2"}},
		{"cr after a line longer than the buffer", long + "\rhttp://b/\r", []string{cut + "@1", "http://b/@2"}},
		{"cr after a line of buffers", long + long + "\r\rhttp://b/\n", []string{cut + "@1", "http://b/@3"}},
		{"crlf cut by the buffer's end", strings.Repeat("y", bufSize-1) + "\r\nhttp://b/", []string{"!" + strings.Repeat("y", truncLen) + "…@1", "http://b/@2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for _, how := range []string{"whole", "one byte", "half"} {
				var rd io.Reader = strings.NewReader(tc.text)
				switch how {
				case "one byte":
					rd = iotest.OneByteReader(rd)
				case "half":
					rd = iotest.HalfReader(rd)
				}
				r := NewReader(Options{}, Source{Name: "mac", R: &eofOnce{r: rd}})
				var got []string
				for {
					tg, err := r.Next()
					if err == io.EOF {
						break
					}
					if err != nil {
						t.Fatalf("%s: Next: %v", how, err)
					}
					if tg.Invalid != "" && tg.Invalid != reasonTooLong {
						t.Errorf("%s: %q: invalid (%s)", how, tg.Input, tg.Invalid)
					}
					_, line := r.Position()
					got = append(got, fmt.Sprintf("%s@%d", inputs([]fetch.Target{tg})[0], line))
				}
				if fmt.Sprint(got) != fmt.Sprint(tc.want) {
					t.Fatalf("%s: targets\n got  %.300q\n want %.300q", how, got, tc.want)
				}
			}
			if n, err := Count(strings.NewReader(tc.text)); n != int64(len(tc.want)) || err != nil {
				t.Errorf("Count = %d, %v; want %d", n, err, len(tc.want))
			}
		})
	}
}

// TestReaderReadErrorAfterCRLines: a read error keeps the lines read before
// it, whatever ends them; with CRs alone the lines held with the error were
// dropped, and the error said "line 0".
func TestReaderReadErrorAfterCRLines(t *testing.T) {
	t.Parallel()
	for _, sep := range []string{"\n", "\r\n", "\r"} {
		text := "http://a.example/" + sep + "http://b.example/" + sep + "http://c.exa"
		r := NewReader(Options{}, Source{Name: "s", R: &failingReader{r: strings.NewReader(text), err: errors.New("boom")}})
		got, err := readToError(r)
		if want := []string{"http://a.example/", "http://b.example/"}; fmt.Sprint(got) != fmt.Sprint(want) || err == nil ||
			!strings.Contains(err.Error(), "line 2: boom") {
			t.Errorf("lines ended by %q: targets %q, error %v; want %q and the error after line 2", sep, got, err, want)
		}
	}
}
