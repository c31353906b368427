package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// ErrRunInUse is returned by LockRun for a run that another process is
// recording.
var ErrRunInUse = errors.New("another fanout process is recording it")

// LockRun marks run runID as being recorded by this process until the
// database is closed (or the process dies: the kernel drops the lock, so a
// SIGKILL leaves nothing to clean up). A second process that locks the
// same run gets ErrRunInUse: two processes recording one run would write
// one output file at once and fail on each other's result ids.
//
// The lock is a byte of a file beside the database (DB-lock), one per run,
// so that different runs of one database record at once.
func (db *DB) LockRun(runID int64) error {
	if err := db.openLockFile(); err != nil {
		return err
	}
	if err := lockByte(db.lockFile, runID); err != nil {
		if errors.Is(err, ErrRunInUse) {
			return fmt.Errorf("run %d: %w", runID, ErrRunInUse)
		}
		return fmt.Errorf("--db %s: locking run %d: %v", db.path, runID, err)
	}
	return nil
}

// Recording reports whether a process holds run runID's lock: a run whose
// state says running but that nobody records was killed (or its machine
// went down). known is false where fanout has no record locks or the lock
// cannot be read; recording is then true, the safe guess.
func (db *DB) Recording(runID int64) (recording, known bool) {
	if !lockKnown {
		return true, false
	}
	f := db.lockFile
	if f == nil {
		var err error
		if f, err = os.Open(db.lockPath()); err != nil {
			// No lock file: nothing has recorded here since run locks came.
			return !errors.Is(err, os.ErrNotExist), errors.Is(err, os.ErrNotExist)
		}
		defer f.Close()
	}
	held, err := byteLocked(f, runID)
	if err != nil {
		return true, false
	}
	return held, true
}

// lockPath is the lock file's name: beside the database file itself, as
// SQLite keeps its -wal and -shm, so that a symbolic link to the database
// from another directory (~/runs.db -> /data/runs.db) locks the same runs
// rather than a DB-lock of its own.
func (db *DB) lockPath() string {
	if real, err := filepath.EvalSymlinks(db.path); err == nil {
		return real + "-lock"
	}
	return db.path + "-lock"
}

func (db *DB) openLockFile() error {
	if db.lockFile == nil {
		f, err := os.OpenFile(db.lockPath(), os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			return fmt.Errorf("--db %s: lock file: %v", db.path, err)
		}
		db.lockFile = f
	}
	return nil
}

// ErrStopped is LockPicking's error when its stop channel closed while it
// waited.
var ErrStopped = errors.New("stopped while another fanout process was choosing its run")

// pickWait bounds LockPicking's wait. Choosing takes milliseconds, or up
// to busy_timeout (10 s) when SQLite waits for the file; longer means the
// holder is stuck.
var pickWait = 30 * time.Second

// pickByte is the byte of DB-lock that LockPicking takes; runs' ids, whose
// bytes LockRun takes, start at 1.
const pickByte = 0

// LockPicking waits until no other process is choosing a run of this
// database to record, and keeps the others waiting until unlock is called
// (or the database is closed). Choosing (looking for an unfinished run with
// the same inputs, or checking that no live run writes the same -o, then
// creating a run and locking it) must be done under it: two processes
// started together with the same command both found no run, created one
// each and wrote one -o file at once; or one took over the run the other
// had just created and not locked yet.
//
// Closing stop (a Ctrl-C) ends the wait with ErrStopped.
func (db *DB) LockPicking(stop <-chan struct{}) (unlock func(), err error) {
	if err := db.openLockFile(); err != nil {
		return nil, err
	}
	f := db.lockFile
	if err := waitByte(f, pickByte, time.Now().Add(pickWait), stop); err != nil {
		if errors.Is(err, ErrStopped) {
			return nil, fmt.Errorf("--db %s: %w", db.path, err)
		}
		if errors.Is(err, ErrRunInUse) {
			return nil, fmt.Errorf("--db %s: another fanout process has been choosing its run for %v (is it stopped, with Ctrl-Z?)", db.path, pickWait)
		}
		return nil, fmt.Errorf("--db %s: lock file: %v", db.path, err)
	}
	return func() { unlockByte(f, pickByte) }, nil
}
