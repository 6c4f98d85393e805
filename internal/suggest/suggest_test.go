package suggest_test

import (
	"testing"

	"github.com/hookd/hookd/internal/suggest"
)

func TestClosest(t *testing.T) {
	tests := []struct {
		s     string
		cands []string
		want  string
	}{
		{"iff", []string{"if", "on", "do"}, "if"},
		{"slak", []string{"slack", "email", "log"}, "slack"},
		{"nmae", []string{"name", "id", "type"}, "name"},
		{"NAME", []string{"name"}, "name"},
		{"tpye", []string{"type", "time"}, "type"},
		{"xyz", []string{"if", "on"}, ""},
		{"lenght", []string{"len"}, ""},
		{"ab", []string{"xy"}, ""},
		{"group:updte", []string{"group:update", "message:in:new"}, "group:update"},
		// At the same distance, the candidate that keeps more of the
		// letters typed wins, whatever its length; a swap keeps both.
		{"kep", []string{"key", "keep", "per"}, "keep"},
		{"kep", []string{"keep", "key"}, "keep"},
		{"tiem", []string{"tier", "time"}, "time"},
		// Dropping two typed letters (to) keeps no more than replacing two
		// (type): then the nearest length wins.
		{"tipo", []string{"to", "type"}, "type"},
		// Then the nearest length, then the alphabetically first.
		{"abdc", []string{"abdce", "abcd"}, "abcd"},
		{"ab", []string{"ac", "ad"}, "ac"},
		{"", nil, ""},
	}
	for _, tt := range tests {
		if got := suggest.Closest(tt.s, tt.cands); got != tt.want {
			t.Errorf("Closest(%q, %q) = %q, want %q", tt.s, tt.cands, got, tt.want)
		}
	}
}

func TestDistance(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"", "", 0}, {"a", "", 1}, {"kitten", "sitting", 3}, {"ab", "ba", 1}, {"🙏x", "x🙏", 1},
		{"name", "name", 0}, {"", "abc", 3}, {"nmae", "name", 1}, {"nam", "name", 1}, {"nme", "name", 1},
		{"ca", "abc", 3}, {"café", "cafe", 1}, {"ñame", "name", 1},
	}
	for _, tt := range tests {
		if got := suggest.Distance(tt.a, tt.b); got != tt.want {
			t.Errorf("Distance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
		if got := suggest.Distance(tt.b, tt.a); got != tt.want {
			t.Errorf("Distance(%q, %q) = %d, want %d", tt.b, tt.a, got, tt.want)
		}
	}
}

func TestDidYouMean(t *testing.T) {
	if got := suggest.DidYouMean("slak", []string{"slack"}); got != ` (did you mean "slack"?)` {
		t.Errorf("got %q", got)
	}
	if got := suggest.DidYouMean("zzz", []string{"slack"}); got != "" {
		t.Errorf("got %q", got)
	}
}
