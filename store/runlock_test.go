//go:build unix

package store

import (
	"errors"
	"path/filepath"
	"testing"
)

// TestLockRun: a run locked by one open database is refused to another
// (the same file opened twice, as two processes would), other runs are
// not, and closing the first releases its runs.
func TestLockRun(t *testing.T) {
	path := filepath.Join(t.TempDir(), "runs.db")
	a, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := a.LockRun(1); err != nil {
		t.Fatal(err)
	}
	if err := b.LockRun(1); !errors.Is(err, ErrRunInUse) {
		t.Fatalf("run 1 locked twice: %v, want ErrRunInUse", err)
	}
	if err := b.LockRun(2); err != nil {
		t.Fatalf("run 2: %v", err)
	}
	if err := a.LockRun(2); !errors.Is(err, ErrRunInUse) {
		t.Fatalf("run 2 locked twice: %v, want ErrRunInUse", err)
	}
	a.Close()
	if err := b.LockRun(1); err != nil {
		t.Fatalf("run 1 after the first database closed: %v", err)
	}
}
