package suggest

// Distance, for tests, is the optimal string alignment distance between a and b:
// insertions, deletions, substitutions and swaps of two neighbouring
// characters each cost one.
func Distance(a, b string) int {
	return align([]rune(a), []rune(b), costs{insert: 1, delete: 1, replace: 1, swap: 1})
}
