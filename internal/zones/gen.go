//go:build ignore

// gen writes names.txt: the names of the zones in lib/time/zoneinfo.zip
// of the Go toolchain that runs it (`go generate ./internal/zones`).
package main

import (
	"archive/zip"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
)

func main() {
	goroot, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		log.Fatalf("go env GOROOT: %v", err)
	}
	path := filepath.Join(strings.TrimSpace(string(goroot)), "lib", "time", "zoneinfo.zip")
	z, err := zip.OpenReader(path)
	if err != nil {
		log.Fatalf("read the zones of Go: %v", err)
	}
	defer z.Close()
	var names []string
	for _, f := range z.File {
		if !f.FileInfo().IsDir() {
			names = append(names, f.Name)
		}
	}
	slices.Sort(names)
	var b strings.Builder
	fmt.Fprintf(&b, "# The zones of lib/time/zoneinfo.zip of %s, written by gen.go; do not edit.\n", runtime.Version())
	for _, n := range names {
		b.WriteString(n + "\n")
	}
	if err := os.WriteFile("names.txt", []byte(b.String()), 0o644); err != nil {
		log.Fatalf("write names.txt: %v", err)
	}
}
