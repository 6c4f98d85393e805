// Package suggest finds the name nearest to a misspelt one, for the
// "did you mean" hints of hookd's messages.
package suggest

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Closest returns the candidate nearest to s, ignoring case, or "" when
// none is close enough: within 1 edit for names of up to 3 characters,
// within 2 otherwise. An edit inserts, deletes or replaces a character, or
// swaps two neighbours. Of candidates at the same distance it prefers the
// one whose length is nearest to s, then the alphabetically first.
func Closest(s string, candidates []string) string {
	n := utf8.RuneCountInString(s)
	limit := 2
	if n <= 3 {
		limit = 1
	}
	want := strings.ToLower(s)
	best, bestDist, bestSkew := "", limit+1, 0
	for _, c := range candidates {
		d := Distance(want, strings.ToLower(c))
		skew := abs(utf8.RuneCountInString(c) - n)
		if d < bestDist || d == bestDist && best != "" && (skew < bestSkew || skew == bestSkew && c < best) {
			best, bestDist, bestSkew = c, d, skew
		}
	}
	return best
}

// DidYouMean returns ` (did you mean "x"?)` for the Closest candidate,
// or "" when there is none.
func DidYouMean(s string, candidates []string) string {
	if best := Closest(s, candidates); best != "" {
		return fmt.Sprintf(" (did you mean %q?)", best)
	}
	return ""
}

// Distance is the optimal string alignment distance between a and b:
// insertions, deletions, substitutions and swaps of two neighbouring
// characters each cost one.
func Distance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	// Three rows suffice: the swap looks two rows back.
	prev2 := make([]int, len(rb)+1)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(rb)]
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
