package actions

import (
	"encoding/base64"
	"net/url"
	"path"
	"slices"
	"strings"
)

// minTokenLen is the length from which a URL's last path segment is
// taken for a token (see URLSecrets).
const minTokenLen = 16

// minSecretLen is the length of the shortest value the Secrets methods
// list: masking a shorter one would mangle messages.
const minSecretLen = 6

// Secrets lists the secret values of every connection, longest first
// (see the Secrets of each), for masking them wherever a text may hold
// one.
func (c *Connections) Secrets() []string {
	return SecretList(slices.Concat(c.Wassenger.Secrets(), c.Slack.Secrets(), c.Email.Secrets())...)
}

// Secrets lists the API token.
func (c *WassengerConfig) Secrets() []string {
	if c == nil {
		return nil
	}
	return SecretList(c.Token.Reveal())
}

// Secrets lists the bot token and the incoming webhook URL with each
// part of it that holds the secret: its path (escaped and not), what
// follows /services/, and its last segment.
func (c *SlackConfig) Secrets() []string {
	if c == nil {
		return nil
	}
	vs := []string{c.Token.Reveal()}
	if raw := c.WebhookURL.Reveal(); raw != "" {
		vs = append(vs, URLSecrets(raw)...)
		if u, err := url.Parse(raw); err == nil {
			// The whole path is Slack's secret, however short.
			vs = append(vs, u.EscapedPath(), u.Path, path.Base(u.Path))
			if rest, ok := strings.CutPrefix(u.Path, "/services/"); ok {
				vs = append(vs, rest)
			}
		}
	}
	return SecretList(vs...)
}

// URLSecrets lists a secret URL (a chat's incoming webhook, whose path
// holds its token) with the parts of it that may show alone: a last
// path segment long enough to be a token, with the path (escaped and
// not) that holds it, and the password of its user info.
func URLSecrets(raw string) []string {
	vs := []string{raw}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return vs
	}
	if base := path.Base(u.Path); len(base) >= minTokenLen {
		// A token at the path's end: the path shows it too. A path of
		// short words (/api/v2) is left, to not mask it everywhere.
		vs = append(vs, base, u.EscapedPath(), u.Path)
	}
	if pw, ok := u.User.Password(); ok {
		vs = append(vs, pw)
	}
	return vs
}

// Secrets lists the password and the forms AUTH sends it in: the base64
// of PLAIN's response and of LOGIN's password.
func (c *EmailConfig) Secrets() []string {
	if c == nil || c.Password.IsZero() {
		return nil
	}
	pw := c.Password.Reveal()
	enc := base64.StdEncoding.EncodeToString
	return SecretList(pw, enc([]byte(pw)), enc([]byte("\x00"+c.Username+"\x00"+pw)))
}

// SecretList keeps the values of vs that are long enough to be
// secrets, once each, longest first, so that a secret holding another
// is masked whole.
func SecretList(vs ...string) []string {
	var out []string
	for _, v := range vs {
		if len(v) >= minSecretLen && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	slices.SortStableFunc(out, func(a, b string) int { return len(b) - len(a) })
	return out
}
