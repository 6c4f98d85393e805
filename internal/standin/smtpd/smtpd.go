// Package smtpd is a real SMTP server that runs in process on loopback,
// built on github.com/emersion/go-smtp. hookd's tests and local runs point
// the email action at it: it speaks plaintext, STARTTLS or implicit TLS
// with an in-memory certificate, checks AUTH PLAIN and LOGIN, records every
// message it accepts (envelope, auth, raw data, decoded headers and body),
// and can be told to fail or hang at MAIL, RCPT or DATA.
package smtpd

import (
	"context"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// TLSMode is how the server secures its sessions.
type TLSMode string

// TLS modes.
const (
	// TLSNone serves plaintext; AUTH is allowed without TLS.
	TLSNone TLSMode = "none"
	// TLSStartTLS serves plaintext, advertises STARTTLS and refuses AUTH
	// and MAIL until the client upgraded.
	TLSStartTLS TLSMode = "starttls"
	// TLSImplicit serves TLS from the first byte (as on port 465).
	TLSImplicit TLSMode = "implicit"
)

// Stage is the SMTP command a programmed failure answers.
type Stage string

// Stages a failure can be programmed at.
const (
	StageMail Stage = "MAIL"
	StageRcpt Stage = "RCPT"
	// StageData fails the end of DATA, after the message was sent.
	StageData Stage = "DATA"
)

// Options configures a Server.
type Options struct {
	// Username and Password, when Username is set, make AUTH PLAIN and
	// LOGIN advertised and required before MAIL; wrong credentials get
	// 535.
	Username string
	Password string
	// TLS is the TLS mode ("" means TLSNone).
	TLS TLSMode
	// Domain is the name in the greeting (default "localhost").
	Domain string
	// ReadTimeout bounds the wait for each client command (default 30s).
	ReadTimeout time.Duration
	// Logger receives the server's connection errors at debug level
	// (default: discarded).
	Logger *slog.Logger
}

// Server is a running SMTP server on 127.0.0.1.
type Server struct {
	opts     Options
	srv      *smtp.Server
	ln       net.Listener
	cert     *x509.Certificate
	done     chan struct{}
	served   chan error
	closeErr error
	once     sync.Once

	connMu sync.Mutex
	conns  map[*trackedConn]struct{} // guarded by connMu: accepted, not yet closed

	mu           sync.Mutex
	msgs         []Message
	changed      chan struct{} // closed and replaced on every message and MAIL
	plan         []fault
	transactions int
	authFailures int
}

type fault struct {
	stage Stage
	hang  bool
	code  int
	msg   string
}

// Start listens on 127.0.0.1 on a free port and serves until Close.
func Start(opts Options) (*Server, error) {
	if opts.TLS == "" {
		opts.TLS = TLSNone
	}
	switch opts.TLS {
	case TLSNone, TLSStartTLS, TLSImplicit:
	default:
		return nil, fmt.Errorf("smtpd: unknown TLS mode %q; use %q, %q or %q", opts.TLS, TLSNone, TLSStartTLS, TLSImplicit)
	}
	if opts.Domain == "" {
		opts.Domain = "localhost"
	}
	if opts.ReadTimeout <= 0 {
		opts.ReadTimeout = 30 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}

	cert, leaf, err := selfSigned()
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("smtpd: listen on 127.0.0.1: %w", err)
	}

	s := &Server{
		opts:    opts,
		cert:    leaf,
		done:    make(chan struct{}),
		served:  make(chan error, 1),
		changed: make(chan struct{}),
		conns:   make(map[*trackedConn]struct{}),
	}
	// Track the plain TCP connections (under TLS, for implicit TLS) so that
	// Close can end them itself: see Close.
	ln = &trackingListener{Listener: ln, s: s}
	srv := smtp.NewServer(smtp.BackendFunc(s.newSession))
	srv.Domain = opts.Domain
	srv.ReadTimeout = opts.ReadTimeout
	srv.WriteTimeout = opts.ReadTimeout
	srv.MaxMessageBytes = 10 << 20
	srv.MaxRecipients = 100
	srv.AllowInsecureAuth = opts.TLS == TLSNone
	srv.ErrorLog = slogAdapter{opts.Logger}
	if opts.TLS != TLSNone {
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	if opts.TLS == TLSImplicit {
		ln = tls.NewListener(ln, srv.TLSConfig)
	}
	s.srv = srv
	s.ln = ln
	go func() { s.served <- srv.Serve(ln) }()
	return s, nil
}

// Addr returns the host:port the server listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Host returns the host the server listens on ("127.0.0.1").
func (s *Server) Host() string {
	h, _, _ := net.SplitHostPort(s.Addr())
	return h
}

// Port returns the port the server listens on.
func (s *Server) Port() int {
	_, p, _ := net.SplitHostPort(s.Addr())
	n, _ := strconv.Atoi(p)
	return n
}

// ClientTLSConfig returns a client configuration that trusts the server's
// in-memory certificate (valid for 127.0.0.1, ::1 and localhost). Each call
// returns a new value the caller may change.
func (s *Server) ClientTLSConfig() *tls.Config {
	pool := x509.NewCertPool()
	pool.AddCert(s.cert)
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
}

// closeWait bounds how long Close waits for go-smtp's connection
// goroutines once their connections are closed.
const closeWait = 5 * time.Second

// Close stops the server: it closes the listener and every connection,
// releases sessions held by HangNext, and returns once every session has
// ended. It is safe to call more than once.
//
// It does not call go-smtp's Server.Close, which races with STARTTLS:
// Server.Close calls Conn.Close on every live connection, which reads the
// Conn's net.Conn field (go-smtp v0.25.1 conn.go:183), while the
// connection's goroutine replaces that field with the TLS connection
// without the Conn's lock (conn.go:940). Instead Close works only with
// what is safe to share:
//
//  1. closing the listener makes Serve return; after that go-smtp starts
//     no more connection goroutines;
//  2. closing the accepted TCP connections (net.Conn methods are safe for
//     concurrent use) ends every session: a read or handshake in progress
//     fails, and a hung session, released by done, finds its connection
//     closed;
//  3. Shutdown waits for the connection goroutines to return and touches
//     no Conn. It is bounded by closeWait in case one does not end.
func (s *Server) Close() error {
	s.once.Do(func() {
		// net.ErrClosed is expected: Serve returns it once its listener is
		// closed, and Shutdown gets it closing the listener again.
		var errs []error
		keep := func(err error) {
			if err != nil && !errors.Is(err, net.ErrClosed) {
				errs = append(errs, err)
			}
		}
		close(s.done)
		// Serve may not have registered the listener with go-smtp yet;
		// closing it here makes Serve return either way.
		keep(s.ln.Close())
		keep(<-s.served)
		s.connMu.Lock()
		for c := range s.conns {
			keep(c.Conn.Close())
		}
		s.connMu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), closeWait)
		defer cancel()
		if err := s.srv.Shutdown(ctx); errors.Is(err, context.DeadlineExceeded) {
			keep(fmt.Errorf("sessions still running %s after their connections were closed", closeWait))
		} else {
			keep(err)
		}
		if len(errs) > 0 {
			s.closeErr = fmt.Errorf("smtpd: close: %w", errors.Join(errs...))
		}
	})
	return s.closeErr
}

