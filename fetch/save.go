package fetch

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
)

// tmpPrefix starts the names of the temporary files bodies are written to
// before they get their hash name: a dot, so that they stay out of a plain
// ls and of globs such as DIR/*/*, and a token of this process, so that
// runs saving to one directory (on one machine, or sharing it over the
// network) do not race for names.
var tmpPrefix = func() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return ".tmp-" + hex.EncodeToString(b[:]) + "-"
}()

// tmpSeq numbers this process's temporary files.
var tmpSeq atomic.Uint64

// saveInMemory is the most of a body a bodySaver keeps in memory before
// it makes a temporary file. Most pages, and most of the identical ones
// (error pages, placeholders), are smaller: their hash is known before
// any file is made, so a body already saved costs one stat, and a new
// one is written beside its name and renamed within one directory. A
// rename across directories takes a lock of the whole file system
// (Linux's s_vfs_rename_mutex), and a create and unlink for every
// duplicate contends on one directory: on a 2-core VM, 20,000 small
// pages at -c 50 spent up to 20 s of system time on them.
const saveInMemory = 16 << 10

var saveBufPool = sync.Pool{New: func() any { b := make([]byte, 0, saveInMemory); return &b }}

// bodySaver writes one body as it is read, and gives it its name (the
// body's SHA-256) once it is whole: a name never holds a part of a body. A
// body longer than saveInMemory goes to a temporary file in dir as it is
// read, never held in memory; a shorter one waits in a pooled buffer of
// that size. An empty body costs nothing.
type bodySaver struct {
	dir string
	buf *[]byte  // the body so far, while it fits in saveInMemory; nil before the first byte or once spilled
	f   *os.File // the temporary file; nil until the body outgrows buf, and after commit or discard
	err error    // the first failure to create or write the file
}

// write adds p to the body. A failure is kept for commit and stops the
// writing, not the reading: the result still reports the body.
func (s *bodySaver) write(p []byte) {
	if s.err != nil {
		return
	}
	if s.f == nil {
		if s.buf == nil {
			s.buf = saveBufPool.Get().(*[]byte)
		}
		if len(*s.buf)+len(p) <= saveInMemory {
			*s.buf = append(*s.buf, p...)
			return
		}
		if s.f, s.err = createTemp(s.dir); s.err != nil {
			return
		}
		_, s.err = s.f.Write(*s.buf)
		s.putBuf()
		if s.err != nil {
			return
		}
	}
	_, s.err = s.f.Write(p)
}

func (s *bodySaver) putBuf() {
	if s.buf != nil {
		*s.buf = (*s.buf)[:0]
		saveBufPool.Put(s.buf)
		s.buf = nil
	}
}

// createTemp creates a new temporary file in dir, readable as the umask
// allows (the bodies are an archive to share, not secrets of fanout's).
func createTemp(dir string) (*os.File, error) {
	for {
		name := filepath.Join(dir, tmpPrefix+strconv.FormatUint(tmpSeq.Add(1), 10))
		f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o666)
		if !errors.Is(err, fs.ErrExist) { // a name left by a crash of an earlier process with this token: next
			return f, err
		}
	}
}

