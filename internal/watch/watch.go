// Package watch watches a rules file and calls back when its content
// changes. It watches the file's folder, not the file, so that editors
// that save by rename (vim), symlink swaps (Kubernetes ConfigMaps) and
// files deleted and written anew are all seen; a burst of events within
// the debounce window gives one callback, and only when the bytes differ
// from the last ones seen.
package watch

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
)

// DefaultDebounce is how long the watcher waits for a burst of file
// events to settle: the events of one save (a write, a rename, a symlink
// swap) come within a few milliseconds, and every later event reads the
// file again (a half-written file is most often invalid, and refused),
// so the wait only needs to cover the burst. It is part of every
// reload's latency.
const DefaultDebounce = 100 * time.Millisecond

// Options tune a Watcher.
type Options struct {
	// Debounce is the quiet time before a change is read (0: DefaultDebounce).
	Debounce time.Duration
	// Logger reports watch errors (default slog.Default()).
	Logger *slog.Logger
	// Initial is the content already loaded, so an event that leaves the
	// file as it was gives no callback.
	Initial []byte
}

// Watcher calls back with the file's new bytes when they change.
type Watcher struct {
	path     string
	abs      string
	opts     Options
	fw       *fsnotify.Watcher
	onChange func(data []byte)
}

// New starts watching the folder of path; from its return on, every change
// is seen. onChange receives the file's new content; it runs on Run's
// goroutine, one call at a time.
func New(path string, opts Options, onChange func(data []byte)) (*Watcher, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Debounce <= 0 {
		opts.Debounce = DefaultDebounce
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("reload: %w", err)
	}
	fw, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, fmt.Errorf("reload: start file watcher: %w", err)
	}
	dir := filepath.Dir(abs)
	if err := fw.Add(dir); err != nil {
		fw.Close()
		return nil, fmt.Errorf("reload: watch %s: %w", dir, err)
	}
	return &Watcher{path: path, abs: abs, opts: opts, fw: fw, onChange: onChange}, nil
}

// Run handles file events until ctx is done, then stops watching.
// Trigger, when not nil, forces a check on each receive (SIGHUP); a forced
// check calls back even when the bytes did not change.
func (w *Watcher) Run(ctx context.Context, trigger <-chan struct{}) error {
	fw, logger, debounce, abs := w.fw, w.opts.Logger, w.opts.Debounce, w.abs
	defer fw.Close()
	last := sha256.Sum256(w.opts.Initial)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	forced := false
	check := func() {
		data, err := os.ReadFile(abs)
		if err != nil {
			// Between a delete and the new file: the next event reads it.
			logger.Debug("rules file not readable yet", "file", w.path, "err", err)
			return
		}
		sum := sha256.Sum256(data)
		if sum == last && !forced {
			return
		}
		forced = false
		last = sum
		w.onChange(bytes.Clone(data))
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-fw.Events:
			if !ok {
				return nil
			}
			if ev.Op == fsnotify.Chmod {
				continue
			}
			timer.Reset(debounce)
		case err, ok := <-fw.Errors:
			if !ok {
				return nil
			}
			logger.Warn("rules file watcher error", "file", w.path, "err", err)
		case <-trigger:
			forced = true
			timer.Reset(0)
		case <-timer.C:
			check()
		}
	}
}
