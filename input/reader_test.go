package input

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/fanout/fanout/fetch"
)

// readAll drains r, failing the test on any error but io.EOF.
func readAll(t *testing.T, r *Reader) []fetch.Target {
	t.Helper()
	var out []fetch.Target
	for {
		tg, err := r.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("Next after %d targets: %v", len(out), err)
		}
		out = append(out, tg)
	}
}

// inputs returns the Input of each target, invalid ones marked with "!".
func inputs(ts []fetch.Target) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.Input
		if t.Invalid != "" {
			out[i] = "!" + t.Input
		}
	}
	return out
}

// readToError drains r up to its first error, io.EOF included, and
// returns the inputs read before it with the error.
func readToError(r *Reader) ([]string, error) {
	var got []string
	for {
		tg, err := r.Next()
		if err != nil {
			return got, err
		}
		got = append(got, tg.Input)
	}
}

func src(name, text string) Source { return Source{Name: name, R: strings.NewReader(text)} }

func TestReaderSourcesAndSeq(t *testing.T) {
	t.Parallel()
	r := NewReader(Options{},
		Args([]string{"a.example", "  https://b.example/  ", "# not a comment? yes, skipped"}),
		src("file1", "\ufeffc.example\r\n\r\n   \r\n# comment\r\n  #indented comment\nftp://d.example\n"),
		src("empty", ""),
		// Files joined with cat: a BOM starts a line in the middle too.
		src("file2", "\ufeffe.example\n\ufeffhttp://f.example/\n"),
		// A comment after a target, and a fragment that is none.
		src("file3", "g.example  # staging\nhttps://h.example/#top\t#\thome\nhttps://i.example/#a #b\n"),
	)
	got := readAll(t, r)
	want := []string{"a.example", "https://b.example/", "c.example", "!ftp://d.example", "e.example", "http://f.example/",
		"g.example", "https://h.example/#top", "https://i.example/#a"}
	if fmt.Sprint(inputs(got)) != fmt.Sprint(want) {
		t.Fatalf("inputs\n got  %q\n want %q", inputs(got), want)
	}
	for i, tg := range got {
		if tg.Seq != uint64(i) {
			t.Errorf("target %d (%q) has Seq %d", i, tg.Input, tg.Seq)
		}
	}
	if got[2].URL != "https://c.example/" || !got[2].Bare {
		t.Errorf("CRLF and BOM line: got %+v", got[2])
	}
	if r.Lines() != uint64(len(got)) || r.Duplicates() != 0 {
		t.Errorf("Lines() = %d, Duplicates() = %d; want %d, 0", r.Lines(), r.Duplicates(), len(got))
	}
	// The end is sticky.
	if _, err := r.Next(); err != io.EOF {
		t.Errorf("Next after the end = %v, want io.EOF", err)
	}
}

// A comment after a target leaves the target trimmed as a whole line is,
// whatever white space stood before the blank that starts the comment.
func TestReaderCommentAfterSpace(t *testing.T) {
	t.Parallel()
	got := readAll(t, NewReader(Options{}, src("f", "a.example\f #x\nb.example\u00a0 #y\nc.example\v\t#z\n")))
	want := []string{"a.example", "b.example", "c.example"}
	if fmt.Sprint(inputs(got)) != fmt.Sprint(want) {
		t.Fatalf("inputs\n got  %q\n want %q", inputs(got), want)
	}
}

