//go:build unix

package cli

import (
	"errors"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// watchReader watches w, when it is a pipe, for its reader going away.
// fanout ... | head -1 learns that head has exited only at its next write,
// and on a run whose targets left wait out their timeouts and retries that
// comes minutes later, all spent fetching for nobody. gone delivers the
// error the next write would get (EPIPE) once the pipe has no reader left;
// stop ends the watch and returns once it has ended. For anything but a
// pipe gone is nil.
func watchReader(w io.Writer) (gone <-chan error, stop func()) {
	f, ok := w.(*os.File)
	if !ok {
		return nil, func() {}
	}
	st, err := f.Stat()
	if err != nil || st.Mode()&os.ModeNamedPipe == 0 {
		return nil, func() {}
	}
	raw, err := f.SyscallConn()
	if err != nil {
		return nil, func() {}
	}
	// stop wakes the poll by closing wakeW: no timeout to wait out, so a
	// short run into a pipe exits as fast as it did.
	wakeR, wakeW, err := os.Pipe()
	if err != nil {
		return nil, func() {}
	}
	wake := int32(wakeR.Fd())
	ch, ended := make(chan error, 1), make(chan struct{})
	go func() {
		defer close(ended)
		for {
			fds := []unix.PollFd{{Events: 0}, {Fd: wake, Events: unix.POLLIN}}
			var perr error
			// Control, not Fd: Fd would put a FIFO given with -o back in
			// blocking mode.
			cerr := raw.Control(func(fd uintptr) {
				fds[0].Fd = int32(fd)
				_, perr = unix.Poll(fds, -1)
			})
			switch {
			case errors.Is(perr, unix.EINTR):
				continue
			case cerr != nil, perr != nil, fds[1].Revents != 0, fds[0].Revents&unix.POLLNVAL != 0:
				return
			case fds[0].Revents&(unix.POLLERR|unix.POLLHUP) != 0:
				// The writing end of a pipe polls as an error (Linux) or
				// a hang-up (BSDs) once no reader is left.
				ch <- &os.PathError{Op: "write", Path: f.Name(), Err: unix.EPIPE}
				return
			}
		}
	}()
	return ch, func() {
		wakeW.Close()
		<-ended
		wakeR.Close()
	}
}
