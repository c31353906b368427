package input

import (
	"bufio"
	"bytes"
	"io"

	"golang.org/x/text/encoding/unicode"
	"golang.org/x/text/transform"
)

const (
	// MaxLineBytes is the longest line taken as a target (without its line
	// ending). A longer one yields an invalid target and reading goes on.
	MaxLineBytes = 8 << 10
	// bufSize holds any acceptable line whole; a line that overflows it is
	// skipped a buffer at a time, so memory stays bounded whatever the input.
	bufSize = 64 << 10
	// truncLen is how much of an over-long line is kept as its Input.
	truncLen = 200
)

var bom = []byte("\xef\xbb\xbf")

// lineSplitter cuts a stream into trimmed target lines, skipping blank and
// comment lines. Reader and Count share it, so Count's total matches what a
// Reader yields.
type lineSplitter struct {
	br      *bufio.Reader
	eof     bool
	started bool // the source's first bytes were looked at (utf16)
	crEnds  bool // br reads through crReader (cutAtCR): no CR is left
	clean   int  // bytes ahead, read or buffered, known to hold no lone CR
	lineNo  int  // physical lines read, for error messages
	prefix  [truncLen + len("…")]byte
}

func (s *lineSplitter) reset(r io.Reader) {
	if s.br == nil {
		s.br = bufio.NewReaderSize(r, bufSize)
	} else {
		s.br.Reset(r)
	}
	s.eof, s.started, s.crEnds, s.clean, s.lineNo = false, false, false, 0, 0
}

// utf16 switches to decoding UTF-16 when the source's first read, b (with
// ReadSlice's err), starts with its byte order mark, and reports whether it
// did; b is then read again, decoded. Windows PowerShell 5 writes
// "> urls.txt" so, and Notepad's "Unicode"; read as bytes, every line of
// such a file was an invalid target (a NUL between each character) and its
// last NUL one more. It looks at what the first line's read returned, not
// ahead of it, so that a terminal is not read before a line is wanted, nor
// a source again after its end.
func (s *lineSplitter) utf16(b []byte, err error) bool {
	s.started = true
	if len(b) < 2 || !(b[0] == 0xff && b[1] == 0xfe || b[0] == 0xfe && b[1] == 0xff) {
		return false
	}
	var r io.Reader = bytes.NewReader(bytes.Clone(b))
	if err != io.EOF {
		r = io.MultiReader(r, s.br)
	}
	// ExpectBOM: the mark says which byte order, and is dropped.
	dec := unicode.UTF16(unicode.LittleEndian, unicode.ExpectBOM).NewDecoder()
	s.br = bufio.NewReaderSize(transform.NewReader(r, dec), bufSize)
	return true
}

// loneCR returns the index in b, just read by ReadSlice, of a CR
// that ends a line by itself (not the CR of a CRLF), or -1. Old Mac files
// and some exporters end lines with a CR alone: read as LF lines, a whole
// such file was one invalid target. So that a line of an LF or CRLF source
// does not pay a search of its own, the buffered bytes after a line are
// searched once and s.clean counts those found free of one.
func (s *lineSplitter) loneCR(b []byte) int {
	if s.crEnds {
		return -1
	}
	if len(b) <= s.clean {
		s.clean -= len(b)
		return -1
	}
	return s.scanCR(b)
}

// scanCR searches b, then the bytes buffered after it, for a lone CR, and
// returns its index in b or -1; s.clean then counts the buffered bytes
// before the first lone CR, or before a CR ending the buffer (what follows
// it is not read yet).
func (s *lineSplitter) scanCR(b []byte) int {
	s.clean = 0
	if i := firstLoneCR(b); i >= 0 {
		return i
	}
	ahead, _ := s.br.Peek(s.br.Buffered()) // never reads
	s.clean = firstLoneCR(ahead)
	if s.clean < 0 {
		s.clean = len(ahead)
	}
	return -1
}

// firstLoneCR returns the index of the first CR in b that no LF follows,
// one ending b included (in a line read, that is a CR at the end of a
// buffer full or of the source), or -1.
func firstLoneCR(b []byte) int {
	for i := 0; ; i += 2 {
		j := bytes.IndexByte(b[i:], '\r')
		if j < 0 {
			return -1
		}
		if i += j; i+1 == len(b) || b[i+1] != '\n' {
			return i
		}
	}
}

// cutAtCR ends b, what ReadSlice returned with err, at b[i], a lone CR
// (loneCR), and reads the rest of the source with such CRs as line ends,
// through crReader; the line then ends there, err nil. A CR at the end of
// a buffer full is taken as a line end: crReader drops an LF that follows
// it. A read error that came with b comes after the lines b still holds,
// as it does for LF lines: their targets are not lost with it.
func (s *lineSplitter) cutAtCR(b []byte, i int, err error) ([]byte, error) {
	s.crEnds = true
	cr := &crReader{r: bytes.NewReader(bytes.Clone(b[i+1:])), cr: true}
	switch err {
	case io.EOF:
	case nil, bufio.ErrBufferFull:
		cr.r = io.MultiReader(cr.r, s.br)
	default:
		cr.r = io.MultiReader(cr.r, errReader{err})
	}
	s.br = bufio.NewReaderSize(cr, bufSize)
	return b[:i], nil
}

