// Package email implements hookd's `email` action: one message per call,
// sent through the SMTP connection (connections.email) with
// github.com/wneessen/go-mail. It speaks STARTTLS, implicit TLS or (on
// loopback only) plaintext, authenticates with PLAIN or LOGIN, gives each
// message a Message-ID derived from the call's Reference so that a retried
// send is recognisable, and tells temporary SMTP failures (4xx, network,
// timeouts) from permanent ones (5xx, bad addresses).
package email

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	gomail "github.com/wneessen/go-mail"
	"golang.org/x/time/rate"

	"github.com/hookd/hookd/actions"
	"github.com/hookd/hookd/actions/httpx"
	"github.com/hookd/hookd/actions/secret"
)

// Defaults of the SMTP connection.
const (
	DefaultTimeout = 15 * time.Second
	DefaultRate    = 5.0

	PortStartTLS = 587
	PortImplicit = 465
	PortNone     = 25
)

// Reasons this package puts in actions.Result.Reason besides "ok",
// "invalid", "network", "timeout", "smtp_temporary" and "smtp_permanent".
const (
	// ReasonCanceled means hookd stopped the attempt (ctx canceled, e.g.
	// shutting down); retryable. The HTTP integrations use the same label.
	ReasonCanceled = "canceled"
	// ReasonTimeout means no answer before the deadline; retryable.
	ReasonTimeout = "timeout"
)

// TLS modes of connections.email.tls.
const (
	TLSStartTLS = "starttls"
	TLSImplicit = "implicit"
	TLSNone     = "none"
)

// Auth mechanisms of connections.email.auth.
const (
	AuthPlain = "plain"
	AuthLogin = "login"
)

// Options are the parts of a Sender that do not come from the rules file.
type Options struct {
	// TLSConfig, when set, is the TLS client configuration (e.g. one that
	// trusts a test CA). ServerName defaults to the connection's host.
	TLSConfig *tls.Config
	// Logger receives warnings (default: slog.Default()).
	Logger *slog.Logger
}

// Sender sends the `email` action through one SMTP connection. It is safe
// for concurrent use.
type Sender struct {
	host     string
	port     int
	tlsMode  string
	auth     string
	username string
	password secret.String
	// secrets are the connection's Secrets, masked in what the server
	// answers.
	secrets  []string
	from     string // the From header as configured
	fromAddr string // its bare address, the MAIL FROM
	timeout  time.Duration
	limiter  *rate.Limiter
	tls      *tls.Config
	logger   *slog.Logger
	// cfgErr is a connection problem found by New; every call fails with
	// it as "invalid".
	cfgErr error
}

var (
	_ actions.Action    = (*Sender)(nil)
	_ actions.Describer = (*Sender)(nil)
)

