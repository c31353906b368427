//go:build linux

// Package ptytest opens pseudo-terminals for tests of what fanout draws on
// a terminal (the progress bar).
package ptytest

import (
	"io"
	"os"
	"strconv"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Open opens a pseudo-terminal pair with a window of cols x rows (0 x 0:
// a terminal of no size, as docker -t and some CI runners give), or skips
// the test when the system has none.
func Open(t testing.TB, cols, rows uint16) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	fd := int(m.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		m.Close()
		t.Skipf("unlockpt: %v", err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		m.Close()
		t.Skipf("ptsname: %v", err)
	}
	s, err := os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		m.Close()
		t.Skipf("open pts: %v", err)
	}
	if err := unix.IoctlSetWinsize(int(s.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: rows, Col: cols}); err != nil {
		t.Logf("set window size: %v", err)
	}
	return m, s
}

// Capture opens a pseudo-terminal as Open does and reads all that is
// written to its slave. read closes the slave and returns what was
// written, failing the test if the reading does not end within 10 s; the
// master is closed when the test ends.
func Capture(t testing.TB, cols, rows uint16) (slave *os.File, read func() string) {
	t.Helper()
	master, slave := Open(t, cols, rows)
	t.Cleanup(func() { master.Close() })
	out := make(chan string, 1)
	go func() {
		b, _ := io.ReadAll(master) // ends with EIO once the slave is closed
		out <- string(b)
	}()
	return slave, func() string {
		t.Helper()
		slave.Close()
		select {
		case got := <-out:
			return got
		case <-time.After(10 * time.Second):
			t.Fatal("reading the terminal did not end")
			return ""
		}
	}
}
