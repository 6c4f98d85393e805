package sqlite

import (
	"context"
	"errors"
	"testing"
)

// TestCommitRollsBackOnlyTheFailingOperation: a batch is first run
// without savepoints; when one operation fails, the batch runs again with
// a savepoint each, so the others are stored, the failing one's writes
// are not, and each caller gets its own result.
func TestCommitRollsBackOnlyTheFailingOperation(t *testing.T) {
	s := open(t, t.TempDir(), Options{})
	refused := errors.New("refused by the operation")
	insert := func(key string, fail bool) *op {
		return &op{done: make(chan error, 1), durable: true, apply: func(w *wtx) error {
			if _, err := w.exec(s.st.insertEvent, key, "e", "", []byte("{}"), bodyAsReceived, int64(1), "[]", "[]"); err != nil {
				return err
			}
			if fail {
				return refused
			}
			return nil
		}}
	}
	runs := 0
	counted := &op{done: make(chan error, 1), apply: func(*wtx) error { runs++; return nil }}
	ops := []*op{insert("a", false), counted, insert("b", true), insert("c", false)}
	errs, err := s.commit(ops)
	if err != nil {
		t.Fatalf("the batch failed as a whole: %v", err)
	}
	for i, want := range []error{nil, nil, refused, nil} {
		if !errors.Is(errs[i], want) {
			t.Errorf("operation %d: %v, want %v", i, errs[i], want)
		}
	}
	if runs != 2 {
		t.Errorf("an operation before the failing one ran %d times, want 2 (once without savepoints, once with)", runs)
	}
	for key, want := range map[string]bool{"a": true, "b": false, "c": true} {
		var n int
		if err := s.r.QueryRowContext(context.Background(), `SELECT count(*) FROM events WHERE key = ?`, key).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if (n == 1) != want {
			t.Errorf("event %s stored %d times, want stored %v", key, n, want)
		}
	}

	// A batch in which nothing fails runs once.
	runs = 0
	if errs, err := s.commit([]*op{counted, insert("d", false)}); err != nil || errs[0] != nil || errs[1] != nil || runs != 1 {
		t.Errorf("a clean batch: %v %v, ran %d times, want once with no errors", errs, err, runs)
	}
}
