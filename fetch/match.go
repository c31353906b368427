package fetch

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/fanout/fanout/internal/humansize"
)

// matchSet is Options.Match made ready once per Client: the strings as
// bytes and the tail a search keeps across reads.
type matchSet struct {
	want [][]byte
	keep int // len(longest string) - 1
}

// newMatchSet returns the set for strings, or nil when there are none.
func newMatchSet(ss []string) *matchSet {
	if len(ss) == 0 {
		return nil
	}
	ms := &matchSet{want: make([][]byte, len(ss))}
	for i, s := range ss {
		ms.want[i] = []byte(s)
		ms.keep = max(ms.keep, len(s)-1)
	}
	return ms
}

// matcher returns a search of one body for the set, or nil for a nil set.
func (ms *matchSet) matcher() *matcher {
	if ms == nil {
		return nil
	}
	return &matcher{matchSet: ms, found: make([]bool, len(ms.want)), left: len(ms.want)}
}

// matcher looks for each of Options.Match in a body as it streams through
// copyBody. It never holds the body: across reads it keeps only the last
// len(longest)-1 bytes, where a string cut by the read's end may have
// begun, so its memory is bounded by the strings, not by --max-body.
type matcher struct {
	*matchSet
	found []bool
	left  int    // strings not found yet
	tail  []byte // the last keep bytes read (fewer at the start)
	seam  []byte // scratch: tail and the next read's first keep bytes
}

// write searches p, the next bytes of the body.
func (m *matcher) write(p []byte) {
	if m.left == 0 || len(p) == 0 {
		return
	}
	if m.keep > 0 && len(m.tail) > 0 {
		// A string across the seam starts in the tail and ends within
		// the first keep bytes of p.
		m.seam = append(append(m.seam[:0], m.tail...), p[:min(len(p), m.keep)]...)
	} else {
		m.seam = m.seam[:0]
	}
	for i, s := range m.want {
		if !m.found[i] && (bytes.Contains(p, s) || bytes.Contains(m.seam, s)) {
			m.found[i] = true
			m.left--
		}
	}
	if m.left == 0 || m.keep == 0 {
		return
	}
	if len(p) >= m.keep {
		m.tail = append(m.tail[:0], p[len(p)-m.keep:]...)
		return
	}
	if drop := len(m.tail) + len(p) - m.keep; drop > 0 {
		m.tail = m.tail[:copy(m.tail, m.tail[drop:])]
	}
	m.tail = append(m.tail, p...)
}

// missing returns the error for a body read whole (or up to --max-body:
// truncated) that lacks one of the strings, or nil when it has them all.
// read is the decoded bytes searched, which copyBody counts.
func (m *matcher) missing(truncated bool, read int64) error {
	if m == nil || m.left == 0 {
		return nil
	}
	var miss string
	for i, s := range m.want {
		if !m.found[i] {
			miss = string(s)
			break
		}
	}
	msg := "body lacks " + shownMatch(miss)
	if truncated {
		// The string may well be further on: the cap, not the server,
		// decided.
		msg += fmt.Sprintf(" (in the first %s read: raise --max-body)", humansize.Bytes(read))
	}
	return &kindError{kind: KindMismatch, msg: msg}
}

// shownMatch is a --match string as a message shows it: as typed when it
// is printable and does not begin or end with a space (`"status":"UP"`
// reads better than its Go-quoted form), quoted otherwise.
func shownMatch(s string) string {
	if s == "" || strings.TrimSpace(s) != s || !utf8.ValidString(s) || strings.IndexFunc(s, func(r rune) bool { return !unicode.IsPrint(r) && r != ' ' }) >= 0 {
		return strconv.Quote(s)
	}
	return s
}
