//go:build unix

package coreshare

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
)

// errUnsupported is never returned here: flock(2) is there.
var errUnsupported = errors.New("sharing cores: no flock(2) on this system")

// member is one process's place in the directory: while busy it holds
// an exclusive lock on its file NAME-RANDOM.lock; idle, it has no file.
type member struct {
	dir  string
	name string   // PID-N: which process and member, for people
	file string   // its file's name while busy
	f    *os.File // nil while idle
}

func join(dir string) (*member, error) {
	if err := ready(dir); err != nil {
		return nil, err
	}
	return &member{dir: dir, name: fmt.Sprintf("%d-%d", os.Getpid(), joined.Add(1))}, nil
}

// ready makes dir if missing and returns why it cannot be used, or nil.
// count removes the unlocked *.lock files it finds. In a directory
// someone else could replace (another user who made /tmp/fanout-UID
// first, or a symbolic link there), that would remove this user's files
// elsewhere: only a directory of this user's that nobody else may write
// in, in a parent of the same kind, is used. hold and count check again
// each time: a cleaner of /tmp (systemd-tmpfiles) may remove both while
// the process runs, and someone else make them anew.
func ready(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("sharing cores: %v", err)
	}
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := private(d); err != nil {
			return fmt.Errorf("sharing cores: %v", err)
		}
	}
	return nil
}

// private returns why dir is not a directory of this user's that only
// this user may write in, or nil.
func private(dir string) error {
	fi, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	switch {
	case fi.Mode()&os.ModeSymlink != 0:
		return fmt.Errorf("%s is a symbolic link, not a directory: remove it", dir)
	case !fi.IsDir():
		return fmt.Errorf("%s is not a directory: remove it", dir)
	case ok && int64(st.Uid) != int64(os.Getuid()):
		return fmt.Errorf("%s belongs to uid %d, not to this user (uid %d): remove it", dir, st.Uid, os.Getuid())
	case fi.Mode().Perm()&0o022 != 0:
		return fmt.Errorf("%s can be written by others (%v): chmod go-w it", dir, fi.Mode().Perm())
	}
	return nil
}

// joined numbers a process's members, each its own file (tests run
// several in one process).
var joined atomic.Int64

// hold makes the process count (busy) or not.
func (m *member) hold(busy bool) error {
	switch {
	case busy && m.f == nil:
		if err := ready(m.dir); err != nil {
			return err
		}
		// Locked before it has its name, so that nobody counting finds
		// the file unlocked and removes it as a dead process's.
		tmp, err := os.CreateTemp(m.dir, "."+m.name+"-*")
		if err != nil {
			return err
		}
		if err := syscall.Flock(int(tmp.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
			return err
		}
		// A name of its own, random like the temporary one's: processes
		// in other PID namespaces sharing the directory (containers with
		// one /tmp) can have the same PID and member number, and the
		// rename would replace the other's file, leaving it uncounted.
		file := strings.TrimPrefix(filepath.Base(tmp.Name()), ".") + ".lock"
		if err := os.Rename(tmp.Name(), filepath.Join(m.dir, file)); err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
			return err
		}
		m.f, m.file = tmp, file
	case busy && !sameFile(m.f, m.path()):
		// Removed under it (a cleaner of /tmp): it counted for nobody.
		m.f.Close()
		m.f = nil
		return m.hold(true)
	case !busy && m.f != nil:
		m.leave()
	}
	return nil
}

func (m *member) path() string { return filepath.Join(m.dir, m.file) }

// leave removes the file while still holding its lock, then unlocks.
func (m *member) leave() {
	if m.f != nil {
		os.Remove(m.path())
		m.f.Close()
		m.f = nil
	}
}

// count returns how many files in the directory are locked (this
// process's own among them, when busy), and removes the files of
// processes that died busy.
func (m *member) count() (int, error) {
	if err := ready(m.dir); err != nil {
		return 0, err
	}
	names, err := os.ReadDir(m.dir)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, e := range names {
		// Only regular files: opening a FIFO named x.lock would block the
		// count, and the worker's exit with it, for ever.
		if !strings.HasSuffix(e.Name(), ".lock") || strings.HasPrefix(e.Name(), ".") || !e.Type().IsRegular() {
			continue
		}
		if m.f != nil && e.Name() == m.file {
			n++
			continue
		}
		p := filepath.Join(m.dir, e.Name())
		f, err := os.Open(p)
		if err != nil {
			continue // gone since the listing
		}
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if errors.Is(err, syscall.EWOULDBLOCK) {
			n++
		} else if err == nil && sameFile(f, p) {
			// Its process died busy. Removed under its lock, and only if
			// the name is still this file: its process may have left and
			// come back with a new one since the open.
			os.Remove(p)
		}
		f.Close()
	}
	return n, nil
}

func sameFile(f *os.File, path string) bool {
	a, err := f.Stat()
	if err != nil {
		return false
	}
	b, err := os.Stat(path)
	return err == nil && os.SameFile(a, b)
}
