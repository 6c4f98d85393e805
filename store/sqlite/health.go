package sqlite

import "context"

// Writable reports nil when the store can take writes, or why not: the
// error of a write that failed within the last writehealth.FailureHold
// with no synced write (events, a requeue, the probe) succeeding since.
// When it cannot tell from recent writes it writes a probe (one row,
// committed and synced), so it reports nil again once the disk takes
// writes again, also when no event comes in.
func (s *Store) Writable(ctx context.Context) error {
	if err := s.readable(); err != nil {
		return err
	}
	err, probe := s.health.Check(s.now())
	if !probe {
		return err
	}
	return s.write(ctx, func(w *wtx) error {
		_, err := w.exec(s.st.probe, millis(s.now()))
		return err
	})
}
