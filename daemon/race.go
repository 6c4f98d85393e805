//go:build race

package daemon

// raceEnabled is set in builds with the race detector, the builds of the
// tests: pooled request bodies are then overwritten when put back.
const raceEnabled = true