// trackingListener records the connections it accepts in s.conns until
// they are closed, so that Close can close them.
type trackingListener struct {
	net.Listener
	s *Server
}

// Accept implements net.Listener.
func (l *trackingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	tc := &trackedConn{Conn: c, s: l.s}
	l.s.connMu.Lock()
	l.s.conns[tc] = struct{}{}
	l.s.connMu.Unlock()
	return tc, nil
}

// trackedConn is an accepted connection that leaves s.conns when closed.
type trackedConn struct {
	net.Conn
	s *Server
}

// Close implements net.Conn.
func (c *trackedConn) Close() error {
	c.s.connMu.Lock()
	delete(c.s.conns, c)
	c.s.connMu.Unlock()
	return c.Conn.Close()
}

// Messages returns a copy of the messages accepted so far, in order.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.msgs...)
}

// Transactions returns how many MAIL FROM commands the server received,
// failed ones included: a count of delivery attempts.
func (s *Server) Transactions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.transactions
}

// AuthFailures returns how many AUTH attempts were refused.
func (s *Server) AuthFailures() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.authFailures
}

// WaitFor waits until cond, called with the messages accepted so far,
// returns true, and returns those messages. It re-checks on every new
// message (and MAIL command) and gives up with an error after timeout or when the server
// closes.
func (s *Server) WaitFor(timeout time.Duration, cond func([]Message) bool) ([]Message, error) {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		s.mu.Lock()
		msgs := append([]Message(nil), s.msgs...)
		changed := s.changed
		s.mu.Unlock()
		if cond(msgs) {
			return msgs, nil
		}
		select {
		case <-changed:
		case <-timer.C:
			return msgs, fmt.Errorf("smtpd: condition not met within %s (%d messages received)", timeout, len(msgs))
		case <-s.done:
			return msgs, fmt.Errorf("smtpd: server closed while waiting (%d messages received)", len(msgs))
		}
	}
}

