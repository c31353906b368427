//go:build linux

package distbench

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestProcCPU holds the /proc reading the NATS server's CPU comes from to
// the kernel's own account of this process (getrusage), within the
// 10 ms resolution of /proc's clock ticks. (/proc/PID/stat is Linux's.)
func TestProcCPU(t *testing.T) {
	// Burn CPU until the process has used 150 ms of it: on a busy machine
	// a fixed stretch of wall time may get only a fraction of a core.
	rusage := func() time.Duration {
		var ru syscall.Rusage
		if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
			t.Fatal(err)
		}
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	for end := time.Now().Add(10 * time.Second); rusage() < 150*time.Millisecond && time.Now().Before(end); {
		for range 100000 {
		}
	}
	got, err := procCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	want := rusage()
	if got < want-20*time.Millisecond || got > want+20*time.Millisecond || got < 100*time.Millisecond {
		t.Errorf("procCPU = %v, getrusage says %v", got, want)
	}
}

// TestTail: a dist process that fails is quoted from its stderr (a submit
// that exited 3 in a bench once left nothing to go on).
func TestTail(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "stderr.txt")
	if err := os.WriteFile(log, []byte(strings.Repeat("x", 700)+"\nfanout submit: r: lost the connection\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got := tail(log)
	if !strings.HasSuffix(got, "| fanout submit: r: lost the connection") || len(got) > 610 {
		t.Errorf("tail = %q", got)
	}
	empty := filepath.Join(dir, "empty.txt")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if got := tail(empty); got != "" {
		t.Errorf("tail of an empty file = %q, want nothing", got)
	}
}
