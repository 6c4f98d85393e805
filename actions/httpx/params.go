package httpx

import "maps"

// MaskParams returns an action's rendered params as hookd shows them
// (dry-run, the admin API): a webhook's secret headers (Authorization,
// tokens, cookies) and the password or token in its URL are masked, as
// in --show-requests, and so is each of secrets (values that are secrets
// wherever they show, longest first) in every text of any type's params.
// The daemon sends the real values.
func MaskParams(typ string, params map[string]any, secrets ...string) map[string]any {
	out := params
	if typ == "webhook" {
		out = maps.Clone(params)
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
	}
	if len(secrets) == 0 {
		return out
	}
	masked, _ := maskValue(out, secrets).(map[string]any)
	return masked
}

// maskValue returns a copy of v with each of secrets masked in its
// texts.
func maskValue(v any, secrets []string) any {
	switch x := v.(type) {
	case string:
		return Scrub(x, secrets...)
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = maskValue(e, secrets)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = maskValue(e, secrets)
		}
		return out
	}
	return v
}
