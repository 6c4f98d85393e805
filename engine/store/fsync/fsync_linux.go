package fsync

import (
	"os"
	"syscall"
)

// fsyncHolding is f.Sync made as a raw system call, which keeps the
// calling goroutine's P (see Syncer).
func fsyncHolding(f *os.File) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return &os.PathError{Op: "sync", Path: f.Name(), Err: err}
	}
	var errno syscall.Errno
	if err := rc.Control(func(fd uintptr) {
		for {
			_, _, errno = syscall.RawSyscall(syscall.SYS_FSYNC, fd, 0, 0)
			if errno != syscall.EINTR {
				return
			}
		}
	}); err != nil {
		// Control fails only on a file being closed.
		return &os.PathError{Op: "sync", Path: f.Name(), Err: os.ErrClosed}
	}
	if errno != 0 {
		return &os.PathError{Op: "sync", Path: f.Name(), Err: errno}
	}
	return nil
}
