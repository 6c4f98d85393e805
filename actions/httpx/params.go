package httpx

import "maps"

// MaskParams returns an action's rendered params as hookd shows them
// (dry-run, the admin API): a webhook's secret headers (Authorization,
// tokens, cookies) and the password or token in its URL are masked, as
// in --show-requests. Other types' params are returned as they are. The
// daemon sends the real values.
func MaskParams(typ string, params map[string]any) map[string]any {
	if typ != "webhook" {
		return params
	}
	out := maps.Clone(params)
	if u, ok := out["url"].(string); ok {
		out["url"] = RedactURL(u)
	}
	if h, ok := out["headers"].(map[string]any); ok {
		hm := make(map[string]any, len(h))
		for k, v := range h {
			if s, ok := v.(string); ok {
				hm[k] = MaskHeader(k, s)
			} else {
				hm[k] = v
			}
		}
		out["headers"] = hm
	}
	return out
}
