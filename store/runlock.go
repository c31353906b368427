package store

import (
	"errors"
	"fmt"
	"os"
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
	if db.lockFile == nil {
		f, err := os.OpenFile(db.path+"-lock", os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			return fmt.Errorf("--db %s: lock file: %v", db.path, err)
		}
		db.lockFile = f
	}
	if err := lockByte(db.lockFile, runID); err != nil {
		if errors.Is(err, ErrRunInUse) {
			return fmt.Errorf("run %d: %w", runID, ErrRunInUse)
		}
		return fmt.Errorf("--db %s: locking run %d: %v", db.path, runID, err)
	}
	return nil
}
