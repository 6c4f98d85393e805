package daemon

import (
	"net/url"
	"path"
	"slices"

	"github.com/hookd/hookd/actions"
)

// connectionSecrets lists the secret values of the connections: tokens,
// passwords, and the Slack webhook URL with its secret path. Values too
// short to be secrets are left out so that masking them cannot mangle
// messages.
func connectionSecrets(c *actions.Connections) []string {
	var out []string
	add := func(v string) {
		if len(v) >= 6 {
			out = append(out, v)
		}
	}
	if c.Wassenger != nil {
		add(c.Wassenger.Token.Reveal())
	}
	if c.Slack != nil {
		add(c.Slack.Token.Reveal())
		if raw := c.Slack.WebhookURL.Reveal(); raw != "" {
			add(raw)
			if u, err := url.Parse(raw); err == nil {
				add(u.Path)
				add(path.Base(u.Path))
			}
		}
	}
	if c.Email != nil {
		add(c.Email.Password.Reveal())
	}
	// Longest first, so that a secret holding another is masked whole.
	slices.SortFunc(out, func(a, b string) int { return len(b) - len(a) })
	return out
}
