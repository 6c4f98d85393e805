package engine

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/hookd/hookd/internal/zones"
)

// Schedule is a cron expression in a time zone, e.g. "0 9 * * *" in
// Europe/Madrid: nine every morning, Madrid time. It is parsed by
// github.com/robfig/cron/v3 (five fields: minute, hour, day of month,
// month, day of week; or @hourly, @daily, @weekly, @monthly, @yearly).
type Schedule struct {
	// Cron is the expression as written.
	Cron string
	// Timezone is the IANA name of the zone the expression is read in
	// ("UTC" when the rules file gives none).
	Timezone string

	spec *cron.SpecSchedule
	// wall is spec read in UTC, which has no summer time: it finds the
	// next wall-clock time of a schedule that names its hours (see Next).
	wall *cron.SpecSchedule
}

// cronParser reads the standard five fields and the @ descriptors.
var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// loadZone loads the IANA time zone of a schedule ("" for UTC); an
// unknown one gets the nearest name Go knows as a suggestion.
func loadZone(zone string) (*time.Location, error) {
	if zone == "" {
		return time.UTC, nil
	}
	loc, err := time.LoadLocation(zone)
	if err != nil {
		return nil, fmt.Errorf("unknown time zone %q%s: use an IANA name such as Europe/Madrid, America/New_York or UTC", zone, suggest(zone, zones.Names()))
	}
	return loc, nil
}

// parseCron reads a cron expression: five fields or an @ descriptor.
func parseCron(expr string) (*cron.SpecSchedule, error) {
	expr = strings.TrimSpace(expr)
	// The descriptors robfig/cron reads, except @every, which is not a
	// calendar schedule.
	descriptors := []string{"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}
	switch {
	case strings.HasPrefix(expr, "TZ=") || strings.HasPrefix(expr, "CRON_TZ="):
		return nil, errors.New("put the time zone in timezone:, not in the cron expression")
	case strings.HasPrefix(expr, "@every"):
		return nil, errors.New("@every is not a calendar schedule: use a digest's every: (e.g. every: 1h) or a cron expression such as \"0 * * * *\"")
	case strings.HasPrefix(expr, "@") && !slices.Contains(descriptors, expr):
		return nil, fmt.Errorf("unknown cron descriptor %q%s: use @hourly, @daily, @weekly, @monthly or @yearly, or five fields (minute hour day-of-month month day-of-week) such as \"0 9 * * *\"", expr, suggest(expr, descriptors))
	}
	s, err := cronParser.Parse(expr)
	if err != nil {
		return nil, fmt.Errorf("cannot read the cron expression %q: %w; write five fields (minute hour day-of-month month day-of-week), e.g. \"0 9 * * *\" for 9:00 every day", expr, err)
	}
	spec, ok := s.(*cron.SpecSchedule)
	if !ok {
		return nil, fmt.Errorf("cron expression %q is not a calendar schedule", expr)
	}
	return spec, nil
}

// newSchedule is the schedule of a parsed expression in a zone; it
// refuses one that never fires.
func newSchedule(expr string, spec *cron.SpecSchedule, loc *time.Location, now time.Time) (*Schedule, error) {
	expr = strings.TrimSpace(expr)
	spec.Location = loc
	wall := *spec
	wall.Location = time.UTC
	sc := &Schedule{Cron: expr, Timezone: loc.String(), spec: spec, wall: &wall}
	if sc.Next(now).IsZero() {
		return nil, fmt.Errorf("cron expression %q never fires (no such date in the next five years); check the day and the month", expr)
	}
	return sc, nil
}

// everyHour are the bits of a cron hour field that names every hour.
const everyHour = 1<<24 - 1

// Next returns the first tick strictly after t, or the zero time when
// there is none within five years. A schedule that names its hours
// ("30 2 * * *") fires once at each of its wall-clock times, as cron
// does where the clocks change: a time the clock skips fires as long
// after the skip began (02:30 is 03:30 summer time), a time that comes
// twice fires the first time. One that runs every hour ticks on the
// real hours, 25 of them on the night summer time ends.
func (s *Schedule) Next(t time.Time) time.Time {
	if s.spec.Hour&everyHour == everyHour {
		return s.spec.Next(t)
	}
	loc := s.spec.Location
	tick := s.nextWall(wallClock(t.In(loc)), t)
	if tick.IsZero() {
		return tick
	}
	// Where the clocks change between a little before t and that tick,
	// the wall-clock order is not the order of the moments: a time the
	// clock skipped before t's clock time fires after t (on the night
	// summer time starts, 02:30 fires at 03:30, after 03:10), and one
	// skipped before a later time that comes fires after it (where the
	// clocks go from 02:00 to 02:30, 02:20 fires at 02:50, after 02:40).
	// Then every wall-clock time from clockShift before t's on is
	// looked at, until the times that come after the earliest tick.
	if start, end := t.In(loc).ZoneBounds(); !start.After(t.Add(-clockShift)) && (end.IsZero() || end.After(tick)) {
		return tick.In(loc)
	}
	best := time.Time{}
	for w := wallClock(t.In(loc)).Add(-clockShift - time.Second); ; {
		w = s.wall.Next(w)
		if w.IsZero() || !best.IsZero() && w.After(wallClock(best.In(loc)).Add(clockShift)) {
			return best.In(loc)
		}
		if at := firstAt(w, loc); at.After(t) && (best.IsZero() || at.Before(best)) {
			best = at
		}
	}
}

// clockShift is more than any change of the clocks for summer time (an
// hour in most zones, 30 minutes on Lord Howe Island, two hours in
// Antarctica/Troll).
const clockShift = 3 * time.Hour

// nextWall is the first moment after t whose wall-clock time is a tick
// following w, the wall-clock time of t, taken in wall-clock order.
func (s *Schedule) nextWall(w, t time.Time) time.Time {
	loc := s.spec.Location
	for {
		w = s.wall.Next(w)
		if w.IsZero() {
			return w
		}
		if at := firstAt(w, loc); at.After(t) {
			return at
		}
	}
}

// wallClock is the time t's clock shows, read as UTC.
func wallClock(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC)
}

