package sqlite

import "modernc.org/sqlite"

// SyncWithFdatasync makes SQLite sync the commits of every store in the
// process with fdatasync(2) instead of fsync(2), as SQLite's own Linux
// builds do. fdatasync writes a file's data and the metadata needed to
// read it back (its size included), not its timestamps: a synced commit
// is as durable, and does not wait for the file system's journal to
// record a new modification time. The SQLite that hookd links keeps
// SQLite's source default, fsync, until this is called.
//
// It is process-wide: call it from main, before opening a store. It
// reports whether fdatasync is in use; where the platform has none
// (macOS, Windows) the stores keep syncing as SQLite does there.
func SyncWithFdatasync() bool {
	_, err := sqlite.Fdatasync(true)
	return err == nil
}
