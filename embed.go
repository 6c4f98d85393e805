// Package hookd holds the files that ship inside the hookd binary: the
// example rules and the recorded Wassenger events, for `hookd demo`.
package hookd

import "embed"

// ExampleRules is rules.example.yaml.
//
//go:embed rules.example.yaml
var ExampleRules []byte

// Events holds testdata/events: a recorded event for every group:update
// action, message events, and a batched message:out:failed.
//
//go:embed testdata/events
var Events embed.FS
