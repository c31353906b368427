//go:build unix

package store

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// needOFD skips a test that opens one database twice in one process as two
// processes would: only Linux's open file description locks keep those
// apart (POSIX locks belong to the process).
func needOFD(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("one process stands for two only with open file description locks (Linux)")
	}
}

// TestLockRun: a run locked by one open database is refused to another
// (the same file opened twice, as two processes would), other runs are
// not, and closing the first releases its runs.
func TestLockRun(t *testing.T) {
	needOFD(t)
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

// TestLockRunThroughSymlink: the database opened through a symbolic link
// from another directory is the same database (SQLite follows the link to
// its -wal and -shm), so its runs are the same runs: locked once, and seen
// as recorded through either name. With a DB-lock beside each name, a
// resume through the link recorded a run that a process was recording
// already, and failed on its result ids after writing into its -o file.
func TestLockRunThroughSymlink(t *testing.T) {
	needOFD(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "data", "runs.db")
	link := filepath.Join(dir, "home", "runs.db")
	for _, d := range []string{filepath.Dir(path), filepath.Dir(link)} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	a, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if err := os.Symlink(path, link); err != nil {
		t.Fatal(err)
	}
	b, err := Open(link)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := a.LockRun(1); err != nil {
		t.Fatal(err)
	}
	if rec, known := b.Recording(1); !rec || !known {
		t.Errorf("run 1 through the link: recording %v (known %v), want true", rec, known)
	}
	if err := b.LockRun(1); !errors.Is(err, ErrRunInUse) {
		t.Errorf("run 1 locked through the link while locked: %v, want ErrRunInUse", err)
	}
}

// TestRecording: a third open database (fanout runs, while runs record)
// sees which runs another holds, before any lock file exists too.
func TestRecording(t *testing.T) {
	needOFD(t)
	path := filepath.Join(t.TempDir(), "runs.db")
	open := func() *DB {
		db, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	reader, a, b := open(), open(), open()
	check := func(when string, want ...bool) {
		t.Helper()
		for i, w := range want {
			if rec, known := reader.Recording(int64(i + 1)); rec != w || !known {
				t.Errorf("%s: run %d recording %v (known %v), want %v", when, i+1, rec, known, w)
			}
		}
	}
	check("no lock file yet", false, false)
	if err := a.LockRun(1); err != nil {
		t.Fatal(err)
	}
	if err := b.LockRun(2); err != nil {
		t.Fatal(err)
	}
	check("a records 1, b 2", true, true, false)
	a.Close()
	check("a closed", false, true, false)
	if err := reader.LockRun(3); err != nil {
		t.Fatal(err)
	}
	// Its own lock does not count for the database that holds it: only
	// another process's would keep a run from being resumed here.
	check("reader records 3", false, true, false)
}

// TestLockPickingWaitsBounded: LockPicking waits for another open database
// choosing its run, takes its turn when that one is done, and gives up with
// a message (not for ever) when the holder never lets go, as one stopped
// with Ctrl-Z would.
func TestLockPickingWaitsBounded(t *testing.T) {
	needOFD(t)
	defer func(d time.Duration) { pickWait = d }(pickWait)
	pickWait = 200 * time.Millisecond
	path := filepath.Join(t.TempDir(), "runs.db")
	a, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	unlock, err := a.LockPicking(nil)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := b.LockPicking(nil); err == nil || !strings.Contains(err.Error(), "choosing its run") {
		t.Errorf("second LockPicking while the first holds it: %v, want a refusal after the wait", err)
	}
	if d := time.Since(start); d < pickWait || d > pickWait+2*time.Second {
		t.Errorf("the refusal came after %v, want about %v", d, pickWait)
	}
	// A Ctrl-C (stop closed) ends the wait at once.
	stop := make(chan struct{})
	close(stop)
	start = time.Now()
	if _, err := b.LockPicking(stop); !errors.Is(err, ErrStopped) || time.Since(start) > time.Second {
		t.Errorf("LockPicking with stop closed: %v after %v, want ErrStopped at once", err, time.Since(start))
	}
	unlocked := make(chan struct{})
	go func() {
		defer close(unlocked)
		time.Sleep(50 * time.Millisecond)
		unlock()
	}()
	unlockB, err := b.LockPicking(nil)
	<-unlocked // before a is closed
	if err != nil {
		t.Fatalf("LockPicking after the holder let go: %v", err)
	}
	unlockB()
}
