//go:build unix

package output

import (
	"os"

	"golang.org/x/sys/unix"
)

// termWidth returns the width in columns of the terminal f, or -1 when it
// cannot tell.
func termWidth(f *os.File) int {
	ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ)
	if err != nil {
		return -1
	}
	return int(ws.Col)
}
