package cli

import (
	"io"
	"os"
	"reflect"
	"sync"
)

// sameStream reports whether a and b write to one stream: the same writer,
// or two files that are one (fanout ... 2>&1 | jq makes stdout and stderr
// one pipe).
func sameStream(a, b io.Writer) bool {
	fa, okA := a.(*os.File)
	fb, okB := b.(*os.File)
	if okA && okB {
		if fa == nil || fb == nil {
			return false
		}
		sa, errA := fa.Stat()
		sb, errB := fb.Stat()
		return errA == nil && errB == nil && os.SameFile(sa, sb)
	}
	t := reflect.TypeOf(a)
	return t != nil && t.Comparable() && a == b
}

// lockedPair returns out and errw writing in turn, never at once. A write
// of results larger than a pipe's free space goes in several parts while
// the reader catches up, and a notice written to the same pipe meanwhile
// would land inside a record. Each side hands its writer whole lines, so
// taking turns keeps every line whole. A notice then waits for the write
// in progress: on one stream it could not get past that write anyway.
func lockedPair(out, errw io.Writer) (io.Writer, io.Writer) {
	mu := new(sync.Mutex)
	return &lockedWriter{mu: mu, w: out}, &lockedWriter{mu: mu, w: errw}
}

// lockedWriter writes to w holding mu.
type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
