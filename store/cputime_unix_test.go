//go:build unix

package store

import (
	"syscall"
	"testing"
	"time"
)

// cpuTime is the process's user and system CPU time so far: the writer
// works on its own goroutine, so ns/op (wall time) says little on a busy
// machine.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
