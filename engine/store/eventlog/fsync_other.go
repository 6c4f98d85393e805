//go:build !linux

package eventlog

import "os"

// fsyncHolding is f.Sync: elsewhere than on Linux the sync lets its P go
// as usual (see syncPolicy).
func fsyncHolding(f *os.File) error { return f.Sync() }
