package cli

import "testing"

// TestIsLoopback: the hosts the demo's vet takes for this machine, with
// a port or the root's dot too, and some it must not.
func TestIsLoopback(t *testing.T) {
	for host, want := range map[string]bool{
		"localhost": true, "localhost.": true, "localhost:25": true, "127.0.0.1": true, "127.0.0.1:8080": true,
		"::1": true, "[::1]:8080": true, "127.1.2.3": true,
		"": false, "api.wassenger.com": false, "localhost.example.com": false, "10.0.0.1": false, "0.0.0.0": false,
	} {
		if got := isLoopback(host); got != want {
			t.Errorf("isLoopback(%q) = %v, want %v", host, got, want)
		}
	}
}
