// Package testbackend names the stores hookd's daemon runs on, for the
// tests that run once per store: the daemon's tests in process and the
// end-to-end tests of the binary. Import it from tests only.
package testbackend

import "testing"

// The backends.
const (
	// SQLite is the embedded store: the SQLite file of the data folder.
	SQLite = "sqlite"
	// JetStream is the cluster store (internal/cluster) on NATS
	// JetStream, with the node's read model in the data folder.
	JetStream = "jetstream"
)

// All lists every backend, SQLite first.
func All() []string { return []string{SQLite, JetStream} }

// Each runs body once per backend, each as a parallel subtest named
// after it.
func Each(t *testing.T, body func(t *testing.T, backend string)) {
	t.Helper()
	for _, backend := range All() {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			body(t, backend)
		})
	}
}
