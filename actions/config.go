package actions

import (
	"time"

	"github.com/hookd/hookd/actions/secret"
)

// Default endpoints and limits of the integrations.
const (
	DefaultWassengerBaseURL = "https://api.wassenger.com/v1"
	DefaultSlackAPIURL      = "https://slack.com/api"
)

// Connections is the `connections:` section of a rules file: how to reach
// each integration. Secrets come from ${ENV} variables.
type Connections struct {
	Wassenger *WassengerConfig `yaml:"wassenger"`
	Slack     *SlackConfig     `yaml:"slack"`
	Email     *EmailConfig     `yaml:"email"`
	Webhook   *WebhookConfig   `yaml:"webhook"`
}

// WassengerConfig is the connection to the Wassenger REST API.
type WassengerConfig struct {
	// Token is the API key, sent in the Token header.
	Token secret.String `yaml:"token"`
	// BaseURL defaults to DefaultWassengerBaseURL.
	BaseURL string `yaml:"base_url"`
	// Rate is the most requests per second (0: 5).
	Rate float64 `yaml:"rate"`
	// Burst is how many requests may go at once above Rate (0: 1).
	Burst int `yaml:"burst"`
	// Concurrency is the most requests in flight (0: 4).
	Concurrency int `yaml:"concurrency"`
}

// SlackConfig is the connection to Slack: an incoming webhook, a bot
// token for chat.postMessage, or both.
type SlackConfig struct {
	// WebhookURL is an incoming webhook (https://hooks.slack.com/services/...).
	WebhookURL secret.String `yaml:"webhook_url"`
	// Token is a bot token (xoxb-...) for chat.postMessage.
	Token secret.String `yaml:"token"`
	// APIURL defaults to DefaultSlackAPIURL.
	APIURL string `yaml:"api_url"`
	// Rate is the most messages per second per webhook or channel (0: 1).
	Rate float64 `yaml:"rate"`
	// Burst above Rate (0: 3).
	Burst int `yaml:"burst"`
}

// EmailConfig is the connection to an SMTP server.
type EmailConfig struct {
	Host string `yaml:"host"`
	// Port defaults to 587 (starttls), 465 (implicit) or 25 (none).
	Port int `yaml:"port"`
	// TLS is "starttls" (default), "implicit" or "none".
	TLS      string        `yaml:"tls"`
	Username string        `yaml:"username"`
	Password secret.String `yaml:"password"`
	// Auth is "plain" (default when a username is set) or "login".
	Auth string `yaml:"auth"`
	// From is the sender, e.g. "Group bot <bot@example.com>".
	From string `yaml:"from"`
	// Timeout bounds one send (0: 15s).
	Timeout time.Duration `yaml:"timeout"`
	// Rate is the most messages per second (0: 5).
	Rate float64 `yaml:"rate"`
}

// WebhookConfig tunes the generic webhook action.
type WebhookConfig struct {
	// Rate is the most requests per second per target host (0: 10).
	Rate float64 `yaml:"rate"`
	// Concurrency is the most requests in flight (0: 8).
	Concurrency int `yaml:"concurrency"`
}

// Problem is a problem of a connection's settings that would make every
// call fail: the field of the connection it is in, and what is wrong
// and what to do. The integrations refuse their calls with it, and the
// rules loader reports it at the field's line.
type Problem struct{ Field, Msg string }
