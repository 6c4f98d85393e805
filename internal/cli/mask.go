package cli

import (
	"github.com/hookd/hookd/actions/httpx"
	"github.com/hookd/hookd/engine"
)

// masked returns an action's rendered params as dry-run shows them
// (httpx.MaskParams): a webhook's secret headers, the password or token
// in its URL, and the rule set's secrets are masked. The daemon sends
// the real values.
func masked(a engine.Rendered) map[string]any {
	return httpx.MaskParams(a.Action.Type, a.Params, a.Action.Secrets()...)
}
