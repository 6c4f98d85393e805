package httpx

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// MaxRetryAfter caps the wait a target may ask for: a larger Retry-After
// is read as this.
const MaxRetryAfter = 10 * time.Minute

// RetryAfter reads a Retry-After header value, in seconds ("120") or as
// an HTTP date, relative to now. A date in the past or a negative number
// gives 0, a value above MaxRetryAfter gives MaxRetryAfter, and anything
// unreadable (or empty) gives 0: back off as usual.
func RetryAfter(value string, now time.Time) time.Duration {
	value = strings.TrimSpace(value)
	if value == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(value, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		if secs >= int64(MaxRetryAfter/time.Second) {
			return MaxRetryAfter
		}
		return time.Duration(secs) * time.Second
	}
	if allDigits(value) {
		// An integer too large for int64.
		return MaxRetryAfter
	}
	t, err := http.ParseTime(value)
	if err != nil {
		return 0
	}
	d := t.Sub(now)
	switch {
	case d <= 0:
		return 0
	case d > MaxRetryAfter:
		return MaxRetryAfter
	}
	return d
}

func allDigits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}
