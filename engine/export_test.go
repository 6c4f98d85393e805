package engine

import (
	"errors"
	"time"
)

// SharesProgram reports whether two rule sets hold the same compiled
// program for a condition, for tests of reuse across reloads.
func SharesProgram(a, b *RuleSet, cond string) bool {
	ca, cb := a.compiled[exprKey{cond, true}], b.compiled[exprKey{cond, true}]
	return ca != nil && ca == cb
}

// ParseSchedule, for tests, parses a cron expression in a time zone ("" for UTC).
// It refuses an expression that cron cannot read, an unknown zone, a
// zone inside the expression (CRON_TZ=), @every (use a digest's every:
// instead), a misspelt descriptor (@dayly) and an expression that never
// fires (such as 30 February), with a message that says what to write
// instead. A bad expression in an unknown zone gives both problems,
// joined (see errors.Join).
func ParseSchedule(expr, zone string, now time.Time) (*Schedule, error) {
	spec, cronErr := parseCron(expr)
	loc, zoneErr := loadZone(zone)
	if err := errors.Join(cronErr, zoneErr); err != nil {
		return nil, err
	}
	return newSchedule(expr, spec, loc, now)
}
