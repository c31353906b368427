//go:build unix

package store

import (
	"errors"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// lockByte takes an exclusive lock on byte n of f without waiting, with
// setLock (runlock_linux.go, runlock_posix.go): where the system has them, an
// open file description lock, which belongs to f rather than to the
// process, so two databases open on one file in one process (tests do
// this) exclude each other too, and closing another descriptor of the
// file releases nothing.
func lockByte(f *os.File, n int64) error {
	lk := unix.Flock_t{Type: unix.F_WRLCK, Whence: 0, Start: n, Len: 1}
	err := unix.FcntlFlock(f.Fd(), setLock, &lk)
	if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EACCES) {
		return ErrRunInUse
	}
	return err
}

// lockKnown: record locks tell whether a run is being recorded.
const lockKnown = true

// byteLocked reports whether byte n of f is locked through another open
// file description (getLock) or, with POSIX locks, by another process.
func byteLocked(f *os.File, n int64) (bool, error) {
	lk := unix.Flock_t{Type: unix.F_WRLCK, Whence: 0, Start: n, Len: 1}
	if err := unix.FcntlFlock(f.Fd(), getLock, &lk); err != nil {
		return false, err
	}
	return lk.Type != unix.F_UNLCK, nil
}

// waitByte takes an exclusive lock on byte n of f, waiting for it at most
// until deadline (then ErrRunInUse), or until stop is closed (ErrStopped). It polls rather than block in the
// kernel (F_SETLKW), which no deadline could interrupt: a holder stopped
// with Ctrl-Z would keep every other process waiting for ever.
func waitByte(f *os.File, n int64, deadline time.Time, stop <-chan struct{}) error {
	for {
		err := lockByte(f, n)
		if !errors.Is(err, ErrRunInUse) || time.Now().After(deadline) {
			return err
		}
		select {
		case <-stop:
			return ErrStopped
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// unlockByte releases waitByte's lock on byte n of f.
func unlockByte(f *os.File, n int64) {
	lk := unix.Flock_t{Type: unix.F_UNLCK, Whence: 0, Start: n, Len: 1}
	unix.FcntlFlock(f.Fd(), setLock, &lk)
}
