package email

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/textproto"
	"strings"

	gomail "github.com/wneessen/go-mail"
	gosmtp "github.com/wneessen/go-mail/smtp"

	"github.com/hookd/hookd/actions"
)

// classify turns a failed send into a Result: SMTP 4xx, network errors and
// timeouts are retryable; SMTP 5xx, TLS trust problems and connection
// settings the server cannot work with are not. The error names the
// server and its reply, never the password.
func (s *Sender) classify(parent, sendCtx context.Context, d *dialer, err error) actions.Result {
	where := "email: send via " + s.addr()

	var se *gomail.SendError
	var te *textproto.Error
	switch {
	case errors.As(err, &se) && se.ErrorCode() >= 400:
		return s.smtpReply(where, se.ErrorCode(), err)
	case errors.As(err, &te) && te.Code >= 400:
		return s.smtpReply(where, te.Code, err)
	}

	switch {
	case errors.Is(parent.Err(), context.Canceled):
		return actions.Result{
			Err:       fmt.Errorf("%s: canceled by hookd (shutting down or the job was stopped): %w", where, err),
			Retryable: true,
			Reason:    ReasonCanceled,
		}
	case d.timedOut.Load() || sendCtx.Err() != nil:
		hint := ""
		if s.tlsMode != TLSImplicit && s.port == PortImplicit {
			hint = "; port 465 expects implicit TLS: set connections.email.tls to implicit"
		}
		return actions.Result{
			Err:       fmt.Errorf("%s: no answer in time: %w%s", where, err, hint),
			Retryable: true,
			Reason:    ReasonTimeout,
		}
	}

	if hint, ok := s.settingProblem(err); ok {
		return actions.Result{
			Err:       fmt.Errorf("%s: %w; %s", where, err, hint),
			Retryable: false,
			Reason:    "smtp_permanent",
		}
	}
	return actions.Result{
		Err:       fmt.Errorf("%s: %w", where, err),
		Retryable: true,
		Reason:    "network",
	}
}

// smtpReply classifies a failure that carries an SMTP reply code.
func (s *Sender) smtpReply(where string, code int, err error) actions.Result {
	if code < 500 {
		return actions.Result{
			Err:       fmt.Errorf("%s: temporary SMTP failure: %w", where, err),
			Retryable: true,
			Reason:    "smtp_temporary",
		}
	}
	hint := ""
	lower := strings.ToLower(err.Error())
	switch {
	case code == 535 || code == 534 || strings.Contains(lower, "auth failed"):
		hint = fmt.Sprintf("; the server refused the credentials: check connections.email.username (%q) and password, and auth (plain or login)", s.username)
	case code == 530 && strings.Contains(lower, "starttls"):
		hint = "; the server wants STARTTLS first: set connections.email.tls to starttls"
	case code == 530:
		hint = "; the server requires authentication: set connections.email.username and password"
	case code >= 550 && code <= 553:
		hint = "; the server refused the sender or a recipient: check connections.email.from and the rule's to, cc and bcc"
	case code == 552 || code == 554:
		hint = "; the server rejected the message (size, content or policy)"
	}
	return actions.Result{
		Err:       fmt.Errorf("%s: permanent SMTP failure: %w%s", where, err, hint),
		Retryable: false,
		Reason:    "smtp_permanent",
	}
}

// settingProblem recognises failures that retrying cannot fix: the
// connection's settings do not match what the server offers. The texts
// matched are go-mail v0.8.1's.
func (s *Sender) settingProblem(err error) (string, bool) {
	var certErr *tls.CertificateVerificationError
	var unknownCA x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var recErr tls.RecordHeaderError
	msg := err.Error()
	switch {
	case errors.As(err, &certErr) || errors.As(err, &unknownCA) || errors.As(err, &hostErr):
		return fmt.Sprintf("the server's TLS certificate is not valid for %q: fix the server's certificate or connections.email.host", s.host), true
	case errors.As(err, &recErr):
		return "the server did not answer with TLS: implicit TLS is for port 465; for port 587 set connections.email.tls to starttls", true
	case errors.Is(err, gosmtp.ErrUnencrypted):
		return "hookd sends passwords only over TLS (plaintext is allowed for loopback servers only): set connections.email.tls to starttls or implicit", true
	case errors.Is(err, gomail.ErrPlainAuthNotSupported), errors.Is(err, gomail.ErrLoginAuthNotSupported):
		return "the server does not offer this AUTH mechanism: set connections.email.auth to the other one (plain or login)", true
	case strings.Contains(msg, "does not support STARTTLS"):
		return "the server does not offer STARTTLS: use tls: implicit for port 465, or tls: none for a loopback test server", true
	case strings.Contains(msg, "does not support SMTP AUTH"):
		return "the server does not offer AUTH (often only after STARTTLS): check connections.email.tls, or remove username for a server without authentication", true
	}
	return "", false
}
