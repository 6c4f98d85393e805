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
			return nil, fileInTheWay{pe}
		}
		return nil, fmt.Errorf("create: %w: make its parent folder writable by the user running hookd, or create the folder for that user", err)
	}
	f, err := lockFile(filepath.Join(dir, FileName))
	if err != nil {
		return nil, err
	}
	return &Lock{f: f}, nil
}

// fileInTheWay is the error of a folder to create that is a file, or is
// under one: it names the file, where the system's "not a directory"
// would send a user to look at permissions. It wraps that error.
type fileInTheWay struct{ err *fs.PathError }

func (e fileInTheWay) Error() string {
	return "create: " + e.err.Path + " is a file, not a folder: name a folder, or move the file away"
}

func (e fileInTheWay) Unwrap() error { return e.err }

// Release lets the folder go; the lock also ends with the process.
func (l *Lock) Release() error { return l.f.Close() }
