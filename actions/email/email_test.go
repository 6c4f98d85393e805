package email

import (
	"context"
	"encoding/base64"
	"log/slog"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/actions"
	"github.com/hookd/hookd/actions/secret"
	"github.com/hookd/hookd/internal/standin/smtpd"
)

// sentinel is the password in every test; it must never show up in an
// error, a response or a description.
const sentinel = "S3NT1NEL-smtp-pass"

// wrongSentinel is a wrong password, just as secret.
const wrongSentinel = "WR0NG-S3NT1NEL"

const (
	subjectUTF8 = "Café 🎉 — ñandú, Zoë"
	bodyUTF8    = "Hola José,\nse añadió «Zoë» al grupo 🎉\n"
)

func startSMTP(t *testing.T, opts smtpd.Options) *smtpd.Server {
	t.Helper()
	srv, err := smtpd.Start(opts)
	if err != nil {
		t.Fatalf("smtpd.Start: %v", err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return srv
}

// connFor returns a connection to srv in the given TLS mode.
func connFor(srv *smtpd.Server, tlsMode, auth string) *actions.EmailConfig {
	return &actions.EmailConfig{
		Host:     srv.Host(),
		Port:     srv.Port(),
		TLS:      tlsMode,
		Username: "bot@example.com",
		Password: secret.New(sentinel),
		Auth:     auth,
		From:     "Group bot <bot@example.com>",
		Timeout:  5 * time.Second,
		Rate:     1000,
	}
}

func testLogger(t *testing.T) (*slog.Logger, *strings.Builder) {
	t.Helper()
	var b strings.Builder
	return slog.New(slog.NewTextHandler(&b, &slog.HandlerOptions{Level: slog.LevelDebug})), &b
}

func newCall(params map[string]any) actions.Call {
	return actions.Call{
		Type:      "email",
		Name:      "removal-alert/email[0]",
		Params:    params,
		Reference: "hookd:3EB0AF:removal-alert:0",
	}
}

func fullCall() actions.Call {
	return newCall(map[string]any{
		"to":       []any{"Ops Team <ops@example.com>", "oncall@example.com"},
		"cc":       "Zoë <zoe@example.com>",
		"bcc":      []any{"audit@example.com"},
		"reply_to": "support@example.com",
		"subject":  subjectUTF8,
		"body":     bodyUTF8,
		"html":     "<p>Hola <b>José</b></p>",
	})
}

func assertNoSecret(t *testing.T, what, s string) {
	t.Helper()
	for _, secret := range []string{sentinel, wrongSentinel} {
		if strings.Contains(s, secret) {
			t.Errorf("%s contains a password: %s", what, s)
		}
	}
}

func checkResult(t *testing.T, r actions.Result) {
	t.Helper()
	if r.Err != nil {
		assertNoSecret(t, "Err", r.Err.Error())
	}
	assertNoSecret(t, "Response", r.Response)
}

func TestSend(t *testing.T) {
	tests := []struct {
		name     string
		srvTLS   smtpd.TLSMode
		tlsMode  string
		auth     string
		noAuth   bool
		wantMech string
	}{
		{name: "plaintext loopback PLAIN", srvTLS: smtpd.TLSNone, tlsMode: "none", auth: "", wantMech: "PLAIN"},
		{name: "plaintext loopback LOGIN", srvTLS: smtpd.TLSNone, tlsMode: "none", auth: "login", wantMech: "LOGIN"},
		{name: "plaintext without auth", srvTLS: smtpd.TLSNone, tlsMode: "none", noAuth: true},
		{name: "STARTTLS PLAIN", srvTLS: smtpd.TLSStartTLS, tlsMode: "", auth: "plain", wantMech: "PLAIN"},
		{name: "implicit TLS LOGIN", srvTLS: smtpd.TLSImplicit, tlsMode: "implicit", auth: "login", wantMech: "LOGIN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := smtpd.Options{TLS: tt.srvTLS, Username: "bot@example.com", Password: sentinel}
			if tt.noAuth {
				opts.Username, opts.Password = "", ""
			}
			srv := startSMTP(t, opts)
			cfg := connFor(srv, tt.tlsMode, tt.auth)
			if tt.noAuth {
				cfg.Username, cfg.Password = "", secret.String{}
			}
			s := New(cfg, Options{TLSConfig: srv.ClientTLSConfig()})

			r := s.Do(context.Background(), fullCall())
			checkResult(t, r)
			if !r.OK() || r.Reason != "ok" {
				t.Fatalf("Do = %+v, want ok", r)
			}
			if !strings.HasPrefix(r.Response, "250") {
				t.Errorf("Response = %q, want the 250 reply", r.Response)
			}
			msgs, err := srv.WaitForN(5*time.Second, 1)
			if err != nil {
				t.Fatal(err)
			}
			m := msgs[0]

			if m.MailFrom != "bot@example.com" {
				t.Errorf("MAIL FROM = %q", m.MailFrom)
			}
			wantRcpt := "ops@example.com,oncall@example.com,zoe@example.com,audit@example.com"
			if got := strings.Join(m.RcptTo, ","); got != wantRcpt {
				t.Errorf("RCPT TO = %s, want %s", got, wantRcpt)
			}
			if m.TLS != (tt.srvTLS != smtpd.TLSNone) {
				t.Errorf("TLS = %v for server mode %s", m.TLS, tt.srvTLS)
			}
			if m.Auth.Mechanism != tt.wantMech {
				t.Errorf("AUTH mechanism = %q, want %q", m.Auth.Mechanism, tt.wantMech)
			}
			if !tt.noAuth && m.Auth.Username != "bot@example.com" {
				t.Errorf("AUTH user = %q", m.Auth.Username)
			}
			if m.ParseErr != nil {
				t.Fatalf("message does not parse: %v\n%s", m.ParseErr, m.Raw)
			}
			if !strings.Contains(m.From, "Group bot") || !strings.Contains(m.From, "<bot@example.com>") {
				t.Errorf("From = %q", m.From)
			}
			if !strings.Contains(m.To, "ops@example.com") || !strings.Contains(m.To, "oncall@example.com") || !strings.Contains(m.To, "Ops Team") {
				t.Errorf("To = %q", m.To)
			}
			if !strings.Contains(m.Cc, "Zoë") || !strings.Contains(m.Cc, "zoe@example.com") {
				t.Errorf("Cc = %q (want the UTF-8 name decoded)", m.Cc)
			}
			if m.Subject != subjectUTF8 {
				t.Errorf("Subject = %q, want %q", m.Subject, subjectUTF8)
			}
			if got := m.HeaderDecoded("Reply-To"); !strings.Contains(got, "support@example.com") {
				t.Errorf("Reply-To = %q", got)
			}
			if strings.TrimRight(m.Text, "\n") != strings.TrimRight(bodyUTF8, "\n") {
				t.Errorf("text body = %q, want %q", m.Text, bodyUTF8)
			}
			if m.HTML != "<p>Hola <b>José</b></p>" {
				t.Errorf("html body = %q", m.HTML)
			}
			if strings.Contains(string(m.Raw), "audit@example.com") {
				t.Errorf("bcc address appears in the message data:\n%s", m.Raw)
			}
			wantID := "<" + messageID("hookd:3EB0AF:removal-alert:0", "bot@example.com") + ">"
			if got := m.Header.Get("Message-ID"); got != wantID {
				t.Errorf("Message-ID = %q, want %q", got, wantID)
			}
			if got := m.Header.Get(ReferenceHeader); got != "hookd:3EB0AF:removal-alert:0" {
				t.Errorf("%s = %q", ReferenceHeader, got)
			}
			assertNoSecret(t, "message data", string(m.Raw))
		})
	}
}

func TestMessageIDStableAcrossRetries(t *testing.T) {
	srv := startSMTP(t, smtpd.Options{})
	cfg := connFor(srv, "none", "")
	cfg.Username, cfg.Password = "", secret.String{}
	s := New(cfg, Options{})

	first, second := fullCall(), fullCall()
	other := fullCall()
	other.Reference = "hookd:3EB0AF:removal-alert:1"
	for _, c := range []actions.Call{first, second, other} {
		if r := s.Do(context.Background(), c); !r.OK() {
			t.Fatalf("Do: %v", r.Err)
		}
	}
	msgs, err := srv.WaitForN(5*time.Second, 3)
	if err != nil {
		t.Fatal(err)
	}
	id := func(i int) string { return msgs[i].Header.Get("Message-ID") }
	if id(0) == "" || id(0) != id(1) {
		t.Errorf("retries of one call got Message-IDs %q and %q, want the same", id(0), id(1))
	}
	if id(2) == id(0) {
		t.Errorf("another reference got the same Message-ID %q", id(2))
	}
}

func TestFailures(t *testing.T) {
	tests := []struct {
		name          string
		srv           smtpd.Options
		prime         func(*smtpd.Server)
		tlsMode       string
		password      string
		timeout       time.Duration
		host          string
		noTrust       bool
		wantRetry     bool
		wantReason    string
		wantInErr     []string
		wantDelivered int
	}{
		{
			name:      "451 at MAIL is temporary",
			prime:     func(s *smtpd.Server) { s.FailNext(1, 451, "greylisted, try later") },
			wantRetry: true, wantReason: "smtp_temporary",
			wantInErr: []string{"451", "greylisted"},
		},
		{
			name:      "451 at end of DATA is temporary",
			prime:     func(s *smtpd.Server) { s.FailNextAt(smtpd.StageData, 1, 451, "queue full") },
			wantRetry: true, wantReason: "smtp_temporary",
			wantInErr: []string{"451", "queue full"},
		},
		{
			name:      "550 at RCPT is permanent",
			prime:     func(s *smtpd.Server) { s.FailNextAt(smtpd.StageRcpt, 1, 550, "no such user") },
			wantRetry: false, wantReason: "smtp_permanent",
			wantInErr: []string{"550", "no such user", "recipient"},
		},
		{
			name:      "535 wrong password is permanent with a hint",
			password:  "wrong-" + sentinel,
			wantRetry: false, wantReason: "smtp_permanent",
			wantInErr: []string{"535", "username", "password"},
		},
		{
			name:      "hung server times out, retryable",
			prime:     func(s *smtpd.Server) { s.HangNext(1) },
			timeout:   300 * time.Millisecond,
			wantRetry: true, wantReason: "timeout",
			wantInErr: []string{"no answer in time"},
		},
		{
			name:      "STARTTLS required but not offered",
			tlsMode:   "starttls",
			wantRetry: false, wantReason: "smtp_permanent",
			wantInErr: []string{"STARTTLS"},
		},
		{
			name:      "implicit TLS against a plaintext server",
			tlsMode:   "implicit",
			wantRetry: false, wantReason: "smtp_permanent",
			wantInErr: []string{"did not answer with TLS"},
		},
		{
			name:      "untrusted certificate",
			srv:       smtpd.Options{TLS: smtpd.TLSImplicit},
			tlsMode:   "implicit",
			noTrust:   true,
			wantRetry: false, wantReason: "smtp_permanent",
			wantInErr: []string{"certificate"},
		},
		{
			// An IPv4-mapped loopback address is not a name go-mail
			// treats as loopback, so it must refuse to send the password.
			name:      "password over plaintext to a non-loopback name",
			tlsMode:   "none",
			host:      "::ffff:127.0.0.1",
			wantRetry: false, wantReason: "smtp_permanent",
			wantInErr: []string{"only over TLS"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := tt.srv
			opts.Username, opts.Password = "bot@example.com", sentinel
			srv := startSMTP(t, opts)
			if tt.prime != nil {
				tt.prime(srv)
			}
			tlsMode := tt.tlsMode
			if tlsMode == "" {
				tlsMode = "none"
			}
			cfg := connFor(srv, tlsMode, "")
			if tt.password != "" {
				cfg.Password = secret.New(tt.password)
			}
			if tt.timeout != 0 {
				cfg.Timeout = tt.timeout
			}
			if tt.host != "" {
				cfg.Host = tt.host
			}
			o := Options{TLSConfig: srv.ClientTLSConfig()}
			if tt.noTrust {
				o.TLSConfig = nil
			}
			s := New(cfg, o)
			r := s.Do(context.Background(), fullCall())
			checkResult(t, r)
			if r.OK() {
				t.Fatalf("Do succeeded, want %s", tt.wantReason)
			}
			if r.Retryable != tt.wantRetry || r.Reason != tt.wantReason {
				t.Errorf("Retryable=%v Reason=%q, want %v %q (err: %v)", r.Retryable, r.Reason, tt.wantRetry, tt.wantReason, r.Err)
			}
			msg := r.Err.Error()
			if !strings.Contains(msg, net.JoinHostPort(cfg.Host, srv.Addr()[strings.LastIndexByte(srv.Addr(), ':')+1:])) {
				t.Errorf("error does not name host:port: %v", msg)
			}
			for _, want := range tt.wantInErr {
				if !strings.Contains(msg, want) {
					t.Errorf("error lacks %q: %v", want, msg)
				}
			}
			if n := len(srv.Messages()); n != tt.wantDelivered {
				t.Errorf("server accepted %d messages, want %d", n, tt.wantDelivered)
			}
		})
	}
}

func TestNetworkErrorRetryable(t *testing.T) {
	// A port nothing listens on: take a free one and close it.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().(*net.TCPAddr)
	_ = ln.Close()
	s := New(&actions.EmailConfig{Host: "127.0.0.1", Port: addr.Port, TLS: "none", From: "bot@example.com", Timeout: 5 * time.Second}, Options{})
	r := s.Do(context.Background(), fullCall())
	if r.OK() || !r.Retryable || r.Reason != "network" {
		t.Fatalf("Do to a closed port = %+v, want retryable network", r)
	}
}

func TestRetryAfterTemporaryFailure(t *testing.T) {
	srv := startSMTP(t, smtpd.Options{})
	srv.FailNext(1, 421, "too busy")
	cfg := connFor(srv, "none", "")
	cfg.Username, cfg.Password = "", secret.String{}
	s := New(cfg, Options{})
	if r := s.Do(context.Background(), fullCall()); r.OK() || !r.Retryable {
		t.Fatalf("first attempt = %+v, want a retryable failure", r)
	}
	if r := s.Do(context.Background(), fullCall()); !r.OK() {
		t.Fatalf("second attempt = %+v, want ok", r)
	}
	if n := srv.Transactions(); n != 2 {
		t.Errorf("server saw %d transactions, want 2", n)
	}
}

func TestContextDeadlineShorterThanTimeout(t *testing.T) {
	srv := startSMTP(t, smtpd.Options{})
	srv.HangNext(1)
	cfg := connFor(srv, "none", "")
	cfg.Username, cfg.Password = "", secret.String{}
	cfg.Timeout = time.Hour
	s := New(cfg, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	r := s.Do(ctx, fullCall())
	if r.OK() || !r.Retryable || r.Reason != "timeout" {
		t.Fatalf("Do on a hung server with a short ctx = %+v, want retryable timeout", r)
	}
}

func TestCancelWhileHung(t *testing.T) {
	srv := startSMTP(t, smtpd.Options{})
	srv.HangNext(1)
	cfg := connFor(srv, "none", "")
	cfg.Username, cfg.Password = "", secret.String{}
	cfg.Timeout = time.Hour
	s := New(cfg, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan actions.Result, 1)
	go func() { done <- s.Do(ctx, fullCall()) }()
	if err := srv.WaitForTransactions(5*time.Second, 1); err != nil {
		t.Fatal(err)
	}
	cancel() // hookd shutting down while the server does not answer
	r := <-done
	if r.OK() || !r.Retryable || r.Reason != "canceled" {
		t.Fatalf("Do canceled on a hung server = %+v, want retryable canceled", r)
	}
}

func TestRateLimitHonoursContext(t *testing.T) {
	srv := startSMTP(t, smtpd.Options{})
	cfg := connFor(srv, "none", "")
	cfg.Username, cfg.Password = "", secret.String{}
	cfg.Rate = 0.001 // one message, then a very long wait
	s := New(cfg, Options{})
	if r := s.Do(context.Background(), fullCall()); !r.OK() {
		t.Fatalf("first send: %v", r.Err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := s.Do(ctx, fullCall())
	if r.OK() || !r.Retryable || r.Reason != "canceled" || !strings.Contains(r.Err.Error(), "rate limit") {
		t.Fatalf("second send with a cancelled ctx = %+v, want a retryable rate-limit wait failure", r)
	}
	if n := srv.Transactions(); n != 1 {
		t.Errorf("server saw %d transactions, want 1", n)
	}
}

func TestInvalid(t *testing.T) {
	good := &actions.EmailConfig{
		Host: "127.0.0.1", Port: 2525, TLS: "none",
		Username: "bot@example.com", Password: secret.New(sentinel),
		From: "Group bot <bot@example.com>",
	}
	tests := []struct {
		name      string
		cfg       func(*actions.EmailConfig)
		params    map[string]any
		wantInErr string
	}{
		{name: "empty to", params: map[string]any{"to": []any{""}, "subject": "s", "body": "b"}, wantInErr: "to is empty"},
		{name: "missing to", params: map[string]any{"subject": "s", "body": "b"}, wantInErr: "to is empty"},
		{name: "malformed to", params: map[string]any{"to": []any{"ops@example.com", "not an address"}, "subject": "s", "body": "b"}, wantInErr: `"not an address" is not an email address`},
		{name: "malformed cc", params: map[string]any{"to": "a@example.com", "cc": "x@", "subject": "s", "body": "b"}, wantInErr: "cc"},
		{name: "malformed reply_to", params: map[string]any{"to": "a@example.com", "reply_to": "nobody", "subject": "s"}, wantInErr: "reply_to"},
		{name: "header injection in to", params: map[string]any{"to": "a@example.com\r\nBcc: evil@example.com", "subject": "s"}, wantInErr: "not an email address"},
		{name: "list item not a string", params: map[string]any{"to": []any{42}, "subject": "s"}, wantInErr: "to[0]"},
		{name: "subject not text", params: map[string]any{"to": "a@example.com", "subject": map[string]any{"a": 1}}, wantInErr: "subject"},
		{name: "unknown tls", cfg: func(c *actions.EmailConfig) { c.TLS = "ssl" }, params: fullCall().Params, wantInErr: "connections.email.tls"},
		{name: "unknown auth", cfg: func(c *actions.EmailConfig) { c.Auth = "cram-md5" }, params: fullCall().Params, wantInErr: "connections.email.auth"},
		{name: "bad from", cfg: func(c *actions.EmailConfig) { c.From = "bot" }, params: fullCall().Params, wantInErr: "connections.email.from"},
		{name: "no host", cfg: func(c *actions.EmailConfig) { c.Host = "" }, params: fullCall().Params, wantInErr: "connections.email.host"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := *good
			if tt.cfg != nil {
				tt.cfg(&cfg)
			}
			s := New(&cfg, Options{})
			r := s.Do(context.Background(), newCall(tt.params))
			checkResult(t, r)
			if r.OK() || r.Retryable || r.Reason != "invalid" {
				t.Fatalf("Do = %+v, want permanent invalid", r)
			}
			if !strings.Contains(r.Err.Error(), tt.wantInErr) {
				t.Errorf("error %q lacks %q", r.Err, tt.wantInErr)
			}
			if _, err := s.Describe(newCall(tt.params)); err == nil {
				t.Errorf("Describe accepted what Do refuses")
			}
		})
	}
}

func TestDescribe(t *testing.T) {
	s := New(&actions.EmailConfig{
		Host: "smtp.example.com", Username: "bot@example.com", Password: secret.New(sentinel),
		From: "Group bot <bot@example.com>",
	}, Options{})
	got, err := s.Describe(fullCall())
	if err != nil {
		t.Fatal(err)
	}
	assertNoSecret(t, "Describe", got)
	id := messageID("hookd:3EB0AF:removal-alert:0", "bot@example.com")
	want := "SMTP smtp.example.com:587 (tls: starttls, auth: plain as bot@example.com)\n" +
		"MAIL FROM:<bot@example.com>\n" +
		"RCPT TO:<ops@example.com>\n" +
		"RCPT TO:<oncall@example.com>\n" +
		"RCPT TO:<zoe@example.com>\n" +
		"RCPT TO:<audit@example.com>\n" +
		"\n" +
		"From: Group bot <bot@example.com>\n" +
		"To: Ops Team <ops@example.com>, oncall@example.com\n" +
		"Cc: Zoë <zoe@example.com>\n" +
		"Reply-To: support@example.com\n" +
		"Subject: " + subjectUTF8 + "\n" +
		"Message-ID: <" + id + ">\n" +
		"X-Hookd-Reference: hookd:3EB0AF:removal-alert:0\n" +
		"\n" + bodyUTF8 +
		"\n--- text/html alternative ---\n<p>Hola <b>José</b></p>\n"
	if got != want {
		t.Errorf("Describe =\n%s\nwant\n%s", got, want)
	}
	if !strings.HasSuffix(id, "@example.com") || !strings.HasPrefix(id, "hookd.") {
		t.Errorf("message id %q: want hookd.<hash>@<from domain>", id)
	}
}

func TestDefaultPorts(t *testing.T) {
	tests := []struct {
		tls  string
		want string
	}{
		{"", "smtp.example.com:587"},
		{"starttls", "smtp.example.com:587"},
		{"implicit", "smtp.example.com:465"},
		{"none", "smtp.example.com:25"},
	}
	for _, tt := range tests {
		s := New(&actions.EmailConfig{Host: "smtp.example.com", TLS: tt.tls, From: "bot@example.com"}, Options{})
		if got := s.addr(); got != tt.want {
			t.Errorf("tls %q: address %s, want %s", tt.tls, got, tt.want)
		}
		d, err := s.Describe(newCall(map[string]any{"to": "a@example.com"}))
		if err != nil || !strings.Contains(d, "auth: none") {
			t.Errorf("tls %q: Describe = %q, %v; want auth: none", tt.tls, d, err)
		}
	}
}

// A server that echoes what it was sent in its reply (the password, or
// the base64 of PLAIN's or LOGIN's credentials) gets it masked in the
// Result, whatever runs the action (the daemon, hookd fire).
func TestEchoedPasswordMasked(t *testing.T) {
	plain := base64.StdEncoding.EncodeToString([]byte("\x00bot@example.com\x00" + sentinel))
	login := base64.StdEncoding.EncodeToString([]byte(sentinel))
	for _, tt := range []struct{ name, reply string }{
		{"password", "authentication failed for " + sentinel},
		{"PLAIN response", "bad credentials in AUTH PLAIN " + plain},
		{"LOGIN response", "bad password " + login},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := startSMTP(t, smtpd.Options{Username: "bot@example.com", Password: sentinel})
			srv.FailNext(1, 554, tt.reply)
			r := New(connFor(srv, "none", ""), Options{}).Do(context.Background(), fullCall())
			if r.OK() || r.Err == nil {
				t.Fatalf("Do = %+v, want the 554", r)
			}
			msg := r.Err.Error()
			for _, s := range []string{sentinel, plain, login} {
				if strings.Contains(msg, s) {
					t.Errorf("the error shows %q: %s", s, msg)
				}
			}
			if !strings.Contains(msg, "554") || !strings.Contains(msg, "<secret>") {
				t.Errorf("the error lacks the reply with the secret masked: %s", msg)
			}
		})
	}
}

func TestNoSecretInLogs(t *testing.T) {
	srv := startSMTP(t, smtpd.Options{Username: "bot@example.com", Password: sentinel})
	logger, logs := testLogger(t)
	for _, pw := range []string{sentinel, wrongSentinel} {
		cfg := connFor(srv, "none", "")
		cfg.Password = secret.New(pw)
		s := New(cfg, Options{Logger: logger})
		r := s.Do(context.Background(), fullCall())
		checkResult(t, r)
		if d, err := s.Describe(fullCall()); err != nil {
			t.Fatal(err)
		} else {
			assertNoSecret(t, "Describe", d)
		}
		logger.Info("result", "result", r, "cfg", cfg)
	}
	assertNoSecret(t, "logs", logs.String())
	if !strings.Contains(logs.String(), "535") {
		t.Errorf("the logged results lack the failed attempt: %s", logs.String())
	}
}

// Check finds what New refuses every send for, field by field, and
// leaves alone what skip says is not to be checked.
func TestCheck(t *testing.T) {
	unset := func(v string) bool { return strings.HasPrefix(v, "<unset ") }
	for _, tc := range []struct {
		name   string
		cfg    actions.EmailConfig
		fields []string
	}{
		{"good", actions.EmailConfig{Host: "smtp.example.com", TLS: "STARTTLS", Username: "u", Auth: "Login", From: "bot@example.com"}, nil},
		{"bad tls", actions.EmailConfig{TLS: "ssl", From: "bot@example.com"}, []string{"tls"}},
		{"port", actions.EmailConfig{Port: 70000, From: "bot@example.com"}, []string{"port"}},
		{"auth without username", actions.EmailConfig{Auth: "plain", From: "bot@example.com"}, []string{"auth"}},
		{"bad auth", actions.EmailConfig{Username: "u", Auth: "cram-md5", From: "bot@example.com"}, []string{"auth"}},
		{"bad from", actions.EmailConfig{From: "Group bot"}, []string{"from"}},
		{"unset values", actions.EmailConfig{TLS: "<unset T>", Auth: "<unset A>", From: "<unset F>"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, p := range Check(&tc.cfg, unset) {
				if !strings.Contains(p.Msg, "connections.email."+p.Field) {
					t.Errorf("problem of %s does not name it: %s", p.Field, p.Msg)
				}
				got = append(got, p.Field)
			}
			if !slices.Equal(got, tc.fields) {
				t.Errorf("Check = %v, want %v", got, tc.fields)
			}
		})
	}
}
