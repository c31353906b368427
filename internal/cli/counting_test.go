package cli

import (
	"strings"
	"testing"

	"github.com/fanout/fanout/input"
)

// TestReadThrough: the summary's "not read" line names the line of the
// last target with a result, which is the last read, or the one before
// it when the engine abandoned the last (a Next that returned after the
// run ended).
func TestReadThrough(t *testing.T) {
	src := &countingSource{r: input.NewReader(input.Options{}, input.Source{Name: "f", R: strings.NewReader("a.example\n\nb.example\nc.example\n")})}
	if _, ok := src.readThrough(0); ok {
		t.Error("a position before any target was read")
	}
	for range 3 {
		if _, err := src.Next(); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		seq  uint64
		line int
		ok   bool
	}{{2, 4, true}, {1, 3, true}, {0, 0, false}} {
		at, ok := src.readThrough(c.seq)
		if ok != c.ok || at.line != c.line || ok && at.src != 0 {
			t.Errorf("readThrough(%d) = %+v, %v; want line %d, %v", c.seq, at, ok, c.line, c.ok)
		}
	}
	if src.eof.Load() {
		t.Error("eof before the end")
	}
	if _, err := src.Next(); err == nil || !src.eof.Load() {
		t.Errorf("Next at the end = %v, eof %v", err, src.eof.Load())
	}
}

// TestNotRead: after an interrupt in the first of several inputs, the
// summary names the rest of it and every input after it.
func TestNotRead(t *testing.T) {
	srcs := []input.Source{{Name: "arguments"}, {Name: "a.txt"}, {Name: "b.txt"}}
	for _, c := range []struct {
		at   readAt
		want string
	}{
		{readAt{src: 2, line: 7}, "the input after line 7 of b.txt"},
		{readAt{src: 1, line: 3}, "the input after line 3 of a.txt, and b.txt"},
		{readAt{src: 0, line: 1}, "the input after line 1 of arguments, and a.txt, and b.txt"},
	} {
		if got := notRead(c.at, srcs); got != c.want {
			t.Errorf("notRead(%+v) = %q, want %q", c.at, got, c.want)
		}
	}
}
