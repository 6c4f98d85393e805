package cli

import (
	"runtime/debug"
	"testing"
)

func TestVersionLine(t *testing.T) {
	for _, tc := range []struct {
		name string
		info debug.BuildInfo
		want string
	}{
		{"go install of a tag", debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Version: "v1.2.0"}}, "hookd v1.2.0, go1.26.0"},
		{"a checkout", debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "404b5f6a1b2c3d4e5f60718293a4b5c6d7e8f901"},
			{Key: "vcs.time", Value: "2026-12-04T03:00:00Z"},
			{Key: "vcs.modified", Value: "true"},
		}}, "hookd (devel), commit 404b5f6a1b2c 2026-12-04T03:00:00Z (modified), go1.26.0"},
		{"clean checkout", debug.BuildInfo{Main: debug.Module{Version: "v0.0.0-20261204030000-404b5f6a1b2c"}, Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "404b5f6"}, {Key: "vcs.modified", Value: "false"},
		}}, "hookd v0.0.0-20261204030000-404b5f6a1b2c, commit 404b5f6"},
		{"no version", debug.BuildInfo{}, "hookd (devel)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := versionLine(&tc.info); got != tc.want {
				t.Errorf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
}
