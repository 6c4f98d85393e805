// Package tmpfs gives tests a small file system of their own, to fill up:
// a full disk is the write failure hookd must survive, and a tmpfs is the
// only honest way to make one.
package tmpfs

import (
	"os/exec"
	"strings"
	"testing"
)

// Mount mounts a tmpfs of size (as mount takes it, e.g. "2m") on a new
// temporary folder and returns the folder; it is unmounted when the test
// ends. The test is skipped where mounting is not permitted (not root, no
// mount command, a container without the capability).
func Mount(t testing.TB, size string) string {
	t.Helper()
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs here (%v: %s)", err, strings.TrimSpace(string(out)))
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}
