package fstree_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/hookd/hookd/internal/fstree"
)

func TestCopy(t *testing.T) {
	src := t.TempDir()
	if err := os.MkdirAll(filepath.Join(src, "a", "b"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string]string{"top.txt": "1", "a/b/deep.txt": "2"} {
		if err := os.WriteFile(filepath.Join(src, filepath.FromSlash(name)), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	dst := filepath.Join(t.TempDir(), "new", "copy")
	if err := fstree.Copy(src, dst); err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string]string{"top.txt": "1", "a/b/deep.txt": "2"} {
		got, err := os.ReadFile(filepath.Join(dst, filepath.FromSlash(name)))
		if err != nil || string(got) != body {
			t.Errorf("%s: %q, %v; want %q", name, got, err, body)
		}
	}
	// A single file copies to the path given.
	one := filepath.Join(t.TempDir(), "x", "one.txt")
	if err := fstree.Copy(filepath.Join(src, "top.txt"), one); err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(one); err != nil || string(got) != "1" {
		t.Errorf("single file: %q, %v", got, err)
	}
	if err := fstree.Copy(filepath.Join(src, "missing"), dst); err == nil {
		t.Error("copying a missing path succeeded")
	}
}
