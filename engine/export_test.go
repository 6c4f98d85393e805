package engine

// SharesProgram reports whether two rule sets hold the same compiled
// program for a condition, for tests of reuse across reloads.
func SharesProgram(a, b *RuleSet, cond string) bool {
	ca, cb := a.compiled[exprKey{cond, true}], b.compiled[exprKey{cond, true}]
	return ca != nil && ca == cb
}