// New returns a Sender for the connection. A connection that cannot work
// (unknown tls or auth value, bad from address, no host) does not fail
// here: every call then returns a permanent "invalid" Result saying what
// to fix.
func New(cfg *actions.EmailConfig, opts Options) *Sender {
	s := &Sender{logger: opts.Logger}
	if s.logger == nil {
		s.logger = slog.Default()
	}
	if cfg == nil {
		cfg = &actions.EmailConfig{}
	}
	s.host = cfg.Host
	s.username = cfg.Username
	s.password = cfg.Password
	s.secrets = cfg.Secrets()
	s.from = cfg.From
	s.timeout = cfg.Timeout
	if s.timeout <= 0 {
		s.timeout = DefaultTimeout
	}
	r := cfg.Rate
	if r <= 0 {
		r = DefaultRate
	}
	s.limiter = rate.NewLimiter(rate.Limit(r), max(1, int(math.Ceil(r))))

	var problems []string
	if s.host == "" {
		problems = append(problems, "connections.email.host is empty; set it to the SMTP server's name")
	}
	for _, p := range Check(cfg, nil) {
		problems = append(problems, p.Msg)
	}
	s.tlsMode = strings.ToLower(strings.TrimSpace(cfg.TLS))
	if s.tlsMode == "" {
		s.tlsMode = TLSStartTLS
	}
	s.port = cfg.Port
	if s.port == 0 {
		switch s.tlsMode {
		case TLSImplicit:
			s.port = PortImplicit
		case TLSNone:
			s.port = PortNone
		default:
			s.port = PortStartTLS
		}
	}
	s.auth = strings.ToLower(strings.TrimSpace(cfg.Auth))
	if s.username != "" && s.auth == "" {
		s.auth = AuthPlain
	}
	if addr, err := parseAddress(cfg.From); err == nil {
		s.fromAddr = addr.Address
	}
	if len(problems) > 0 {
		s.cfgErr = fmt.Errorf("email: %s", strings.Join(problems, "; "))
	}

	if opts.TLSConfig != nil {
		s.tls = opts.TLSConfig.Clone()
	} else {
		s.tls = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	if s.tls.ServerName == "" {
		s.tls.ServerName = s.host
	}
	return s
}

// Check returns the problems of cfg's TLS mode, port, auth and from
// address: what New refuses every send for, and the rules loader
// reports at the field's line. skip, when not nil, says a
// value is not to be checked (an unset variable of a dry-run). An empty
// host is New's own problem: the loader asks for it only where an
// action sends email.
func Check(cfg *actions.EmailConfig, skip func(string) bool) []actions.Problem {
	checks := func(v string) bool { return skip == nil || !skip(v) }
	var out []actions.Problem
	add := func(field, format string, args ...any) {
		out = append(out, actions.Problem{Field: field, Msg: fmt.Sprintf(format, args...)})
	}
	mode := strings.ToLower(strings.TrimSpace(cfg.TLS))
	if checks(cfg.TLS) {
		switch mode {
		case "", TLSStartTLS, TLSImplicit, TLSNone:
		default:
			add("tls", "connections.email.tls is %q; use starttls (port 587), implicit (port 465) or none (loopback test servers only)", cfg.TLS)
		}
	}
	if cfg.Port < 0 || cfg.Port > 65535 {
		add("port", "connections.email.port %d is not a TCP port; use 587, 465 or 25", cfg.Port)
	}
	auth := strings.ToLower(strings.TrimSpace(cfg.Auth))
	if checks(cfg.Auth) {
		switch {
		case cfg.Username == "" && auth != "":
			add("auth", "connections.email.auth is %q but username is empty; set username (and password) or remove auth", cfg.Auth)
		case auth != "" && auth != AuthPlain && auth != AuthLogin:
			add("auth", "connections.email.auth is %q; use plain or login", cfg.Auth)
		}
	}
	if checks(cfg.From) {
		if _, err := parseAddress(cfg.From); err != nil {
			add("from", "connections.email.from %q is not an address (%v); use e.g. \"Group bot <bot@example.com>\"", cfg.From, err)
		}
	}
	return out
}

// PlaintextProblem is the problem of a password that would go in
// plaintext to a server other than this machine, which the sender
// refuses at each send (checked there by the SMTP client): the rules
// loader reports it at load; "" when there is none.
func PlaintextProblem(cfg *actions.EmailConfig) string {
	if strings.ToLower(strings.TrimSpace(cfg.TLS)) != TLSNone || cfg.Username == "" || Loopback(cfg.Host) {
		return ""
	}
	return fmt.Sprintf("connections.email.tls: none sends the username and password in plaintext, which hookd does only to a loopback server (localhost, 127.0.0.1, ::1), not to %q: set tls to starttls or implicit, or remove username for a relay without authentication", cfg.Host)
}

// Loopback reports whether host names this machine's loopback
// interface (localhost, 127.0.0.1 or ::1): the only servers hookd sends
// a username and password to without TLS, as Go's SMTP client does.
func Loopback(host string) bool {
	return host == "localhost" || host == "127.0.0.1" || host == "::1"
}

// addr is host:port of the server.
func (s *Sender) addr() string { return net.JoinHostPort(s.host, fmt.Sprint(s.port)) }

// Do sends the call's message once. It waits for the connection's rate
// limit, bounds the send by the connection's timeout and ctx, and
// classifies a failure as retryable or not. The password is masked in
// what the server answered, should it echo the credentials it was sent.
func (s *Sender) Do(ctx context.Context, call actions.Call) actions.Result {
	r := s.do(ctx, call)
	r.Err = httpx.ScrubError(r.Err, s.secrets...)
	r.Response = httpx.Scrub(r.Response, s.secrets...)
	return r
}

func (s *Sender) do(ctx context.Context, call actions.Call) actions.Result {
	if s.cfgErr != nil {
		return invalid(s.cfgErr)
	}
	p, err := s.prepare(call)
	if err != nil {
		return invalid(err)
	}
	msg, err := s.message(p)
	if err != nil {
		return invalid(err)
	}
	if err := s.limiter.Wait(ctx); err != nil {
		reason := ReasonTimeout
		if errors.Is(ctx.Err(), context.Canceled) {
			reason = ReasonCanceled
		}
		return actions.Result{
			Err:       fmt.Errorf("email: %s: waiting for the rate limit: %w", s.addr(), err),
			Retryable: true,
			Reason:    reason,
		}
	}

	timeout := s.timeout
	if dl, ok := ctx.Deadline(); ok {
		timeout = min(timeout, time.Until(dl))
	}
	if timeout <= 0 {
		return actions.Result{
			Err:       fmt.Errorf("email: %s: no time left to send: %w", s.addr(), context.DeadlineExceeded),
			Retryable: true,
			Reason:    ReasonTimeout,
		}
	}
	sendCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	d := &dialer{ctx: sendCtx, addr: s.addr(), implicit: s.tlsMode == TLSImplicit, tls: s.tls}
	defer d.release()
	client, err := s.client(timeout, d)
	if err != nil {
		return invalid(fmt.Errorf("email: %s: set up the SMTP client: %w", s.addr(), err))
	}
	err = client.DialAndSendWithContext(sendCtx, msg)
	if err != nil && msg.IsDelivered() {
		// The server took the message; only the goodbye failed.
		s.logger.Warn("email: message accepted, closing the connection failed",
			"action", call.Name, "server", s.addr(), "err", httpx.ScrubError(err, s.secrets...))
		err = nil
	}
	if err != nil {
		return s.classify(ctx, sendCtx, d, err)
	}
	resp := "250 " + msg.ServerResponse()
	return actions.Result{Response: strings.TrimSpace(resp), Reason: "ok"}
}

// client builds a go-mail client for one send.
func (s *Sender) client(timeout time.Duration, d *dialer) (*gomail.Client, error) {
	opts := []gomail.Option{
		gomail.WithTimeout(timeout),
		gomail.WithTLSConfig(s.tls),
		gomail.WithDialContextFunc(d.dial),
	}
	switch s.tlsMode {
	case TLSImplicit:
		// The dialer does the handshake; go-mail must not try STARTTLS.
		opts = append(opts, gomail.WithSSL())
	case TLSNone:
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	default:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	}
	if s.username != "" {
		// PLAIN and LOGIN refuse to send credentials without TLS unless
		// the host is loopback; hookd keeps that protection.
		mech := gomail.SMTPAuthPlain
		if s.auth == AuthLogin {
			mech = gomail.SMTPAuthLogin
		}
		opts = append(opts,
			gomail.WithSMTPAuth(mech),
			gomail.WithUsername(s.username),
			gomail.WithPassword(s.password.Reveal()))
	}
	opts = append(opts, gomail.WithPort(s.port))
	return gomail.NewClient(s.host, opts...)
}

func invalid(err error) actions.Result {
	return actions.Result{Err: err, Retryable: false, Reason: "invalid"}
}

// dialer opens the connection for one send. It does the implicit TLS
// handshake itself, closes the connection when the send's context ends
// (go-mail only bounds commands by its timeout), and notes whether a read
// or write timed out.
type dialer struct {
	ctx context.Context
	// addr is host:port, joined so that IPv6 literals work (go-mail
	// v0.8.1 passes "host:port" unbracketed).
	addr     string
	implicit bool
	tls      *tls.Config
	timedOut atomic.Bool

	mu    sync.Mutex
	stops []func() bool
}

func (d *dialer) dial(ctx context.Context, network, _ string) (net.Conn, error) {
	var nd net.Dialer
	raw, err := nd.DialContext(ctx, network, d.addr)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	d.stops = append(d.stops, context.AfterFunc(d.ctx, func() { _ = raw.Close() }))
	d.mu.Unlock()
	conn := net.Conn(&trackedConn{Conn: raw, d: d})
	if d.implicit {
		// Return the *tls.Conn itself: go-mail only treats the session as
		// encrypted when it is one.
		tc := tls.Client(conn, d.tls)
		if err := tc.HandshakeContext(ctx); err != nil {
			_ = raw.Close()
			return nil, fmt.Errorf("TLS handshake: %w", err)
		}
		conn = tc
	}
	return conn, nil
}

func (d *dialer) release() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, stop := range d.stops {
		stop()
	}
}

type trackedConn struct {
	net.Conn
	d *dialer
}

func (c *trackedConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.note(err)
	return n, err
}

func (c *trackedConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	c.note(err)
	return n, err
}

func (c *trackedConn) note(err error) {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		c.d.timedOut.Store(true)
	}
}
