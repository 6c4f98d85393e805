package smtpd

import (
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

const simpleMsg = "From: bot@example.com\r\nTo: ops@example.com\r\nSubject: hi\r\n\r\nhello\r\n"

func start(t *testing.T, opts Options) *Server {
	t.Helper()
	s, err := Start(opts)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// dial connects a go-smtp client in the server's TLS mode.
func dial(t *testing.T, s *Server) *smtp.Client {
	t.Helper()
	var (
		c   *smtp.Client
		err error
	)
	switch s.opts.TLS {
	case TLSStartTLS:
		c, err = smtp.DialStartTLS(s.Addr(), s.ClientTLSConfig())
	case TLSImplicit:
		c, err = smtp.DialTLS(s.Addr(), s.ClientTLSConfig())
	default:
		c, err = smtp.Dial(s.Addr())
	}
	if err != nil {
		t.Fatalf("dial %s: %v", s.Addr(), err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func smtpCode(err error) int {
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		return se.Code
	}
	return 0
}

func TestSendAndRecord(t *testing.T) {
	tests := []struct {
		name     string
		opts     Options
		auth     sasl.Client
		wantTLS  bool
		wantMech string
	}{
		{name: "plaintext without auth", opts: Options{}},
		{name: "plaintext PLAIN", opts: Options{Username: "u", Password: "p"}, auth: sasl.NewPlainClient("", "u", "p"), wantMech: "PLAIN"},
		{name: "plaintext LOGIN", opts: Options{Username: "u", Password: "p"}, auth: sasl.NewLoginClient("u", "p"), wantMech: "LOGIN"},
		{name: "starttls PLAIN", opts: Options{TLS: TLSStartTLS, Username: "u", Password: "p"}, auth: sasl.NewPlainClient("", "u", "p"), wantTLS: true, wantMech: "PLAIN"},
		{name: "implicit LOGIN", opts: Options{TLS: TLSImplicit, Username: "u", Password: "p"}, auth: sasl.NewLoginClient("u", "p"), wantTLS: true, wantMech: "LOGIN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := start(t, tt.opts)
			c := dial(t, s)
			if tt.auth != nil {
				if err := c.Auth(tt.auth); err != nil {
					t.Fatalf("Auth: %v", err)
				}
			}
			to := []string{"ops@example.com", "hidden@example.com"}
			if err := c.SendMail("bot@example.com", to, strings.NewReader(simpleMsg)); err != nil {
				t.Fatalf("SendMail: %v", err)
			}
			msgs, err := s.WaitForN(5*time.Second, 1)
			if err != nil {
				t.Fatal(err)
			}
			m := msgs[0]
			if m.MailFrom != "bot@example.com" || strings.Join(m.RcptTo, ",") != strings.Join(to, ",") {
				t.Errorf("envelope = %q -> %q, want bot@example.com -> %q", m.MailFrom, m.RcptTo, to)
			}
			if m.TLS != tt.wantTLS {
				t.Errorf("TLS = %v, want %v", m.TLS, tt.wantTLS)
			}
			if m.Auth.Mechanism != tt.wantMech {
				t.Errorf("auth mechanism = %q, want %q", m.Auth.Mechanism, tt.wantMech)
			}
			if tt.wantMech != "" && m.Auth.Username != "u" {
				t.Errorf("auth user = %q, want u", m.Auth.Username)
			}
			if m.Subject != "hi" || m.Text != "hello\n" || m.To != "ops@example.com" {
				t.Errorf("parsed subject %q, to %q, text %q", m.Subject, m.To, m.Text)
			}
			if s.Transactions() != 1 {
				t.Errorf("Transactions = %d, want 1", s.Transactions())
			}
		})
	}
}

func TestRefusals(t *testing.T) {
	tests := []struct {
		name     string
		opts     Options
		auth     sasl.Client
		wantCode int
		// authFails says the error comes from AUTH, not from MAIL.
		authFails bool
	}{
		{name: "wrong password", opts: Options{Username: "u", Password: "p"}, auth: sasl.NewPlainClient("", "u", "bad"), wantCode: 535, authFails: true},
		{name: "wrong user with LOGIN", opts: Options{Username: "u", Password: "p"}, auth: sasl.NewLoginClient("x", "p"), wantCode: 535, authFails: true},
		{name: "MAIL without AUTH", opts: Options{Username: "u", Password: "p"}, wantCode: 530},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := start(t, tt.opts)
			c := dial(t, s)
			if tt.auth != nil {
				err := c.Auth(tt.auth)
				if tt.authFails {
					if got := smtpCode(err); got != tt.wantCode {
						t.Fatalf("Auth error = %v (code %d), want %d", err, got, tt.wantCode)
					}
					if s.AuthFailures() != 1 {
						t.Errorf("AuthFailures = %d, want 1", s.AuthFailures())
					}
					return
				}
			}
			err := c.Mail("bot@example.com", nil)
			if got := smtpCode(err); got != tt.wantCode {
				t.Fatalf("Mail error = %v (code %d), want %d", err, got, tt.wantCode)
			}
		})
	}
}

func TestStartTLSRequired(t *testing.T) {
	s := start(t, Options{TLS: TLSStartTLS})
	c, err := smtp.Dial(s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if ok, _ := c.Extension("STARTTLS"); !ok {
		t.Fatal("STARTTLS not advertised")
	}
	if got := smtpCode(c.Mail("bot@example.com", nil)); got != 530 {
		t.Fatalf("MAIL before STARTTLS: code %d, want 530", got)
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		name                     string
		raw                      string
		subject, from, text, htm string
	}{
		{
			name:    "quoted-printable with Q-encoded subject",
			raw:     "From: =?UTF-8?q?Jos=C3=A9?= <jose@example.com>\r\nSubject: =?UTF-8?q?Caf=C3=A9_=F0=9F=8E=89?=\r\nContent-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nna=C3=AFve =\r\nline\r\n",
			subject: "Café 🎉", from: "José <jose@example.com>", text: "naïve line\n",
		},
		{
			name:    "base64 with B-encoded subject",
			raw:     "Subject: =?utf-8?b?wqFIb2xhIQ==?=\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\nwqFI\r\nb2xhIQ==\r\n",
			subject: "¡Hola!", text: "¡Hola!",
		},
		{
			name: "multipart/alternative",
			raw: "Subject: alt\r\nMIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=XYZ\r\n\r\n" +
				"--XYZ\r\nContent-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nplain =C3=A9\r\n" +
				"--XYZ\r\nContent-Type: text/html; charset=UTF-8\r\nContent-Transfer-Encoding: base64\r\n\r\nPGI+aHRtbDwvYj4=\r\n" +
				"--XYZ--\r\n",
			subject: "alt", text: "plain é", htm: "<b>html</b>",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := Message{Raw: []byte(tt.raw)}
			m.parse()
			if m.ParseErr != nil {
				t.Fatalf("ParseErr: %v", m.ParseErr)
			}
			if m.Subject != tt.subject || m.From != tt.from || m.Text != tt.text || m.HTML != tt.htm {
				t.Errorf("got subject %q from %q text %q html %q\nwant subject %q from %q text %q html %q",
					m.Subject, m.From, m.Text, m.HTML, tt.subject, tt.from, tt.text, tt.htm)
			}
		})
	}
}

func TestFailuresConsumedInOrder(t *testing.T) {
	s := start(t, Options{})
	s.FailNext(1, 451, "try later")
	s.FailNextAt(StageRcpt, 1, 550, "no such user")
	s.FailNextAt(StageData, 1, 554, "rejected")

	wantCodes := []int{451, 550, 554, 0}
	for i, want := range wantCodes {
		c := dial(t, s)
		err := c.SendMail("bot@example.com", []string{"ops@example.com"}, strings.NewReader(simpleMsg))
		if got := smtpCode(err); got != want {
			t.Fatalf("send %d: error %v (code %d), want code %d", i, err, got, want)
		}
	}
	if n := len(s.Messages()); n != 1 {
		t.Errorf("messages = %d, want 1", n)
	}
	if n := s.Transactions(); n != 4 {
		t.Errorf("transactions = %d, want 4", n)
	}
}

func TestHangUntilClose(t *testing.T) {
	s := start(t, Options{})
	s.HangNext(1)

	// A client with a short command timeout gives up on the hung MAIL.
	c := dial(t, s)
	c.CommandTimeout = 200 * time.Millisecond
	err := c.Mail("bot@example.com", nil)
	if werr := s.WaitForTransactions(time.Second, 1); werr != nil {
		t.Fatal(werr)
	}
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("Mail on a hung server: %v, want a timeout", err)
	}

	// The hang is consumed: the next session works.
	c2 := dial(t, s)
	if err := c2.SendMail("bot@example.com", []string{"ops@example.com"}, strings.NewReader(simpleMsg)); err != nil {
		t.Fatalf("send after hang: %v", err)
	}

	// Close releases the hung session and returns.
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestWaitForGivesUp(t *testing.T) {
	s := start(t, Options{})
	msgs, err := s.WaitForN(50*time.Millisecond, 1)
	if err == nil || len(msgs) != 0 {
		t.Fatalf("WaitForN on an idle server = %d messages, %v; want an error", len(msgs), err)
	}
}

func TestUnknownTLSMode(t *testing.T) {
	if _, err := Start(Options{TLS: "ssl"}); err == nil {
		t.Fatal("Start with an unknown TLS mode: want an error")
	}
}
