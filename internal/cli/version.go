package cli

import (
	"fmt"
	"runtime/debug"
	"strings"
)

func runVersion(s Streams, args []string) int {
	fs := newFlags(s, "version", "")
	pos, err := parse(fs, args)
	if err != nil {
		return flagErr(err)
	}
	if len(pos) != 0 {
		return exitUsage(s, fs, "takes no arguments")
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		fmt.Fprintln(s.Stdout, "hookd (no build information: built without module support)")
		return 0
	}
	fmt.Fprintln(s.Stdout, versionLine(info))
	return 0
}

// versionLine describes a build: "hookd v1.2.0 (go1.26.0)" for a module
// installed with go install, plus "commit 1a2b3c4d5e6f (modified)" when
// the build stamped a VCS revision.
func versionLine(info *debug.BuildInfo) string {
	v := info.Main.Version
	if v == "" {
		v = "(devel)"
	}
	parts := []string{"hookd " + v}
	settings := map[string]string{}
	for _, kv := range info.Settings {
		settings[kv.Key] = kv.Value
	}
	if rev := settings["vcs.revision"]; rev != "" {
		if len(rev) > 12 {
			rev = rev[:12]
		}
		c := "commit " + rev
		if t := settings["vcs.time"]; t != "" {
			c += " " + t
		}
		if settings["vcs.modified"] == "true" {
			c += " (modified)"
		}
		parts = append(parts, c)
	}
	if info.GoVersion != "" {
		parts = append(parts, info.GoVersion)
	}
	return strings.Join(parts, ", ")
}