// commit gives the body its name, dir/ab/abcdef..., from sum, the hex
// SHA-256 of every byte written. A body already there (the same bytes: a
// crawl fetches many identical pages) is kept and the new copy dropped.
// It reports whether the body is saved, which an empty one is not. n is
// the body's length: a file of that name and another size is a body torn
// by a crash (no fsync: the name is the hash, so a check finds it) and is
// replaced, not trusted for ever.
func (s *bodySaver) commit(sum string, n int64) (bool, error) {
	defer s.discard()
	if s.err != nil {
		return false, s.err
	}
	if s.f == nil && (s.buf == nil || len(*s.buf) == 0) {
		return false, nil
	}
	sub := filepath.Join(s.dir, sum[:2])
	name := filepath.Join(sub, sum)
	if fi, err := os.Lstat(name); err == nil && fi.Mode().IsRegular() && fi.Size() == n {
		return true, nil
	}
	if s.f == nil {
		// Written now, beside its name.
		f, err := createTemp(sub)
		if errors.Is(err, fs.ErrNotExist) {
			if err = mkdirOnce(sub); err == nil {
				f, err = createTemp(sub)
			}
		}
		if err != nil {
			return false, err
		}
		s.f = f
		if _, err := f.Write(*s.buf); err != nil {
			return false, err
		}
	}
	tmp := s.f.Name()
	err := s.f.Close()
	s.f = nil
	if err == nil {
		err = os.Rename(tmp, name)
		if errors.Is(err, fs.ErrNotExist) {
			if err = mkdirOnce(sub); err == nil {
				err = os.Rename(tmp, name)
			}
		}
	}
	if err != nil {
		_ = os.Remove(tmp)
		if fi, serr := os.Lstat(name); serr == nil && fi.Size() == n {
			// Another save of the same body got there first (Windows
			// refuses to replace a file another process has open).
			return true, nil
		}
		return false, err
	}
	return true, nil
}

// mkdirOnce makes dir, the first body under its prefix. (Two saves may
// make it at once: either one's will do.)
func mkdirOnce(dir string) error {
	if err := os.Mkdir(dir, 0o777); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	return nil
}

// discard drops what is left of the body: the buffer, and the temporary
// file if there is one (the body was not read whole: a timeout, a reset,
// a cancel, a body that does not decode; or it could not be saved).
func (s *bodySaver) discard() {
	s.putBuf()
	if s.f != nil {
		tmp := s.f.Name()
		_ = s.f.Close()
		_ = os.Remove(tmp)
		s.f = nil
	}
}

// saveError is the error of a body that was read but could not be saved:
// the target fails with kind local (Error.Save), not retried, since a full
// or read-only disk fails every attempt alike and each would fetch the page
// again.
func saveError(dir string, err error) error {
	return &kindError{kind: KindLocal, permanent: true, save: true, err: err,
		msg: fmt.Sprintf("the body was read but could not be saved under --save %s: %v", dir, err)}
}

// checkSaveDir checks, making nothing, that dir is a directory a file can
// be created in, or, missing, that its nearest existing parent is one, so
// that a run learns before it fetches anything that its bodies would have
// nowhere to go. NewClient makes it: a command refused after Validate (a
// bad flag, another run's flags) leaves no empty directory behind.
func checkSaveDir(dir string) error {
	probe := dir
	for {
		st, err := os.Stat(probe)
		if err == nil && st.IsDir() {
			break
		}
		if err == nil || !errors.Is(err, fs.ErrNotExist) {
			if err == nil {
				err = fmt.Errorf("%s is not a directory", probe)
			}
			return fieldError("SaveDir", "%s: cannot make the directory: %v", dir, unwrapPathErr(err))
		}
		parent := filepath.Dir(probe)
		if parent == probe {
			break
		}
		probe = parent
	}
	f, err := createTemp(probe)
	if err != nil {
		verb := "write in the directory"
		if probe != dir {
			verb = "make the directory"
		}
		return fieldError("SaveDir", "%s: cannot %s: %v", dir, verb, unwrapPathErr(err))
	}
	name := f.Name()
	_ = f.Close()
	if err := os.Remove(name); err != nil {
		return fieldError("SaveDir", "%s: cannot remove a file in the directory: %v", probe, unwrapPathErr(err))
	}
	return nil
}

// makeSaveDir makes dir, which checkSaveDir found could be made.
func makeSaveDir(dir string) error {
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return fieldError("SaveDir", "%s: cannot make the directory: %v", dir, unwrapPathErr(err))
	}
	return nil
}

// unwrapPathErr drops a *PathError's operation and path, which the
// message names already.
func unwrapPathErr(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
