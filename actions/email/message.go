package email

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/mail"
	"strings"

	gomail "github.com/wneessen/go-mail"

	"github.com/hookd/hookd/actions"
)

// ReferenceHeader carries the call's Reference in every message.
const ReferenceHeader = actions.ReferenceHeader

// prepared is a call's message, validated and ready to build or describe.
type prepared struct {
	to, cc, bcc []*mail.Address
	replyTo     *mail.Address
	subject     string
	body        string
	html        string
	messageID   string // without angle brackets; "" when there is no Reference
	reference   string
}

// prepare reads and checks the call's rendered fields.
func (s *Sender) prepare(call actions.Call) (*prepared, error) {
	p := &prepared{reference: call.Reference}
	var errs []error
	list := func(field string) []*mail.Address {
		addrs, err := addressList(field, call.Params[field])
		if err != nil {
			errs = append(errs, err)
		}
		return addrs
	}
	text := func(field string) string {
		v, err := str(field, call.Params[field])
		if err != nil {
			errs = append(errs, err)
		}
		return v
	}
	p.to = list("to")
	p.cc = list("cc")
	p.bcc = list("bcc")
	if rt := text("reply_to"); strings.TrimSpace(rt) != "" {
		a, err := parseAddress(rt)
		if err != nil {
			errs = append(errs, fmt.Errorf("reply_to %q is not an email address (%v); fix the rule's reply_to or the template that renders it", rt, err))
		}
		p.replyTo = a
	}
	p.subject = text("subject")
	p.body = text("body")
	p.html = text("html")
	if len(p.to) == 0 && len(errs) == 0 {
		errs = append(errs, errors.New("to is empty after rendering; give the rule at least one recipient (a template that renders to an empty string or list leaves none)"))
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("email: %w", errors.Join(errs...))
	}
	if call.Reference != "" {
		p.messageID = messageID(call.Reference, s.fromAddr)
	}
	return p, nil
}

// messageID derives a Message-ID from the reference: the same call, also
// when retried, always gets the same id.
func messageID(reference, from string) string {
	sum := sha256.Sum256([]byte(reference))
	domain := "hookd.invalid"
	if i := strings.LastIndexByte(from, '@'); i >= 0 && i < len(from)-1 {
		domain = from[i+1:]
	}
	return "hookd." + hex.EncodeToString(sum[:16]) + "@" + domain
}

// message builds the go-mail message.
func (s *Sender) message(p *prepared) (*gomail.Msg, error) {
	m := gomail.NewMsg(gomail.WithNoDefaultUserAgent())
	if err := m.From(s.from); err != nil {
		return nil, fmt.Errorf("email: connections.email.from %q: %w", s.from, err)
	}
	m.ToMailAddress(p.to...)
	if len(p.cc) > 0 {
		m.CcMailAddress(p.cc...)
	}
	if len(p.bcc) > 0 {
		m.BccMailAddress(p.bcc...)
	}
	if p.replyTo != nil {
		m.ReplyToMailAddress(p.replyTo)
	}
	m.Subject(p.subject)
	m.SetDate()
	if p.messageID != "" {
		m.SetMessageIDWithValue(p.messageID)
		m.SetGenHeader(ReferenceHeader, p.reference)
	} else {
		m.SetMessageID()
	}
	m.SetUserAgent("hookd")
	m.SetBodyString(gomail.TypeTextPlain, p.body)
	if p.html != "" {
		m.AddAlternativeString(gomail.TypeTextHTML, p.html)
	}
	return m, nil
}

// Describe shows the envelope, headers and body Do would send. The
// password is never shown.
func (s *Sender) Describe(call actions.Call) (string, error) {
	if s.cfgErr != nil {
		return "", s.cfgErr
	}
	p, err := s.prepare(call)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	auth := "none"
	if s.username != "" {
		auth = s.auth + " as " + s.username
	}
	fmt.Fprintf(&b, "SMTP %s (tls: %s, auth: %s)\n", s.addr(), s.tlsMode, auth)
	fmt.Fprintf(&b, "MAIL FROM:<%s>\n", s.fromAddr)
	for _, group := range [][]*mail.Address{p.to, p.cc, p.bcc} {
		for _, a := range group {
			fmt.Fprintf(&b, "RCPT TO:<%s>\n", a.Address)
		}
	}
	b.WriteString("\n")
	fmt.Fprintf(&b, "From: %s\n", s.from)
	fmt.Fprintf(&b, "To: %s\n", joinAddrs(p.to))
	if len(p.cc) > 0 {
		fmt.Fprintf(&b, "Cc: %s\n", joinAddrs(p.cc))
	}
	if p.replyTo != nil {
		fmt.Fprintf(&b, "Reply-To: %s\n", display(p.replyTo))
	}
	fmt.Fprintf(&b, "Subject: %s\n", p.subject)
	if p.messageID != "" {
		fmt.Fprintf(&b, "Message-ID: <%s>\n", p.messageID)
		fmt.Fprintf(&b, "%s: %s\n", ReferenceHeader, p.reference)
	}
	b.WriteString("\n")
	b.WriteString(p.body)
	if !strings.HasSuffix(p.body, "\n") {
		b.WriteString("\n")
	}
	if p.html != "" {
		b.WriteString("\n--- text/html alternative ---\n")
		b.WriteString(p.html)
		if !strings.HasSuffix(p.html, "\n") {
			b.WriteString("\n")
		}
	}
	return b.String(), nil
}

func joinAddrs(addrs []*mail.Address) string {
	parts := make([]string, len(addrs))
	for i, a := range addrs {
		parts[i] = display(a)
	}
	return strings.Join(parts, ", ")
}

// display shows an address as a person reads it, without RFC 2047
// encoding.
func display(a *mail.Address) string {
	if a.Name == "" {
		return a.Address
	}
	return fmt.Sprintf("%s <%s>", a.Name, a.Address)
}

// parseAddress parses one address, e.g. "Ops <ops@example.com>".
func parseAddress(s string) (*mail.Address, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, errors.New("empty")
	}
	return mail.ParseAddress(s)
}

// addressList reads a list field: a string (which may hold several
// comma-separated addresses), or a list of them. Empty entries are
// skipped.
func addressList(field string, v any) ([]*mail.Address, error) {
	var items []string
	switch x := v.(type) {
	case nil:
	case string:
		items = []string{x}
	case []string:
		items = x
	case []any:
		for i, e := range x {
			s, ok := e.(string)
			if !ok && e != nil {
				return nil, fmt.Errorf("%s[%d] is %T, not a string; give each recipient as a string", field, i, e)
			}
			items = append(items, s)
		}
	default:
		return nil, fmt.Errorf("%s is %T; give a list of addresses", field, v)
	}
	var out []*mail.Address
	for _, item := range items {
		if strings.TrimSpace(item) == "" {
			continue
		}
		addrs, err := mail.ParseAddressList(item)
		if err != nil {
			return nil, fmt.Errorf("%s: %q is not an email address (%v); fix the rule's %s list or the template that renders it", field, item, err, field)
		}
		out = append(out, addrs...)
	}
	return out, nil
}

// str reads a text field; numbers and booleans print as themselves.
func str(field string, v any) (string, error) {
	switch x := v.(type) {
	case nil:
		return "", nil
	case string:
		return x, nil
	case bool, int, int64, float64, uint64:
		return fmt.Sprint(x), nil
	default:
		return "", fmt.Errorf("%s is %T; it must render to text", field, v)
	}
}
