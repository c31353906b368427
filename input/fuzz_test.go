package input

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/fanout/fanout/fetch"
)

// Seed corpora live in testdata/fuzz/<FuzzName>/; run with e.g.
//
//	go test -run '^$' -fuzz '^FuzzParse$' -fuzztime 60s ./input/

// FuzzParse checks Parse's invariants: it never panics, a valid target's URL
// is an http or https URL without spaces or control characters that reads
// back unchanged through Parse and net/url, and it has a HostKey.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"https://example.com", "example.com:8443/x?y#z", "[::1]:80", "ftp://x",
		"HTTP://USER:PW@EXAMPLE.COM:80/a%2Fb", "bücher.example", "http://1.2.3.4:65535",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		got := Parse(line)
		if got.Input != line {
			t.Fatalf("Parse(%q).Input = %q", line, got.Input)
		}
		if got.Invalid == "" && got.URL == "" {
			t.Fatalf("Parse(%q): neither valid nor invalid: %+v", line, got)
		}
		checkValid(t, got)
	})
}

// FuzzReader checks the Reader against Count and Parse on arbitrary input:
// every target is accounted for, Seq runs without gaps, reading a byte at a
// time changes nothing, each line's target is what Parse makes of it, and
// dedupe only removes repeats.
func FuzzReader(f *testing.F) {
	for _, s := range []string{
		"a.example\n\n# c\r\nhttps://b.example/x\n",
		"\ufeffa\r\na\r\nftp://x\nftp://x",
		"x y\n  \t\n#\n" + strings.Repeat("z", 9000) + "\nq\n",
		"a\nb\rc\r\n\rd\r",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		all := collect(t, NewReader(Options{}, Source{Name: "fuzz", R: bytes.NewReader(data)}))
		slow := collect(t, NewReader(Options{}, Source{Name: "fuzz", R: iotest.OneByteReader(bytes.NewReader(data))}))
		if len(all) != len(slow) {
			t.Fatalf("%d targets read whole, %d a byte at a time", len(all), len(slow))
		}
		n, err := Count(bytes.NewReader(data))
		if err != nil || n != int64(len(all)) {
			t.Fatalf("Count = %d, %v; Reader yielded %d", n, err, len(all))
		}
		type key struct {
			url  string
			bare bool
		}
		seen := map[key]bool{}
		for i, tg := range all {
			if tg != slow[i] {
				t.Fatalf("target %d: %+v whole, %+v a byte at a time", i, tg, slow[i])
			}
			if tg.Seq != uint64(i) {
				t.Fatalf("target %d has Seq %d", i, tg.Seq)
			}
			in := tg.Input
			if in == "" || strings.TrimSpace(in) != in || in[0] == '#' || strings.Contains(in, "\n") {
				t.Fatalf("target %d: Input %q is not a trimmed target line", i, in)
			}
			if strings.Contains(in, "\r") { // a CR, alone or before an LF, ends a line
				t.Fatalf("target %d: Input %q holds a CR", i, in)
			}
			if tg.Invalid != reasonTooLong {
				want := Parse(in)
				want.Seq = tg.Seq
				if tg != want {
					t.Fatalf("target %d: reader %+v, Parse %+v", i, tg, want)
				}
			}
			if tg.Invalid == "" {
				seen[key{tg.URL, tg.Bare}] = true
			}
		}

		r := NewReader(Options{Dedupe: true}, Source{Name: "fuzz", R: bytes.NewReader(data)})
		uniq := collect(t, r)
		if uint64(len(uniq))+r.Duplicates() != uint64(len(all)) {
			t.Fatalf("dedupe: %d yielded + %d duplicates != %d targets", len(uniq), r.Duplicates(), len(all))
		}
		valid := 0
		for _, tg := range uniq {
			if tg.Invalid == "" {
				valid++
				if !seen[key{tg.URL, tg.Bare}] {
					t.Fatalf("dedupe yielded %+v, not among the targets", tg)
				}
			}
		}
		if valid != len(seen) {
			t.Fatalf("dedupe yielded %d valid targets, want %d distinct", valid, len(seen))
		}
	})
}

// collect drains r, bounded so a reader that never ends fails the test.
func collect(t *testing.T, r *Reader) []fetch.Target {
	t.Helper()
	var out []fetch.Target
	for range 1 << 20 {
		tg, err := r.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, tg)
	}
	t.Fatal("reader did not end")
	return nil
}
