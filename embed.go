// Package hookd holds the files that ship inside the hookd binary: the
// example rules and the recorded Wassenger events, for `hookd demo`.
package hookd

import (
	"bytes"
	"embed"
	"io/fs"
)

//go:embed rules.example.yaml
var exampleRules []byte

//go:embed testdata/events
var events embed.FS

// ExampleRules returns rules.example.yaml.
func ExampleRules() []byte { return bytes.Clone(exampleRules) }

// Events returns testdata/events: a recorded event for every group:update
// action, message events, and a batched message:out:failed.
func Events() fs.FS { return events }
