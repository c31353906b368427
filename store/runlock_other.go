//go:build !unix

package store

import (
	"os"
	"time"
)

// lockByte does nothing where fanout has no record locks: two processes
// must not record one run at once there (README).
func lockByte(*os.File, int64) error { return nil }

// lockKnown: without record locks nothing tells a live run from a killed one.
const lockKnown = false

func byteLocked(*os.File, int64) (bool, error) { return true, nil }

func waitByte(*os.File, int64, time.Time, <-chan struct{}) error { return nil }

func unlockByte(*os.File, int64) {}
