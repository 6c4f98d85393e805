package smtpd

import (
	"bufio"
	"crypto/tls"
	"net"
	"strings"
	"testing"
	"time"
)

// TestCloseDuringStartTLS closes the server the moment a client finishes
// its side of the STARTTLS handshake, when the server is often still
// installing the TLS connection in its session. With go-smtp's
// Server.Close, -race -count=200 reported that race in most runs. Close
// must also not wait for the client, which stays connected.
func TestCloseDuringStartTLS(t *testing.T) {
	s, err := Start(Options{TLS: TLSStartTLS})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	_ = raw.SetDeadline(time.Now().Add(5 * time.Second))
	r := bufio.NewReader(raw)
	expect := func(code string) {
		t.Helper()
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				t.Fatalf("read reply: %v", err)
			}
			if !strings.HasPrefix(line, code) {
				t.Fatalf("reply %q, want %s", line, code)
			}
			if len(line) < 4 || line[3] != '-' {
				return
			}
		}
	}
	expect("220")
	_, _ = raw.Write([]byte("EHLO client\r\n"))
	expect("250")
	_, _ = raw.Write([]byte("STARTTLS\r\n"))
	expect("220")
	cfg := s.ClientTLSConfig()
	cfg.ServerName = s.Host()
	tc := tls.Client(raw, cfg)
	if err := tc.Handshake(); err != nil {
		t.Fatalf("handshake: %v", err)
	}
	// The client's handshake is done; the server is reading its last
	// flight and about to install the TLS connection.
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Errorf("Close: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return within 5s with a client connected")
	}
}
