// Package watch watches a rules file and calls back when its content
// changes. It watches the file's folder, not the file, so that editors
// that save by rename (vim), symlink swaps (Kubernetes ConfigMaps) and
// files deleted and written anew are all seen; when the file is a
// symbolic link, it also watches the folders the link leads through and
// the folder of the file it ends at, so that an edit of a link's target
// in another folder is seen too. A burst of events within the debounce
// window gives one callback, and only when the bytes differ from the
// last ones seen.
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
	// watched holds the folders being watched, by their resolved path;
	// New fills it, then only Run's goroutine reads and adds to it.
	watched map[string]bool
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
	w := &Watcher{path: path, abs: abs, opts: opts, fw: fw, onChange: onChange,
		watched: map[string]bool{resolved(dir): true}}
	w.followLinks()
	return w, nil
}

// maxLinks bounds the links followed from the rules file, as the
// operating system bounds them (a loop of links ends there).
const maxLinks = 40

// followLinks watches, besides the rules file's folder, the folder of
// each symbolic link the path leads through and of the file it ends at,
// so that a write to the link's target in another folder is seen. It runs
// again after every change, since a swapped link may lead elsewhere.
// Folders are only added: one left behind (the old target of a swapped
// link) costs a comparison of the file's bytes per change in it, and the
// system drops the watch of a folder that is deleted (Run then forgets it).
func (w *Watcher) followLinks() {
	p := w.abs
	dirs := []string{}
	for range maxLinks {
		fi, err := os.Lstat(p)
		if err != nil || fi.Mode()&os.ModeSymlink == 0 {
			break
		}
		target, err := os.Readlink(p)
		if err != nil {
			break
		}
		if !filepath.IsAbs(target) {
			target = filepath.Join(filepath.Dir(p), target)
		}
		p = target
		dirs = append(dirs, filepath.Dir(p))
	}
	if real, err := filepath.EvalSymlinks(w.abs); err == nil {
		dirs = append(dirs, filepath.Dir(real))
	}
	for _, dir := range dirs {
		key := resolved(dir)
		if w.watched[key] {
			continue
		}
		if err := w.fw.Add(key); err != nil {
			w.opts.Logger.Debug("rules file watcher: cannot watch the folder of a link's target", "file", w.path, "folder", key, "err", err)
			continue
		}
		w.watched[key] = true
	}
}

// resolved is dir with its symbolic links resolved, or dir when they
// cannot be: two names of one folder are watched once.
func resolved(dir string) string {
	if r, err := filepath.EvalSymlinks(dir); err == nil {
		return r
	}
	return dir
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
		w.followLinks()
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
			if ev.Has(fsnotify.Remove) {
				// A watched folder deleted: the system dropped its watch,
				// and one made anew under that name is watched again.
				delete(w.watched, ev.Name)
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
