package event

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"
)

// Format renders a decoded value the way people write it: strings as they
// are, integers without exponent (1020), other numbers in their shortest
// form, booleans as true/false, nil as the empty string, times in RFC 3339,
// lists and objects as compact JSON.
func Format(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	case int:
		return strconv.Itoa(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case int32:
		return strconv.FormatInt(int64(x), 10)
	case uint64:
		return strconv.FormatUint(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case float32:
		return strconv.FormatFloat(float64(x), 'f', -1, 32)
	case time.Time:
		return x.Format(time.RFC3339)
	case time.Duration:
		return x.String()
	case []byte:
		return string(x)
	default:
		var b strings.Builder
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(x); err != nil {
			return "<" + err.Error() + ">"
		}
		return strings.TrimSuffix(b.String(), "\n")
	}
}