func TestReaderLongLines(t *testing.T) {
	t.Parallel()
	long := func(n int) string { return "https://example.com/" + strings.Repeat("a", n) }
	text := strings.Join([]string{
		"\ufeff" + long(9000), // over the limit, inside the buffer
		"one.example",
		long(300 << 10), // several buffers long
		"two.example",
		"   " + strings.Repeat(" ", 100<<10), // blank, several buffers
		"# " + strings.Repeat("c", 100<<10),  // comment, several buffers
		strings.Repeat(" ", 70<<10) + "   tail after spaces",
		"three.example",
		long(MaxLineBytes - len(long(0))), // exactly the limit: fine
		long(MaxLineBytes - len(long(0)) + 1),
		"x" + strings.Repeat("é", 50<<10), // cut at a character boundary
		long(100 << 10),                   // last line, no newline
	}, "\n")
	for _, oneByte := range []bool{false, true} {
		var rd io.Reader = strings.NewReader(text)
		if oneByte {
			rd = iotest.OneByteReader(rd)
		}
		got := readAll(t, NewReader(Options{Dedupe: true}, Source{Name: "long", R: rd}))
		wantValid := []bool{false, true, false, true, false, true, true, false, false, false}
		if len(got) != len(wantValid) {
			t.Fatalf("oneByte=%v: got %d targets %q, want %d", oneByte, len(got), inputs(got), len(wantValid))
		}
		for i, tg := range got {
			if (tg.Invalid == "") != wantValid[i] {
				t.Errorf("target %d %.40q: Invalid %q, want valid=%v", i, tg.Input, tg.Invalid, wantValid[i])
			}
			if tg.Invalid == reasonTooLong {
				if len(tg.Input) > truncLen+len("…") || !strings.HasSuffix(tg.Input, "…") {
					t.Errorf("target %d: Input %q not cut to %d bytes + …", i, tg.Input, truncLen)
				}
				if !strings.HasPrefix(tg.Input, "https://example.com/aaa") && !strings.HasPrefix(tg.Input, "tail") && !strings.HasPrefix(tg.Input, "xéé") {
					t.Errorf("target %d: Input %q does not start the line", i, tg.Input)
				}
				if !utf8.ValidString(tg.Input) {
					t.Errorf("target %d: Input %q splits a character", i, tg.Input)
				}
			}
		}
		if got[6].URL != "https://example.com/"+strings.Repeat("a", MaxLineBytes-len(long(0))) {
			t.Errorf("line of exactly MaxLineBytes: got %+v", got[6])
		}
		if n, err := Count(strings.NewReader(text)); err != nil || n != int64(len(got)) {
			t.Errorf("Count = %d, %v; want %d", n, err, len(got))
		}
	}
}

func TestReaderDedupe(t *testing.T) {
	t.Parallel()
	text := strings.Join([]string{
		"https://example.com",
		"HTTPS://EXAMPLE.COM:443/#x", // same after normalisation
		"example.com",                // bare: not the same target
		"Example.com:443",            // same bare target
		"http://example.com",
		"ftp://x", "ftp://x", // invalid lines are never deduplicated
		"https://example.com/",
		"https://example.com/?",
	}, "\n")
	for _, tc := range []struct {
		dedupe bool
		want   []string
		dups   uint64
	}{
		{true, []string{"https://example.com", "example.com", "http://example.com", "!ftp://x", "!ftp://x", "https://example.com/?"}, 3},
		{false, strings.Split(strings.NewReplacer("ftp", "!ftp").Replace(text), "\n"), 0},
	} {
		r := NewReader(Options{Dedupe: tc.dedupe}, src("urls", text))
		got := readAll(t, r)
		if fmt.Sprint(inputs(got)) != fmt.Sprint(tc.want) {
			t.Errorf("dedupe=%v:\n got  %q\n want %q", tc.dedupe, inputs(got), tc.want)
		}
		if r.Duplicates() != tc.dups || r.Lines() != uint64(len(tc.want)) {
			t.Errorf("dedupe=%v: Duplicates() = %d, Lines() = %d; want %d, %d",
				tc.dedupe, r.Duplicates(), r.Lines(), tc.dups, len(tc.want))
		}
		for i, tg := range got {
			if tg.Seq != uint64(i) {
				t.Errorf("dedupe=%v: target %d has Seq %d", tc.dedupe, i, tg.Seq)
			}
		}
	}
}

