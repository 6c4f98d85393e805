//go:build !unix

package dirlock

import (
	"fmt"
	"os"
)

// lockFile opens the lock file. Outside Unix the lock is not taken: run
// one hookd serve per data folder.
func lockFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock: %w: make the data folder writable by the user running hookd", err)
	}
	return f, nil
}
