package cli

import (
	"maps"

	"github.com/hookd/hookd/actions/httpx"
	"github.com/hookd/hookd/engine"
)

// masked returns an action's rendered params as dry-run shows them: a
// webhook's secret headers (Authorization, tokens, cookies) and the
// password or token in its URL are masked, as in --show-requests. The
// daemon sends the real values.
func masked(a engine.Rendered) map[string]any {
	if a.Action.Type != "webhook" {
		return a.Params
	}
	out := maps.Clone(a.Params)
	if u, ok := out["url"].(string); ok {
		out["url"] = httpx.RedactURL(u)
	}
	if h, ok := out["headers"].(map[string]any); ok {
		hm := make(map[string]any, len(h))
		for k, v := range h {
			if s, ok := v.(string); ok {
				hm[k] = httpx.MaskHeader(k, s)
			} else {
				hm[k] = v
			}
		}
		out["headers"] = hm
	}
	return out
}