// TestReaderDedupeKeyed: dedupe keeps a keyed hash of each URL. With an
// unkeyed one (xxhash, as it was) anyone could compute, a line could be
// crafted to collide with a chosen URL, and one line added to a list hid
// that target as a "duplicate": these two collide under xxhash's fixed
// seed (found in 1.4 s of Python by inverting its rounds). A zero key
// takes a random one; the same key numbers the same input the same way.
func TestReaderDedupeKeyed(t *testing.T) {
	t.Parallel()
	text := "http://evil.sim:41269/pTyGJMuHbErJYKWmt7I_-UuVegdxf2IodqBM1b5yCd8vbC7oxSs_Kd-6bEARCGHN4KZ4c3OoT4x=1\n" +
		"http://admin.victim.sim:41269/internal/backups/db-dump-2026-11-28.sql.gz?token=0123456789abcdef&x=1\n"
	r := NewReader(Options{Dedupe: true}, src("urls", text))
	if got := readAll(t, r); len(got) != 2 || r.Duplicates() != 0 {
		t.Errorf("two URLs whose xxhash collides: %d targets, %d duplicates; want 2 and 0", len(got), r.Duplicates())
	}
	other := NewReader(Options{Dedupe: true}, src("urls", text))
	if r.DedupeKey() == ([16]byte{}) || r.DedupeKey() == other.DedupeKey() {
		t.Errorf("zero keys gave %x and %x: want two random ones", r.DedupeKey(), other.DedupeKey())
	}
	key := [16]byte{1, 2, 3}
	if k := NewReader(Options{Dedupe: true, DedupeKey: key}).DedupeKey(); k != key {
		t.Errorf("DedupeKey() = %x, want the key given, %x", k, key)
	}
	if k := NewReader(Options{}).DedupeKey(); k != ([16]byte{}) {
		t.Errorf("without dedupe, DedupeKey() = %x", k)
	}
}

// TestReaderTargetsIndependent checks that a target's strings do not change
// when the reader goes on (they must not alias its buffers).
func TestReaderTargetsIndependent(t *testing.T) {
	t.Parallel()
	r := NewReader(Options{}, src("s", "a.example/x\nb.example:8080/y\nb.example:8080/z\nftp://c\n"))
	got := readAll(t, r)
	want := []fetch.Target{
		{Seq: 0, Input: "a.example/x", URL: "https://a.example/x", Bare: true, HostKey: "a.example:443"},
		{Seq: 1, Input: "b.example:8080/y", URL: "https://b.example:8080/y", Bare: true, HostKey: "b.example:8080"},
		{Seq: 2, Input: "b.example:8080/z", URL: "https://b.example:8080/z", Bare: true, HostKey: "b.example:8080"},
		{Seq: 3, Input: "ftp://c", Invalid: `unsupported scheme "ftp"`},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
}

// failingReader returns its text, then err.
type failingReader struct {
	r   io.Reader
	err error
}

func (f *failingReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err == io.EOF {
		return n, f.err
	}
	return n, err
}

func TestReaderError(t *testing.T) {
	t.Parallel()
	boom := errors.New("disk on fire")
	r := NewReader(Options{},
		src("first", "a.example\n"),
		Source{Name: "broken.txt", R: &failingReader{r: strings.NewReader("b.example\nc.exa"), err: boom}},
		src("never", "d.example\n"),
	)
	got, err := readToError(r)
	if fmt.Sprint(got) != "[a.example b.example]" {
		t.Errorf("targets before the error: %q", got)
	}
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), "broken.txt") {
		t.Errorf("error %v: want one wrapping %v and naming broken.txt", err, boom)
	}
	if _, again := r.Next(); again != err {
		t.Errorf("Next after an error = %v, want the same error", again)
	}
	if _, cerr := Count(&failingReader{r: strings.NewReader("x\n"), err: boom}); !errors.Is(cerr, boom) {
		t.Errorf("Count error = %v, want %v", cerr, boom)
	}
}

