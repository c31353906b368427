//go:build unix

package dist

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// lockStore takes an exclusive lock on dir for one server. The kernel
// drops it when the process dies, so a crash leaves nothing to clean up.
func lockStore(dir string) (unlock func(), err error) {
	path := filepath.Join(dir, "fanout.lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("store dir %s: %v", dir, unwrapPath(err))
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("store dir %s: %w", dir, ErrStoreInUse)
		}
		return nil, fmt.Errorf("store dir %s: lock: %v", dir, err)
	}
	return func() { f.Close() }, nil
}