// next returns the next target line, trimmed, or, for a line longer than
// MaxLineBytes, its truncated start with long set. The slice is valid until
// the next call. At the end it returns io.EOF, and it never reads past it (a
// terminal would block). A partial line cut off by a read error is dropped.
// A line ends at an LF, a CRLF, or a CR alone.
func (s *lineSplitter) next() (line []byte, long bool, err error) {
	for !s.eof {
		b, err := s.br.ReadSlice('\n')
		if !s.started && (err == nil || err == bufio.ErrBufferFull || err == io.EOF) && s.utf16(b, err) {
			continue
		}
		if i := s.loneCR(b); i >= 0 {
			b, err = s.cutAtCR(b, i, err)
		}
		switch {
		case err == bufio.ErrBufferFull:
			s.lineNo++
			if p, err := s.skipLong(s.stripBOM(b)); err != nil || p != nil {
				return p, p != nil, err
			}
			continue
		case err == io.EOF:
			s.eof = true
			if len(b) == 0 {
				return nil, false, io.EOF
			}
		case err != nil:
			return nil, false, err
		}
		s.lineNo++
		b = s.stripBOM(trimEOL(b))
		raw := len(b)
		if b = bytes.TrimSpace(b); len(b) > 0 && b[0] == bom[0] {
			b = trimBOMs(b)
		}
		if len(b) == 0 || b[0] == '#' {
			continue
		}
		b = cutComment(b)
		if raw > MaxLineBytes {
			return s.keep(b), true, nil
		}
		return b, false, nil
	}
	return nil, false, io.EOF
}

// skipLong reads the rest of a line that overflowed the buffer, keeping only
// its start. It returns nil for a blank or comment line.
func (s *lineSplitter) skipLong(chunk []byte) ([]byte, error) {
	kept := s.prefix[:0] // room for truncLen bytes and a cut character
	started, comment := false, false
	err := bufio.ErrBufferFull
	for {
		if err != bufio.ErrBufferFull {
			chunk = trimEOL(chunk)
		}
		if !started {
			if i := firstNonSpace(chunk); i >= 0 {
				started, comment = true, chunk[i] == '#'
				chunk = chunk[i:]
			}
		}
		if started && !comment {
			n := min(cap(kept)-len(kept), len(chunk))
			kept = append(kept, chunk[:n]...)
		}
		if err != bufio.ErrBufferFull {
			break
		}
		chunk, err = s.br.ReadSlice('\n')
		if i := s.loneCR(chunk); i >= 0 {
			chunk, err = s.cutAtCR(chunk, i, err)
		}
	}
	if err == io.EOF {
		s.eof = true
	} else if err != nil {
		return nil, err
	}
	if !started || comment {
		return nil, nil
	}
	return s.keep(kept), nil
}

// keep copies the start of an over-long line into s.prefix, marked as cut.
func (s *lineSplitter) keep(b []byte) []byte {
	b = bytes.TrimRight(cutUTF8(b, truncLen), " \t\r\v\f")
	n := copy(s.prefix[:], b)
	return append(s.prefix[:n], "…"...)
}

// stripBOM drops a byte order mark at the start of a line: the file's
// first, and also any other, since files joined with cat keep each one's
// mark at the start of its first line. U+FEFF is never part of a URL, and
// left in place it made "\ufeffhttp://h/" a bare host named http.
func (s *lineSplitter) stripBOM(b []byte) []byte {
	return bytes.TrimPrefix(b, bom)
}

// trimBOMs drops byte order marks, and the white space after each, from
// the start of a trimmed line. One after white space ("  \ufeffhttp://h/",
// a file joined to a line of blanks) or after another (a tool that adds
// its own to a file that had one) made the line an invalid target, as a
// mark at the very start once did.
func trimBOMs(b []byte) []byte {
	for bytes.HasPrefix(b, bom) {
		b = bytes.TrimSpace(b[len(bom):])
	}
	return b
}

func trimEOL(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\n' {
		b = b[:n-1]
	}
	if n := len(b); n > 0 && b[n-1] == '\r' {
		b = b[:n-1]
	}
	return b
}

// cutComment drops a comment after a target: white space, then '#'. A URL
// holds no raw white space (a line with some is invalid anyway), so in
// "https://a.example/  # staging" the note is not part of the target, while
// "https://a.example/#top" keeps its fragment. b is trimmed and not blank.
func cutComment(b []byte) []byte {
	for i := 1; i < len(b); i++ {
		j := bytes.IndexByte(b[i:], '#')
		if j < 0 {
			break
		}
		i += j
		if c := b[i-1]; c == ' ' || c == '\t' {
			// Trimmed as the line was: white space other than blanks
			// ("\f", U+00A0) left before the comment ended the target.
			return bytes.TrimSpace(b[:i])
		}
	}
	return b
}

// firstNonSpace returns the index of the first byte that is not ASCII
// white space or part of a byte order mark (as trimBOMs skips them), or -1.
func firstNonSpace(b []byte) int {
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case ' ', '\t', '\r', '\n', '\v', '\f':
		case bom[0]:
			if !bytes.HasPrefix(b[i:], bom) {
				return i
			}
			i += len(bom) - 1
		default:
			return i
		}
	}
	return -1
}

// errReader fails every read with err.
type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

// crReader turns each CR, alone or before an LF, into one LF.
type crReader struct {
	r  io.Reader
	cr bool // the last byte read was a CR: an LF first is its pair, dropped
}

func (c *crReader) Read(p []byte) (int, error) {
	for {
		n, err := c.r.Read(p)
		w, r := 0, 0
		if c.cr && n > 0 {
			c.cr = false
			if p[0] == '\n' {
				r = 1
			}
		}
		for r < n {
			i := bytes.IndexByte(p[r:n], '\r')
			if i < 0 {
				w += copy(p[w:], p[r:n])
				break
			}
			w += copy(p[w:], p[r:r+i])
			p[w] = '\n'
			w++
			r += i + 1
			if r == n {
				c.cr = true
			} else if p[r] == '\n' {
				r++
			}
		}
		// Nothing left when the read was the LF of a CRLF cut in two:
		// read again rather than return 0 bytes and no error.
		if w > 0 || err != nil || n == 0 {
			return w, err
		}
	}
}
