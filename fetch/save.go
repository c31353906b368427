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

// bodySaver writes one body into a temporary file in dir while it is read,
// and gives the file its name (the body's SHA-256) once the body is whole:
// a body never sits in memory to be saved, and a name never holds a part
// of a body. The file is made at the first byte, so an empty body costs
// nothing.
type bodySaver struct {
	dir string
	f   *os.File // the temporary file; nil before the first byte and after commit or discard
	err error    // the first failure to create or write the file
}

// write adds p to the temporary file. A failure is kept for commit and
// stops the writing, not the reading: the result still reports the body.
func (s *bodySaver) write(p []byte) {
	if s.err != nil {
		return
	}
	if s.f == nil {
		if s.f, s.err = createTemp(s.dir); s.err != nil {
			return
		}
	}
	_, s.err = s.f.Write(p)
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

// commit gives the written body its name, dir/ab/abcdef..., from sum, the
// hex SHA-256 of every byte written. A body already there (the same bytes:
// a crawl fetches many identical pages) is kept and the new copy dropped.
// It reports whether a file was written, which an empty body was not.
func (s *bodySaver) commit(sum string) (bool, error) {
	if s.err != nil {
		s.discard()
		return false, s.err
	}
	if s.f == nil {
		return false, nil
	}
	tmp := s.f.Name()
	err := s.f.Close()
	s.f = nil
	if err != nil {
		_ = os.Remove(tmp)
		return false, err
	}
	sub := filepath.Join(s.dir, sum[:2])
	name := filepath.Join(sub, sum)
	if _, err := os.Lstat(name); err == nil {
		return true, os.Remove(tmp)
	}
	err = os.Rename(tmp, name)
	if errors.Is(err, fs.ErrNotExist) {
		// The first body under this prefix. (Two saves may make it at
		// once: either one's directory will do.)
		if err = os.Mkdir(sub, 0o777); err == nil || errors.Is(err, fs.ErrExist) {
			err = os.Rename(tmp, name)
		}
	}
	if err != nil {
		_ = os.Remove(tmp)
		return false, err
	}
	return true, nil
}

// discard removes the temporary file, if there is one: the body was not
// read whole (a timeout, a reset, a cancel, a body that does not decode).
func (s *bodySaver) discard() {
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

// checkSaveDir makes dir, if it does not exist, and checks that a file can
// be created in it, so that a run learns before it fetches anything that
// its bodies would have nowhere to go.
func checkSaveDir(dir string) error {
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return fmt.Errorf("--save %s: cannot make the directory: %v", dir, unwrapPathErr(err))
	}
	f, err := createTemp(dir)
	if err != nil {
		return fmt.Errorf("--save %s: cannot write in the directory: %v", dir, unwrapPathErr(err))
	}
	name := f.Name()
	_ = f.Close()
	if err := os.Remove(name); err != nil {
		return fmt.Errorf("--save %s: cannot remove a file in the directory: %v", dir, unwrapPathErr(err))
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
