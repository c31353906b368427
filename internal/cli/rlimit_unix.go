//go:build unix

package cli

import (
	"fmt"
	"syscall"

	"github.com/fanout/fanout/engine"
)

// filesReserved is what the process needs besides one socket per request
// in flight: stdio, input and output files, the resolver, idle sockets.
const filesReserved = 64

// fitFileLimit raises the soft open-file limit to the hard one and, if that
// is still too low for the concurrency asked for, lowers the concurrency so
// requests never fail with EMFILE. It returns a warning when it did.
func fitFileLimit(c *engine.Config) string {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return ""
	}
	if lim.Cur < lim.Max {
		raised := lim
		raised.Cur = lim.Max
		if syscall.Setrlimit(syscall.RLIMIT_NOFILE, &raised) == nil {
			lim = raised
		}
	}
	// A quarter of what is left is kept free for sockets that outlive
	// their request: connections being closed, and dials that net/http
	// finishes for a request an idle connection served first. Without it
	// a dial failed now and then with EMFILE at the limit.
	avail := (int64(lim.Cur) - filesReserved) * 3 / 4
	defer func() {
		// Idle keep-alive sockets count too: give them what the requests
		// in flight leave, and at most engine.IdlePerRequest per request.
		c.Request.MaxIdle = int(max(2, min(engine.IdlePerRequest*int64(c.Limits.Concurrency), avail-int64(c.Limits.Concurrency))))
	}()
	if int64(c.Limits.Concurrency) <= avail {
		return ""
	}
	n := int(max(1, avail))
	msg := fmt.Sprintf("open-file limit is %d; lowering --concurrency from %d to %d (raise it with ulimit -n)",
		lim.Cur, c.Limits.Concurrency, n)
	c.Limits.Concurrency = n
	c.Limits.PerHost = min(c.Limits.PerHost, n)
	return msg
}
