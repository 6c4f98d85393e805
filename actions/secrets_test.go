package actions

import (
	"encoding/base64"
	"slices"
	"testing"

	"github.com/hookd/hookd/actions/secret"
)

func TestConnectionsSecrets(t *testing.T) {
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	tests := []struct {
		name  string
		conns Connections
		want  []string
	}{
		{"none", Connections{}, nil},
		{"wassenger", Connections{Wassenger: &WassengerConfig{Token: secret.New("wa-token-1")}}, []string{"wa-token-1"}},
		{"slack incoming webhook", Connections{Slack: &SlackConfig{
			WebhookURL: secret.New("https://hooks.slack.com/services/T01/B02/XyZsecret"), Token: secret.New("xoxb-123456"),
		}}, []string{
			"https://hooks.slack.com/services/T01/B02/XyZsecret", "/services/T01/B02/XyZsecret",
			"T01/B02/XyZsecret", "xoxb-123456", "XyZsecret",
		}},
		{"slack webhook elsewhere", Connections{Slack: &SlackConfig{WebhookURL: secret.New("http://127.0.0.1:9/hook/S3cr%2Ft")}},
			[]string{"http://127.0.0.1:9/hook/S3cr%2Ft", "/hook/S3cr%2Ft", "/hook/S3cr/t"}},
		{"email", Connections{Email: &EmailConfig{Username: "bot", Password: secret.New("pa55word")}},
			[]string{b64("\x00bot\x00pa55word"), b64("pa55word"), "pa55word"}},
		{"short values left out", Connections{
			Wassenger: &WassengerConfig{Token: secret.New("abc")},
			Email:     &EmailConfig{Username: "u", Password: secret.New("pw")},
		}, []string{b64("\x00u\x00pw")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.conns.Secrets(); !slices.Equal(got, tt.want) {
				t.Errorf("Secrets() =\n%q\nwant\n%q", got, tt.want)
			}
		})
	}
}

// A secret URL's parts that may show alone are secrets too; a path of
// short words (no token at its end) and a host alone are not.
func TestURLSecrets(t *testing.T) {
	for _, tc := range []struct {
		raw  string
		want []string
	}{
		{"https://discord.com/api/webhooks/123/AbCdEfGhIjKlMnOpQrSt", []string{
			"https://discord.com/api/webhooks/123/AbCdEfGhIjKlMnOpQrSt", "/api/webhooks/123/AbCdEfGhIjKlMnOpQrSt", "AbCdEfGhIjKlMnOpQrSt"}},
		{"https://crm.example.com/hooks/whatsapp", []string{"https://crm.example.com/hooks/whatsapp"}},
		{"https://crm.example.com/api/v2", []string{"https://crm.example.com/api/v2"}},
		{"https://user:s3cr3t-pass@crm.example.com/in", []string{"https://user:s3cr3t-pass@crm.example.com/in", "s3cr3t-pass"}},
		{"https://crm.example.com", []string{"https://crm.example.com"}},
		{"not a url at all", []string{"not a url at all"}},
	} {
		got := SecretList(URLSecrets(tc.raw)...)
		if want := SecretList(tc.want...); !slices.Equal(got, want) {
			t.Errorf("URLSecrets(%q) = %q, want %q", tc.raw, got, want)
		}
	}
}
