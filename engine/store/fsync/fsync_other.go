//go:build !linux

package fsync

import "os"

// fsyncHolding is f.Sync: elsewhere than on Linux the sync lets its P go
// as usual (see Syncer).
func fsyncHolding(f *os.File) error { return f.Sync() }
