//go:build unix && !linux

package store

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// lockByte takes an exclusive lock on byte n of f without waiting: a POSIX
// record lock, which belongs to the process (fanout opens the lock file
// once per database and keeps it open while it records).
func lockByte(f *os.File, n int64) error {
	lk := unix.Flock_t{Type: unix.F_WRLCK, Whence: 0, Start: n, Len: 1}
	err := unix.FcntlFlock(f.Fd(), unix.F_SETLK, &lk)
	if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EACCES) {
		return ErrRunInUse
	}
	return err
}
