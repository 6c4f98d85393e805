package daemon

import (
	"net"
	"strings"
	"testing"
)

// TestListenAdvice: a daemon that cannot listen says what to do by the
// cause: a port in use is likely another hookd, an address that is not
// the machine's wants one of its own, and neither is told the other's
// advice.
func TestListenAdvice(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	for _, tt := range []struct{ name, addr, want string }{
		{"port in use", taken.Addr().String(), "is another hookd running? choose another --listen"},
		{"not this machine's address", "192.0.2.1:0", "the host of --listen is not an address of this machine"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", tt.addr)
			if err == nil {
				ln.Close()
				t.Skipf("listening on %s worked here", tt.addr)
			}
			if got := listenAdvice(err); !strings.HasPrefix(got, tt.want) {
				t.Errorf("listenAdvice(%v) = %q, want %q...", err, got, tt.want)
			}
		})
	}
}
