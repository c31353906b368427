// Package coreshare lets the busy processes of one kind on one machine
// split its cores between them, rather than each scheduling goroutines on
// all of them.
//
// Go gives every process as many Ps as the machine (or its cgroup) has
// cores. Two fanout workers on one machine then run four Ps on two cores:
// their idle Ps spin looking for work on cores the other needs, and the
// two together cost more CPU for the same requests than one process does.
// On the bench's 2-core VM (BENCHMARKS.md, "dist: workers on one machine
// share its cores") two workers of 100,000 targets took a median 7.73 s
// of CPU with two Ps each and 6.97 s with one each, their wall time no
// longer.
//
// Each busy process holds an exclusive flock(2) on a file of its own in a
// directory the processes share; a process counts the files locked there.
// The kernel drops a dead process's lock, so a crash leaves nothing that
// counts: the next count removes its file.
package coreshare

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// Dir is the directory of the processes of kind that share this
// machine's cores: one per user, in the system's temporary directory.
func Dir(kind string) string {
	return filepath.Join(os.TempDir(), fmt.Sprintf("fanout-%d", os.Getuid()), kind)
}

// Procs is the number of Ps a process takes when busy processes share
// base: base divided among them, rounded up (the cores are better used a
// little oversubscribed than left idle), at least 1.
func Procs(base, busy int) int {
	if busy <= 1 || base <= 1 {
		return max(base, 1)
	}
	return max((base+busy-1)/busy, 1)
}

// Config is what Run needs.
type Config struct {
	// Dir is the directory the processes sharing the machine's cores
	// share (created if missing). Processes that see other directories
	// (containers with their own /tmp) do not count each other, which is
	// right: such a container has its own CPU limit. Run refuses Dir
	// unless it and its parent are directories of this user's, not
	// symbolic links, that nobody else may write in.
	Dir string
	// Base is the process's Ps when it is the only busy one.
	Base int
	// Busy reports whether the process has work now. Run counts the
	// process busy until it has had none for Linger, so that a gap
	// between two batches does not hand its cores to the others and back.
	Busy   func() bool
	Linger time.Duration
	// Set gives the process n Ps (runtime.GOMAXPROCS). Run calls it only
	// when n changes, and with Base before it returns if it changed it.
	// Without Set, the process counts for the others while busy and keeps
	// its own Ps (a worker that hosts the NATS server its neighbours use).
	Set func(n int)
	// Every is how often Run looks (default 1 s).
	Every time.Duration
	// Changed, if set, is told each new n and how many busy processes
	// share the cores (0 when this one is idle).
	Changed func(n, busy int)
}

// Run shares the machine's cores until ctx is done, then gives the
// process Base Ps again. It returns at once, with the reason, when the
// directory cannot be used, and nil on a system without flock(2)
// (Windows); the process then keeps its Ps.
func Run(ctx context.Context, cfg Config) error {
	m, err := join(cfg.Dir)
	if errors.Is(err, errUnsupported) {
		return nil
	}
	if err != nil {
		return err
	}
	defer m.leave()
	every := cfg.Every
	if every <= 0 {
		every = time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	cur := cfg.Base
	defer func() {
		if cur != cfg.Base {
			cfg.Set(cfg.Base)
		}
	}()
	var lastBusy time.Time
	for {
		now := time.Now()
		if cfg.Busy() {
			lastBusy = now
		}
		busy := !lastBusy.IsZero() && now.Sub(lastBusy) <= cfg.Linger
		n, k := cfg.Base, 0
		if err := m.hold(busy); err == nil && busy && cfg.Set != nil {
			if c, err := m.count(); err == nil {
				n, k = Procs(cfg.Base, c), c
			}
		}
		if n != cur {
			cfg.Set(n)
			cur = n
			if cfg.Changed != nil {
				cfg.Changed(n, k)
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
