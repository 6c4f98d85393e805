// Package router builds every integration from a rules file's
// connections and sends each call to the one its type names.
package router

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/hookd/hookd/actions"
	"github.com/hookd/hookd/actions/email"
	"github.com/hookd/hookd/actions/logaction"
	"github.com/hookd/hookd/actions/slack"
	"github.com/hookd/hookd/actions/wassenger"
	"github.com/hookd/hookd/actions/webhook"
)

// Options are passed to the integrations.
type Options struct {
	// HTTPClient sends HTTP actions (default: each integration's own).
	HTTPClient *http.Client
	// SMTPTLSConfig, when set, is the TLS configuration for SMTP (e.g. to
	// trust a test CA).
	SMTPTLSConfig *tls.Config
	// Logger is used by the log action and for integration warnings.
	Logger *slog.Logger
}

// Router is an actions.Action and actions.Describer for every type.
type Router struct {
	byType map[string]actions.Action
}

// New builds the integrations for conns. Missing connections get their
// defaults; the loader has already checked that every action has what it
// needs.
func New(conns *actions.Connections, opts Options) *Router {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	wcfg := conns.Wassenger
	if wcfg == nil {
		wcfg = &actions.WassengerConfig{}
	}
	ecfg := conns.Email
	if ecfg == nil {
		ecfg = &actions.EmailConfig{}
	}
	hcfg := conns.Webhook
	if hcfg == nil {
		hcfg = &actions.WebhookConfig{}
	}
	w := wassenger.New(wcfg, wassenger.Options{HTTPClient: opts.HTTPClient})
	byType := map[string]actions.Action{
		"slack":   slack.New(conns.Slack, slack.Options{HTTPClient: opts.HTTPClient, Logger: opts.Logger}),
		"email":   email.New(ecfg, email.Options{TLSConfig: opts.SMTPTLSConfig, Logger: opts.Logger}),
		"webhook": webhook.New(hcfg, webhook.Options{HTTPClient: opts.HTTPClient}),
		"log":     logaction.New(opts.Logger),
	}
	for _, typ := range wassenger.Types() {
		byType[typ] = w
	}
	return &Router{byType: byType}
}

// Do sends the call to the integration of its type.
func (r *Router) Do(ctx context.Context, call actions.Call) actions.Result {
	a, ok := r.byType[call.Type]
	if !ok {
		return actions.Result{Err: fmt.Errorf("unknown action type %q", call.Type), Reason: "invalid"}
	}
	return a.Do(ctx, call)
}

// Describe shows the request the call would send, secrets masked.
func (r *Router) Describe(call actions.Call) (string, error) {
	a, ok := r.byType[call.Type]
	if !ok {
		return "", fmt.Errorf("unknown action type %q", call.Type)
	}
	d, ok := a.(actions.Describer)
	if !ok {
		return "", fmt.Errorf("%s actions cannot be described", call.Type)
	}
	return d.Describe(call)
}

// Lane names the delivery lane of an action type: actions that share a
// connection share a lane, so a slow integration holds back only itself.
func Lane(typ string) string {
	if s, ok := actions.Lookup(typ); ok && s.Connection == "wassenger" {
		return "wassenger"
	}
	return typ
}
