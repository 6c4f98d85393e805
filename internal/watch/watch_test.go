package watch_test

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/watch"
)

// recorder collects the contents the watcher reports.
type recorder struct {
	mu    sync.Mutex
	seen  []string
	added chan struct{}
}

func newRecorder() *recorder { return &recorder{added: make(chan struct{}, 100)} }

func (r *recorder) onChange(data []byte) {
	r.mu.Lock()
	r.seen = append(r.seen, string(data))
	r.mu.Unlock()
	r.added <- struct{}{}
}

func (r *recorder) all() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.seen...)
}

// waitFor waits until the watcher has reported want, failing after a
// deadline.
func (r *recorder) waitFor(t *testing.T, want string) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		for _, s := range r.all() {
			if s == want {
				return
			}
		}
		select {
		case <-r.added:
		case <-deadline:
			t.Fatalf("watcher never reported %q; saw %q", want, r.all())
		}
	}
}

func start(t *testing.T, path string, initial string, trigger chan struct{}) *recorder {
	t.Helper()
	rec := newRecorder()
	w, err := watch.New(path, watch.Options{Debounce: 50 * time.Millisecond, Initial: []byte(initial)}, rec.onChange)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx, trigger) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return rec
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// settle makes a sentinel change and waits for it: every event before it
// has been handled, so counting is exact without sleeping.
func settle(t *testing.T, rec *recorder, path, sentinel string) {
	t.Helper()
	write(t, path, sentinel)
	rec.waitFor(t, sentinel)
}

func TestSaveByRename(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "rules.yaml")
	write(t, path, "v1")
	rec := start(t, path, "v1", nil)
	// vim: write a temp file, rename it over the original.
	tmp := filepath.Join(dir, ".rules.yaml.swp")
	write(t, tmp, "v2")
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	rec.waitFor(t, "v2")
	settle(t, rec, path, "end")
	if got := count(rec.all(), "v2"); got != 1 {
		t.Errorf("v2 reported %d times, want 1; all: %q", got, rec.all())
	}
}

func TestBurstOfWritesGivesOneChange(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "rules.yaml")
	write(t, path, "v1")
	rec := start(t, path, "v1", nil)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	for _, part := range []string{"a", "b", "c", "d", "e"} {
		if _, err := f.WriteString(part); err != nil {
			t.Fatal(err)
		}
		if err := f.Sync(); err != nil {
			t.Fatal(err)
		}
	}
	f.Close()
	rec.waitFor(t, "abcde")
	settle(t, rec, path, "end")
	for _, partial := range []string{"a", "ab", "abc", "abcd"} {
		if count(rec.all(), partial) > 0 {
			// A burst may be split only if the writer pauses longer than
			// the debounce; this one does not.
			t.Logf("note: partial content %q reported; all: %q", partial, rec.all())
		}
	}
	if got := count(rec.all(), "abcde"); got != 1 {
		t.Errorf("final content reported %d times, want 1; all: %q", got, rec.all())
	}
}

func TestSymlinkSwap(t *testing.T) {
	// The layout Kubernetes uses for a mounted ConfigMap.
	dir := t.TempDir()
	mkdata := func(name, content string) {
		if err := os.MkdirAll(filepath.Join(dir, name), 0o755); err != nil {
			t.Fatal(err)
		}
		write(t, filepath.Join(dir, name, "rules.yaml"), content)
	}
	mkdata("..2026_01", "v1")
	if err := os.Symlink("..2026_01", filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "rules.yaml")
	if err := os.Symlink(filepath.Join("..data", "rules.yaml"), path); err != nil {
		t.Fatal(err)
	}
	rec := start(t, path, "v1", nil)
	mkdata("..2026_02", "v2")
	if err := os.Symlink("..2026_02", filepath.Join(dir, "..data_tmp")); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	rec.waitFor(t, "v2")
	if got := count(rec.all(), "v2"); got != 1 {
		t.Errorf("v2 reported %d times, want 1", got)
	}
}

// TestSymlinkToAnotherFolder: a rules file that is a link to a file in
// another folder (a checkout of a configuration repository, a dotfiles
// manager) is edited where the file is: in place, and by rename.
func TestSymlinkToAnotherFolder(t *testing.T) {
	root := t.TempDir()
	etc, repo := filepath.Join(root, "etc"), filepath.Join(root, "repo")
	for _, d := range []string{etc, repo} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	target := filepath.Join(repo, "rules.yaml")
	write(t, target, "v1")
	path := filepath.Join(etc, "rules.yaml")
	if err := os.Symlink(filepath.Join("..", "repo", "rules.yaml"), path); err != nil {
		t.Fatal(err)
	}
	rec := start(t, path, "v1", nil)
	write(t, target, "v2")
	rec.waitFor(t, "v2")
	tmp := filepath.Join(repo, ".rules.yaml.swp")
	write(t, tmp, "v3")
	if err := os.Rename(tmp, target); err != nil {
		t.Fatal(err)
	}
	rec.waitFor(t, "v3")
}

// TestSymlinkRepointed: after the link is pointed at a file in a third
// folder, edits of that file are seen.
func TestSymlinkRepointed(t *testing.T) {
	root := t.TempDir()
	for _, d := range []string{"etc", "a", "b"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write(t, filepath.Join(root, "a", "rules.yaml"), "v1")
	write(t, filepath.Join(root, "b", "rules.yaml"), "b1")
	path := filepath.Join(root, "etc", "rules.yaml")
	if err := os.Symlink(filepath.Join(root, "a", "rules.yaml"), path); err != nil {
		t.Fatal(err)
	}
	rec := start(t, path, "v1", nil)
	tmp := filepath.Join(root, "etc", "rules.yaml.tmp")
	if err := os.Symlink(filepath.Join(root, "b", "rules.yaml"), tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	rec.waitFor(t, "b1")
	write(t, filepath.Join(root, "b", "rules.yaml"), "b2")
	rec.waitFor(t, "b2")
}

func TestUnchangedContentIsNotReported(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "rules.yaml")
	write(t, path, "v1")
	rec := start(t, path, "v1", nil)
	write(t, path, "v1") // touched, same bytes
	settle(t, rec, path, "v2")
	if got := rec.all(); len(got) != 1 || got[0] != "v2" {
		t.Errorf("reported %q, want only v2", got)
	}
}

func TestTriggerForcesACheck(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "rules.yaml")
	write(t, path, "v1")
	trigger := make(chan struct{})
	rec := start(t, path, "v1", trigger)
	trigger <- struct{}{}
	rec.waitFor(t, "v1")
}

func count(list []string, s string) int {
	n := 0
	for _, x := range list {
		if x == s {
			n++
		}
	}
	return n
}