// countingReader counts the bytes handed out by an endless stream of lines.
type countingReader struct {
	n    int64
	line []byte
	off  int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		k := copy(p[n:], c.line[c.off:])
		n += k
		c.off = (c.off + k) % len(c.line)
	}
	c.n += int64(n)
	return n, nil
}

// TestReaderStreams proves the reader is lazy: an endless input yields
// targets after a bounded read, and reading more targets reads on steadily.
func TestReaderStreams(t *testing.T) {
	t.Parallel()
	cr := &countingReader{line: []byte("https://example.com/some/path\n")}
	r := NewReader(Options{}, Source{Name: "endless", R: cr})
	if _, err := r.Next(); err != nil {
		t.Fatal(err)
	}
	if cr.n > 2*bufSize {
		t.Errorf("one Next read %d bytes, want at most %d", cr.n, 2*bufSize)
	}
	const many = 100_000
	for range many {
		if _, err := r.Next(); err != nil {
			t.Fatal(err)
		}
	}
	if max := int64(many*len(cr.line) + 2*bufSize); cr.n > max {
		t.Errorf("%d targets read %d bytes, want at most %d", many, cr.n, max)
	}
}

func TestCount(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		text string
		want int64
	}{
		{"", 0},
		{"\ufeff", 0},
		{"a\n\n# c\n  \r\nb", 2},
		{"a\r\nb\r\n", 2},
		{"ftp://x\nx x\n", 2},
		{strings.Repeat("x", 100<<10) + "\ny", 2},
	} {
		if got, err := Count(strings.NewReader(tc.text)); got != tc.want || err != nil {
			t.Errorf("Count(%.20q) = %d, %v; want %d", tc.text, got, err, tc.want)
		}
	}
}

// eofOnce fails a Read after it has reported io.EOF, as a terminal would
// block there.
type eofOnce struct {
	r   io.Reader
	eof bool
}

func (e *eofOnce) Read(p []byte) (int, error) {
	if e.eof {
		return 0, errors.New("read after EOF")
	}
	n, err := e.r.Read(p)
	e.eof = err == io.EOF
	return n, err
}

func TestReaderStopsAtEOF(t *testing.T) {
	t.Parallel()
	for _, text := range []string{"a.example\nb.example", "a.example\n", strings.Repeat("x", 100<<10), ""} {
		r := NewReader(Options{}, Source{Name: "tty", R: &eofOnce{r: iotest.HalfReader(strings.NewReader(text))}})
		readAll(t, r)
		if _, err := r.Next(); err != io.EOF {
			t.Errorf("%.20q: Next after the end = %v, want io.EOF", text, err)
		}
	}
}

// TestReaderUTF16: a list saved as UTF-16 (Windows PowerShell 5's "> file",
// Notepad's "Unicode") is decoded when it starts with its byte order mark,
// in either byte order; read as bytes, each of its lines was an invalid
// target and its final NUL one more. Count agrees with the Reader.
func TestReaderUTF16(t *testing.T) {
	t.Parallel()
	text := "\ufeffhttp://a.example/x\r\n# comment\r\nb.example\r\nhttps://c.example/é\r\n"
	want := []string{"http://a.example/x", "b.example", "https://c.example/é"}
	for _, tc := range []struct {
		name  string
		order binary.AppendByteOrder
	}{{"little endian", binary.LittleEndian}, {"big endian", binary.BigEndian}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var b []byte
			for _, u := range utf16.Encode([]rune(text)) {
				b = tc.order.AppendUint16(b, u)
			}
			got := readAll(t, NewReader(Options{}, Source{Name: "f", R: bytes.NewReader(b)}))
			if fmt.Sprint(inputs(got)) != fmt.Sprint(want) {
				t.Fatalf("inputs\n got  %q\n want %q", inputs(got), want)
			}
			for _, tg := range got {
				if tg.Invalid != "" {
					t.Errorf("%q: invalid (%s)", tg.Input, tg.Invalid)
				}
			}
			if n, err := Count(bytes.NewReader(b)); n != int64(len(want)) || err != nil {
				t.Errorf("Count = %d, %v; want %d", n, err, len(want))
			}
		})
	}
}

