//go:build !unix

package store

import (
	"testing"
	"time"
)

// cpuTime is -1 where getrusage is missing: BenchmarkRecorder then
// reports no CPU figure rather than a wrong one.
func cpuTime(*testing.B) time.Duration { return -1 }