// firstAt is the first moment the clock of loc shows the wall-clock time
// w (read as UTC); for a time the clock skips, the moment as long after
// the skip began. The zone's offsets a day before and after w are the
// ones a change of the clocks near w switches between.
func firstAt(w time.Time, loc *time.Location) time.Time {
	var first, skipped time.Time
	for _, near := range []time.Time{w.Add(-24 * time.Hour), w.Add(24 * time.Hour)} {
		_, off := near.In(loc).Zone()
		at := w.Add(-time.Duration(off) * time.Second)
		switch {
		case wallClock(at.In(loc)).Equal(w):
			if first.IsZero() || at.Before(first) {
				first = at
			}
		case at.After(skipped):
			skipped = at
		}
	}
	if first.IsZero() {
		return skipped
	}
	return first
}

// IsTick reports whether t is a tick of the schedule (ticks fall on
// whole minutes).
func (s *Schedule) IsTick(t time.Time) bool { return s.Prev(t.Add(time.Second)).Equal(t) }

// Prev returns the last tick strictly before t, or the zero time when
// there is none within five years. It looks back over growing spans, so
// that a frequent schedule costs a few steps of Next and a yearly one
// no more than its ticks in five years.
func (s *Schedule) Prev(t time.Time) time.Time {
	for _, back := range []time.Duration{time.Hour, 24 * time.Hour, 8 * 24 * time.Hour, 32 * 24 * time.Hour, 367 * 24 * time.Hour, 5 * 367 * 24 * time.Hour} {
		tick := s.Next(t.Add(-back))
		if tick.IsZero() || !tick.Before(t) {
			continue
		}
		for {
			next := s.Next(tick)
			if next.IsZero() || !next.Before(t) {
				return tick
			}
			tick = next
		}
	}
	return time.Time{}
}

// Due says whether a schedule that last fired at last should fire now,
// and when it fires next. After downtime it fires once, however many
// ticks were missed: if a tick passed since last, fire is true and next
// is the first tick after now. A schedule that never fired (last is
// zero) does not fire at once: next is its first tick after now. Due is
// a pure function; the daemon stores last and calls it at next.
func (s *Schedule) Due(last, now time.Time) (fire bool, next time.Time) {
	if last.IsZero() {
		return false, s.Next(now)
	}
	tick := s.Next(last)
	if !tick.IsZero() && !tick.After(now) {
		return true, s.Next(now)
	}
	return false, tick
}

// Location is the schedule's time zone.
func (s *Schedule) Location() *time.Location { return s.spec.Location }

// String is the expression and its zone, e.g. "0 9 * * * (Europe/Madrid)".
func (s *Schedule) String() string { return s.Cron + " (" + s.Timezone + ")" }
