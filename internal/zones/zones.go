// Package zones lists the IANA time zone names that Go knows, for the
// "did you mean" hint of a misspelt zone. Go has no API that lists
// zones, and the machine's zoneinfo may be missing or differ, so the
// list is generated from the lib/time/zoneinfo.zip of a Go release (the
// data that package time/tzdata embeds) and kept in names.txt.
package zones

import (
	_ "embed"
	"strings"
)

//go:generate go run gen.go

//go:embed names.txt
var names string

// Names returns the zone names, sorted, such as "Europe/Madrid" and "UTC".
func Names() []string {
	var out []string
	for _, line := range strings.Split(names, "\n") {
		if line != "" && !strings.HasPrefix(line, "#") {
			out = append(out, line)
		}
	}
	return out
}
