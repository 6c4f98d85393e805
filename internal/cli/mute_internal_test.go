package cli

import (
	"os/user"
	"testing"
)

// TestWhoamiWithoutEnvironment: where the environment names no user (a
// `docker exec`), a mute is recorded by the account of the process's
// user id, not by "cli".
func TestWhoamiWithoutEnvironment(t *testing.T) {
	for _, v := range []string{"USER", "USERNAME", "LOGNAME"} {
		t.Setenv(v, "")
	}
	u, err := user.Current()
	if err != nil || u.Username == "" {
		t.Skipf("this process's user has no account to name: %v", err)
	}
	if got := whoami(); got != u.Username {
		t.Fatalf("whoami() = %q, want %q", got, u.Username)
	}
}