// WaitForTransactions waits until at least n MAIL FROM commands arrived
// (see Transactions), e.g. until a hung send has reached the server.
func (s *Server) WaitForTransactions(timeout time.Duration, n int) error {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		s.mu.Lock()
		got, changed := s.transactions, s.changed
		s.mu.Unlock()
		if got >= n {
			return nil
		}
		select {
		case <-changed:
		case <-timer.C:
			return fmt.Errorf("smtpd: %d MAIL commands within %s, want %d", got, timeout, n)
		case <-s.done:
			return fmt.Errorf("smtpd: server closed while waiting (%d MAIL commands)", got)
		}
	}
}

// WaitForN waits until at least n messages were accepted.
func (s *Server) WaitForN(timeout time.Duration, n int) ([]Message, error) {
	return s.WaitFor(timeout, func(m []Message) bool { return len(m) >= n })
}

// FailNext makes the next n MAIL FROM commands fail with code and msg
// (e.g. 451 for a temporary failure, 550 for a permanent one).
func (s *Server) FailNext(n, code int, msg string) { s.FailNextAt(StageMail, n, code, msg) }

// FailNextAt queues n failures with code and msg at stage. Programmed
// failures and hangs are consumed in the order they were queued: the
// first one waits until a command of its stage arrives.
func (s *Server) FailNextAt(stage Stage, n, code int, msg string) {
	s.queue(n, fault{stage: stage, code: code, msg: msg})
}

// HangNext makes the next n MAIL FROM commands get no answer until the
// server closes, so that the client times out.
func (s *Server) HangNext(n int) { s.HangNextAt(StageMail, n) }

// HangNextAt queues n hangs at stage (see FailNextAt for the order).
func (s *Server) HangNextAt(stage Stage, n int) {
	s.queue(n, fault{stage: stage, hang: true})
}

func (s *Server) queue(n int, f fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.plan = append(s.plan, f)
	}
}

// takeFault consumes the head of the plan when it is for stage.
func (s *Server) takeFault(stage Stage) error {
	s.mu.Lock()
	if len(s.plan) == 0 || s.plan[0].stage != stage {
		s.mu.Unlock()
		return nil
	}
	f := s.plan[0]
	s.plan = s.plan[1:]
	s.mu.Unlock()

	if f.hang {
		<-s.done
		return &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 3, 2}, Message: "Service shutting down"}
	}
	return &smtp.SMTPError{Code: f.code, EnhancedCode: smtp.EnhancedCodeNotSet, Message: f.msg}
}

func (s *Server) record(m Message) {
	m.parse()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.msgs = append(s.msgs, m)
	s.notify()
}

// notify wakes the waiters; call it with s.mu held.
func (s *Server) notify() {
	close(s.changed)
	s.changed = make(chan struct{})
}

func (s *Server) newSession(c *smtp.Conn) (smtp.Session, error) {
	return &session{s: s, conn: c}, nil
}

var (
	errNeedTLS  = &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "Must issue a STARTTLS command first"}
	errNeedAuth = &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "Authentication required"}
)

// session is one SMTP session; go-smtp calls it from one goroutine.
type session struct {
	s    *Server
	conn *smtp.Conn
	auth Auth
	from string
	rcpt []string
}

func (ss *session) isTLS() bool {
	_, ok := ss.conn.TLSConnectionState()
	return ok
}

