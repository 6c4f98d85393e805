//go:build !race

package daemon

// raceEnabled is set in builds with the race detector (see race.go).
const raceEnabled = false