// TestReaderPosition: Position gives the source and physical line of the
// last target yielded, blank, comment and duplicate lines counted.
func TestReaderPosition(t *testing.T) {
	t.Parallel()
	r := NewReader(Options{Dedupe: true},
		Args([]string{"a.example"}),
		src("list.txt", "\n# note\nb.example\na.example\n\nc.example\n"),
	)
	if _, l := r.Position(); l != 0 {
		t.Errorf("before the first target: line %d", l)
	}
	for _, want := range []struct{ src, line int }{{0, 1}, {1, 3}, {1, 6}} { // a.example on line 4 is a duplicate
		if _, err := r.Next(); err != nil {
			t.Fatal(err)
		}
		if s, l := r.Position(); s != want.src || l != want.line {
			t.Errorf("Position() = source %d line %d, want %d line %d", s, l, want.src, want.line)
		}
	}
	if _, err := r.Next(); err != io.EOF {
		t.Fatalf("Next = %v, want io.EOF", err)
	}
	if s, l := r.Position(); s != 1 || l != 6 {
		t.Errorf("after the end: source %d line %d, want the last target's", s, l)
	}
}

// A Source with no reader is the caller's slip: NewReader panics, naming
// the source, rather than Next with a nil dereference when it reaches it
// (under the engine, a run's error "the source panicked: invalid memory
// address").
func TestNewReaderNilReaderPanics(t *testing.T) {
	for _, tc := range []struct {
		name string
		srcs []Source
		want string
	}{
		{"only", []Source{{Name: "urls.txt"}}, `source 0 ("urls.txt") has a nil R`},
		{"second", []Source{Args([]string{"a.test"}), {Name: "stdin"}}, `source 1 ("stdin") has a nil R`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var p any
			func() {
				defer func() { p = recover() }()
				NewReader(Options{}, tc.srcs...)
			}()
			if msg, _ := p.(string); !strings.Contains(msg, tc.want) {
				t.Errorf("recovered %v, want a panic with %q", p, tc.want)
			}
		})
	}
}

// TestTargetKey: two lines have the same TargetKey exactly when the
// Reader's dedupe takes the second for a duplicate of the first, so that
// diff pairs the targets of two runs as dedupe tells them apart.
func TestTargetKey(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		a, b string
		same bool
	}{
		{"http://docs.sim:8080/docs/a#one", "http://docs.sim:8080/docs/a#two", true},
		{"http://docs.sim:8080/docs/b", "HTTP://DOCS.sim:8080/docs/b", true},
		{"https://example.com", "https://example.com:443/", true},
		{"https://example.com.", "https://example.com", false}, // the Host header differs
		{"example.com", "Example.COM:443", true},
		{"example.com", "https://example.com", false}, // bare: may fall back to http
		{"example.com", "http://example.com", false},
		{"https://example.com/", "https://example.com/?", false},
		{"https://example.com/a", "https://example.com/A", false},
		{"http://[::1]:80/", "http://[0:0::1]/", true},
		{"ftp://x", "ftp://x", false}, // invalid lines are never duplicates
	} {
		t.Run(tc.a+" "+tc.b, func(t *testing.T) {
			r := NewReader(Options{Dedupe: true}, src("urls", tc.a+"\n"+tc.b+"\n"))
			readAll(t, r)
			if dup := r.Duplicates() == 1; dup != tc.same {
				t.Fatalf("dedupe: duplicate = %v, want %v", dup, tc.same)
			}
			ka, oka := TargetKey(tc.a)
			kb, okb := TargetKey(tc.b)
			if same := oka && okb && ka == kb; same != tc.same {
				t.Errorf("TargetKey: %q (%v) and %q (%v): same = %v, want %v", ka, oka, kb, okb, same, tc.same)
			}
		})
	}
}
