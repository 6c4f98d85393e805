package smtpd

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"strings"
)

// Message is one message the server accepted: its envelope, how the
// session was secured and authenticated, the raw data, and the parts of it
// a test usually asserts on, decoded to UTF-8.
type Message struct {
	// MailFrom is the MAIL FROM address (without angle brackets).
	MailFrom string
	// RcptTo lists the RCPT TO addresses in the order they came.
	RcptTo []string
	// TLS reports whether the session was encrypted (STARTTLS or implicit).
	TLS bool
	// Auth is how the session authenticated; zero when it did not.
	Auth Auth
	// Raw is the message data as received (headers and body).
	Raw []byte

	// Header holds the raw header fields; values are not decoded.
	Header mail.Header
	// From, To, Cc and Subject are the header values with RFC 2047
	// encoded words decoded to UTF-8.
	From, To, Cc, Subject string
	// ContentType is the top-level Content-Type header value.
	ContentType string
	// Text is the decoded text/plain body (the first text/plain part of
	// a multipart message), with CRLF line ends turned into LF.
	Text string
	// HTML is the decoded text/html part, when there is one, with LF
	// line ends.
	HTML string
	// ParseErr is set when the data could not be parsed as a message;
	// Raw is still recorded.
	ParseErr error
}

// Auth is how a session authenticated.
type Auth struct {
	// Mechanism is "PLAIN" or "LOGIN"; empty when the session did not
	// authenticate.
	Mechanism string
	// Username is the user that authenticated.
	Username string
}

// HeaderDecoded returns the named header field with RFC 2047 encoded
// words decoded; "" when it is absent.
func (m Message) HeaderDecoded(name string) string {
	return decodeHeader(m.Header.Get(name))
}

var wordDecoder = mime.WordDecoder{}

func decodeHeader(v string) string {
	if v == "" {
		return ""
	}
	d, err := wordDecoder.DecodeHeader(v)
	if err != nil {
		return v
	}
	return d
}

// parse fills the parsed fields of m from m.Raw.
func (m *Message) parse() {
	msg, err := mail.ReadMessage(bytes.NewReader(m.Raw))
	if err != nil {
		m.ParseErr = fmt.Errorf("smtpd: read message: %w", err)
		return
	}
	m.Header = msg.Header
	m.From = decodeHeader(msg.Header.Get("From"))
	m.To = decodeHeader(msg.Header.Get("To"))
	m.Cc = decodeHeader(msg.Header.Get("Cc"))
	m.Subject = decodeHeader(msg.Header.Get("Subject"))
	m.ContentType = msg.Header.Get("Content-Type")
	if err := m.walk(m.ContentType, msg.Header.Get("Content-Transfer-Encoding"), msg.Body); err != nil {
		m.ParseErr = err
	}
}

// walk decodes one entity, descending into multipart bodies, and keeps the
// first text/plain and text/html parts.
func (m *Message) walk(contentType, encoding string, body io.Reader) error {
	mediaType := "text/plain"
	var params map[string]string
	if contentType != "" {
		var err error
		mediaType, params, err = mime.ParseMediaType(contentType)
		if err != nil {
			return fmt.Errorf("smtpd: content type %q: %w", contentType, err)
		}
	}
	if strings.HasPrefix(mediaType, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextPart()
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return fmt.Errorf("smtpd: multipart: %w", err)
			}
			// NextPart decodes quoted-printable itself and removes the
			// header; any other encoding is still named.
			err = m.walk(p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), p)
			if err != nil {
				return err
			}
		}
	}
	data, err := io.ReadAll(decodeTransfer(encoding, body))
	if err != nil {
		return fmt.Errorf("smtpd: decode %s body: %w", mediaType, err)
	}
	text := strings.ReplaceAll(string(data), "\r\n", "\n")
	switch {
	case mediaType == "text/plain" && m.Text == "":
		m.Text = text
	case mediaType == "text/html" && m.HTML == "":
		m.HTML = text
	}
	return nil
}

func decodeTransfer(encoding string, r io.Reader) io.Reader {
	switch strings.ToLower(strings.TrimSpace(encoding)) {
	case "quoted-printable":
		return quotedprintable.NewReader(r)
	case "base64":
		// The decoder skips CR and LF between lines.
		return base64.NewDecoder(base64.StdEncoding, r)
	default:
		return r
	}
}
