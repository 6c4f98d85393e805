// Package fstree copies files and folder trees: where tests set up a
// folder from the repository's testdata.
package fstree

import (
	"io/fs"
	"os"
	"path/filepath"
)

// Copy copies the file or folder tree src to dst, creating the folders
// it needs. Files get mode 0644, folders 0755.
func Copy(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
}
