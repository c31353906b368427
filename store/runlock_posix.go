//go:build unix && !linux

package store

import "golang.org/x/sys/unix"

// setLock is a POSIX record lock, which belongs to the process: fanout
// opens the lock file once per database and keeps it open while it records.
const (
	setLock = unix.F_SETLK
	getLock = unix.F_GETLK
)
