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
// one that keeps more of the characters typed, in order (kep is keep
// with an e dropped, rather than key with its y replaced by p; a swap
// keeps both characters), then the one whose length is nearest to s,
// then the alphabetically first.
func Closest(s string, candidates []string) string {
	n := utf8.RuneCountInString(s)
	limit := 2
	if n <= 3 {
		limit = 1
	}
	want := []rune(strings.ToLower(s))
	best, bestDist, bestLost, bestSkew := "", limit+1, 0, 0
	for _, c := range candidates {
		lc := []rune(strings.ToLower(c))
		d := align(want, lc, costs{insert: 1, delete: 1, replace: 1, swap: 1})
		if d > limit {
			continue
		}
		// The characters of s that c does not keep: only deleting or
		// replacing one of them counts.
		lost := align(want, lc, costs{delete: 1, replace: 1})
		skew := abs(utf8.RuneCountInString(c) - n)
		if d < bestDist || d == bestDist && (lost < bestLost || lost == bestLost && (skew < bestSkew || skew == bestSkew && c < best)) {
			best, bestDist, bestLost, bestSkew = c, d, lost, skew
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

// costs are the prices of the edits that turn one string into another.
type costs struct{ insert, delete, replace, swap int }

// align is the cheapest optimal string alignment of a into b at the
// given costs: inserting into a, deleting from a, replacing a character
// of a, and swapping two neighbouring characters of a.
func align(a, b []rune, c costs) int {
	// Three rows suffice: the swap looks two rows back.
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j * c.insert
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i * c.delete
		for j := 1; j <= len(b); j++ {
			replace := c.replace
			if a[i-1] == b[j-1] {
				replace = 0
			}
			cur[j] = min(prev[j]+c.delete, cur[j-1]+c.insert, prev[j-1]+replace)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+c.swap)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
