package cli

import (
	"strings"
	"testing"

	"github.com/hookd/hookd/actions"
	"github.com/hookd/hookd/actions/secret"
)

// TestPlaceholderCredentials pins the rule hookd serve applies at start
// (docs/daemon.md, "Secrets at start"): an empty or placeholder secret is
// refused only where it would go to the real Wassenger or Slack.
func TestPlaceholderCredentials(t *testing.T) {
	const realToken = "9f2c1e7a55b04d6e8a3f0c2b7d914e6a"
	for _, tc := range []struct {
		name string
		conn actions.Connections
		want []string // substrings, one per expected problem
	}{
		{"no connections", actions.Connections{}, nil},
		{"example defaults", actions.Connections{
			Wassenger: &actions.WassengerConfig{Token: secret.New("dry-run-token"), BaseURL: "https://api.wassenger.com/v1"},
			Slack:     &actions.SlackConfig{WebhookURL: secret.New("https://hooks.slack.com/services/T000/B000/dry-run"), Token: secret.New("xoxb-dry-run"), APIURL: "https://slack.com/api"},
		}, []string{"connections.wassenger.token", "connections.slack.webhook_url", "connections.slack.token"}},
		{"wassenger default base_url, empty token", actions.Connections{Wassenger: &actions.WassengerConfig{}}, []string{"connections.wassenger.token"}},
		{"wassenger placeholder in other case", actions.Connections{Wassenger: &actions.WassengerConfig{Token: secret.New("<YOUR API KEY>")}}, []string{"connections.wassenger.token"}},
		{"wassenger real token", actions.Connections{Wassenger: &actions.WassengerConfig{Token: secret.New(realToken)}}, nil},
		{"wassenger stand-in", actions.Connections{Wassenger: &actions.WassengerConfig{Token: secret.New("dry-run-token"), BaseURL: "http://127.0.0.1:9000/v1"}}, nil},
		{"slack made-up ids", actions.Connections{Slack: &actions.SlackConfig{WebhookURL: secret.New("https://hooks.slack.com/services/T000/B000/ci")}}, []string{"connections.slack.webhook_url"}},
		{"slack real webhook", actions.Connections{Slack: &actions.SlackConfig{WebhookURL: secret.New("https://hooks.slack.com/services/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")}}, nil},
		{"slack webhook only: no token is fine", actions.Connections{Slack: &actions.SlackConfig{WebhookURL: secret.New("https://hooks.slack.com/services/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"), APIURL: ""}}, nil},
		{"slack stand-in", actions.Connections{Slack: &actions.SlackConfig{WebhookURL: secret.New("http://127.0.0.1:9001/services/T000/B000/dry-run"), Token: secret.New("xoxb-dry-run"), APIURL: "http://127.0.0.1:9001/api"}}, nil},
		{"email is not judged", actions.Connections{Email: &actions.EmailConfig{Host: "smtp.example.com", Password: secret.New("dry-run")}}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := placeholderCredentials(&tc.conn)
			if len(got) != len(tc.want) {
				t.Fatalf("got %d problems %q, want %d (%q)", len(got), got, len(tc.want), tc.want)
			}
			for i, w := range tc.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("problem %d: %q does not name %s", i, got[i], w)
				}
			}
			for _, p := range got {
				for _, secretText := range []string{"dry-run", "YOUR API KEY", "T000"} {
					if strings.Contains(p, secretText) {
						t.Errorf("problem %q shows the secret's value", p)
					}
				}
			}
		})
	}
}
