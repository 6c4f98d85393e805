// Package dirlock keeps two hookd daemons off one data folder: Take holds
// an exclusive lock on a file in the folder for as long as the process
// runs (or until Release). Commands that only read or requeue (hookd dlq,
// hookd events export) do not take it: the store lets them share the
// folder with the daemon.
package dirlock

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// FileName is the lock file inside the data folder.
const FileName = "hookd.lock"

// ErrLocked says another process holds the folder's lock.
var ErrLocked = errors.New("another hookd process is using this data folder")

// Lock is a held lock on a folder.
type Lock struct{ f *os.File }

// Take locks dir, creating dir (readable by its owner only: it holds
// personal data) and its lock file if needed. It fails with an error
// matching ErrLocked when another process holds the lock.
func Take(dir string) (*Lock, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		var pe *fs.PathError
		if errors.Is(err, syscall.ENOTDIR) && errors.As(err, &pe) {
			return nil, fmt.Errorf("create: %s is a file, not a folder: name a folder, or move the file away", pe.Path)
		}
		return nil, fmt.Errorf("create: %w: make its parent folder writable by the user running hookd, or create the folder for that user", err)
	}
	f, err := lockFile(filepath.Join(dir, FileName))
	if err != nil {
		return nil, err
	}
	return &Lock{f: f}, nil
}

// Release lets the folder go; the lock also ends with the process.
func (l *Lock) Release() error { return l.f.Close() }