// AuthMechanisms implements smtp.AuthSession.
func (ss *session) AuthMechanisms() []string {
	if ss.s.opts.Username == "" {
		return nil
	}
	return []string{sasl.Plain, sasl.Login}
}

// Auth implements smtp.AuthSession.
func (ss *session) Auth(mech string) (sasl.Server, error) {
	switch mech {
	case sasl.Plain:
		return sasl.NewPlainServer(func(_, user, pass string) error {
			return ss.check(sasl.Plain, user, pass)
		}), nil
	case sasl.Login:
		return &loginServer{check: func(user, pass string) error {
			return ss.check(sasl.Login, user, pass)
		}}, nil
	default:
		return nil, smtp.ErrAuthUnknownMechanism
	}
}

func (ss *session) check(mech, user, pass string) error {
	o := ss.s.opts
	okUser := subtle.ConstantTimeCompare([]byte(user), []byte(o.Username)) == 1
	okPass := subtle.ConstantTimeCompare([]byte(pass), []byte(o.Password)) == 1
	if o.Username == "" || !okUser || !okPass {
		ss.s.mu.Lock()
		ss.s.authFailures++
		ss.s.mu.Unlock()
		return smtp.ErrAuthFailed
	}
	ss.auth = Auth{Mechanism: mech, Username: user}
	return nil
}

// Mail implements smtp.Session.
func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	ss.s.mu.Lock()
	ss.s.transactions++
	ss.s.notify()
	ss.s.mu.Unlock()
	if ss.s.opts.TLS == TLSStartTLS && !ss.isTLS() {
		return errNeedTLS
	}
	if ss.s.opts.Username != "" && ss.auth.Mechanism == "" {
		return errNeedAuth
	}
	if err := ss.s.takeFault(StageMail); err != nil {
		return err
	}
	ss.from = from
	ss.rcpt = nil
	return nil
}

// Rcpt implements smtp.Session.
func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if err := ss.s.takeFault(StageRcpt); err != nil {
		return err
	}
	ss.rcpt = append(ss.rcpt, to)
	return nil
}

// Data implements smtp.Session.
func (ss *session) Data(r io.Reader) error {
	if err := ss.s.takeFault(StageData); err != nil {
		return err
	}
	raw, err := io.ReadAll(r)
	if err != nil {
		return fmt.Errorf("read data: %w", err)
	}
	ss.s.record(Message{
		MailFrom: ss.from,
		RcptTo:   append([]string(nil), ss.rcpt...),
		TLS:      ss.isTLS(),
		Auth:     ss.auth,
		Raw:      raw,
	})
	return nil
}

// Reset implements smtp.Session.
func (ss *session) Reset() {
	ss.from = ""
	ss.rcpt = nil
}

// Logout implements smtp.Session.
func (ss *session) Logout() error { return nil }

// loginServer is the server side of the LOGIN mechanism: it asks for the
// username (unless the client sent it with AUTH) and then the password.
type loginServer struct {
	step  int
	user  string
	check func(user, pass string) error
}

// Next implements sasl.Server.
func (l *loginServer) Next(resp []byte) ([]byte, bool, error) {
	switch l.step {
	case 0:
		if resp == nil {
			l.step = 1
			return []byte("Username:"), false, nil
		}
		l.user, l.step = string(resp), 2
		return []byte("Password:"), false, nil
	case 1:
		l.user, l.step = string(resp), 2
		return []byte("Password:"), false, nil
	case 2:
		l.step = 3
		if err := l.check(l.user, string(resp)); err != nil {
			return nil, false, err
		}
		return nil, true, nil
	default:
		return nil, false, sasl.ErrUnexpectedClientResponse
	}
}

// slogAdapter lets go-smtp log through slog.
type slogAdapter struct{ l *slog.Logger }

func (a slogAdapter) Printf(format string, v ...any) {
	a.l.Log(context.Background(), slog.LevelDebug, fmt.Sprintf(format, v...), "component", "smtpd")
}

func (a slogAdapter) Println(v ...any) {
	a.l.Log(context.Background(), slog.LevelDebug, fmt.Sprint(v...), "component", "smtpd")
}
