package httpx

import (
	"net/http"
	"testing"
	"time"
)

func TestRetryAfter(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	date := func(d time.Duration) string { return now.Add(d).Format(http.TimeFormat) }
	tests := []struct {
		name  string
		value string
		want  time.Duration
	}{
		{"empty", "", 0},
		{"seconds", "2", 2 * time.Second},
		{"seconds with spaces", " 120 ", 2 * time.Minute},
		{"zero", "0", 0},
		{"negative", "-5", 0},
		{"at the cap", "600", MaxRetryAfter},
		{"huge", "999999999", MaxRetryAfter},
		{"beyond int64", "99999999999999999999999", MaxRetryAfter},
		{"http date", date(90 * time.Second), 90 * time.Second},
		{"rfc850 date", now.Add(30 * time.Second).Format(time.RFC850), 30 * time.Second},
		{"ansi c date", now.Add(45 * time.Second).Format(time.ANSIC), 45 * time.Second},
		{"past date", date(-time.Hour), 0},
		{"now", date(0), 0},
		{"far date", date(48 * time.Hour), MaxRetryAfter},
		{"garbage", "soon", 0},
		{"fraction", "1.5", 0},
		{"number and unit", "10s", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := RetryAfter(tt.value, now); got != tt.want {
				t.Errorf("RetryAfter(%q) = %v, want %v", tt.value, got, tt.want)
			}
		})
	}
}
