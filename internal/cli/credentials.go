package cli

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/hookd/hookd/actions"
	"github.com/hookd/hookd/engine"
)

// placeholderWords mark a secret that was never filled in: the defaults
// of rules.example.yaml (dry-run-token, xoxb-dry-run), the values docs and
// CI samples use, and template leftovers such as <your token>.
var placeholderWords = []string{"dry-run", "dryrun", "placeholder", "changeme", "change-me", "example", "dummy", "your-", "your_", "xxxx", "<", ">"}

// zeroSlackID matches the team or bot id of a made-up Slack incoming
// webhook URL, such as .../services/T000/B000/...
var zeroSlackID = regexp.MustCompile(`/services/(T0+|[^/]+/B0+)(/|$)`)

// isPlaceholder reports whether a secret is empty or was never filled in.
func isPlaceholder(v string) bool {
	if strings.TrimSpace(v) == "" {
		return true
	}
	low := strings.ToLower(v)
	for _, w := range placeholderWords {
		if strings.Contains(low, w) {
			return true
		}
	}
	return false
}

// hostOf returns the host of a URL, or of def when raw is empty.
func hostOf(raw, def string) string {
	if raw == "" {
		raw = def
	}
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return strings.ToLower(u.Hostname())
}

// placeholderCredentials lists the connections that would send an empty
// or placeholder secret to the real Wassenger or Slack: a rules file run
// without its ${ENV} secrets, whose defaults only suit dry-runs. Secrets
// are named by their key, never shown.
func placeholderCredentials(c *actions.Connections) []string {
	var out []string
	if w := c.Wassenger; w != nil && hostOf(w.BaseURL, actions.DefaultWassengerBaseURL) == "api.wassenger.com" && isPlaceholder(w.Token.Reveal()) {
		out = append(out, "connections.wassenger.token is empty or a placeholder, and connections.wassenger.base_url is Wassenger's real API (api.wassenger.com)")
	}
	if sl := c.Slack; sl != nil {
		if u := sl.WebhookURL.Reveal(); u != "" && hostOf(u, "") == "hooks.slack.com" && (isPlaceholder(u) || zeroSlackID.MatchString(u)) {
			out = append(out, "connections.slack.webhook_url is a placeholder on Slack's real host (hooks.slack.com)")
		}
		if tok := sl.Token; !tok.IsZero() && hostOf(sl.APIURL, actions.DefaultSlackAPIURL) == "slack.com" && isPlaceholder(tok.Reveal()) {
			out = append(out, "connections.slack.token is a placeholder, and connections.slack.api_url is Slack's real API (slack.com)")
		}
	}
	return out
}

// placeholderError is the error hookd serve (refusing "to start") or
// hookd fire (refusing "to send") stops with when placeholderCredentials
// finds something, or nil.
func placeholderError(rulesPath, refusing string, problems []string) error {
	if len(problems) == 0 {
		return nil
	}
	return fmt.Errorf("%s: refusing %s: %s.\nEvery such action would be sent to the real service with a made-up secret and refused. Set the ${ENV} variables the rules file reads for these (e.g. WASSENGER_TOKEN, SLACK_WEBHOOK_URL) to real values, or point the connection's URL elsewhere; to try hookd without accounts, run hookd demo", rulesPath, refusing, strings.Join(problems, "; "))
}

// usedConnections keeps the connections that the actions use: Wassenger's
// for wassenger.*, Slack's for slack, email's for email.
func usedConnections(c *actions.Connections, acts []engine.Rendered) actions.Connections {
	var out actions.Connections
	for _, a := range acts {
		switch t := a.Action.Type; {
		case strings.HasPrefix(t, "wassenger."):
			out.Wassenger = c.Wassenger
		case t == "slack":
			out.Slack = c.Slack
		case t == "email":
			out.Email = c.Email
		case t == "webhook":
			out.Webhook = c.Webhook
		}
	}
	return out
}
