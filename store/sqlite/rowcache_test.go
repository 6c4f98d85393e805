package sqlite

import (
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/hookd/hookd/store"
)

// TestRowCacheForgetsRolledBackWrites: a state written by an operation
// that fails is rolled back with it, and the writer's cache of rows must
// not hand it to the next operation; one written by an operation that
// succeeds is read back by the next, as the file holds it.
func TestRowCacheForgetsRolledBackWrites(t *testing.T) {
	s := open(t, t.TempDir(), Options{})
	step := []store.Step{{Scope: "r#w", Key: "k"}}
	refused := errors.New("refused by the operation")
	write := func(value string, fail bool) *op {
		return &op{done: make(chan error, 1), durable: true, apply: func(w *wtx) error {
			have, err := s.readMany(w, step)
			if err != nil {
				return err
			}
			_, existed := have[scopeKey{"r#w", "k"}]
			if err := s.writeState(w, "r#w", "k", existed, []byte(value), time.Time{}, time.Time{}); err != nil {
				return err
			}
			if fail {
				return refused
			}
			return nil
		}}
	}
	read := func() (string, bool) {
		t.Helper()
		var got string
		var ok bool
		errs, err := s.commit([]*op{{done: make(chan error, 1), apply: func(w *wtx) error {
			have, err := s.readMany(w, step)
			r, found := have[scopeKey{"r#w", "k"}]
			got, ok = string(r.value), found
			return err
		}}})
		if err != nil || errs[0] != nil {
			t.Fatalf("read: %v %v", err, errs)
		}
		return got, ok
	}
	if errs, err := s.commit([]*op{write("1", true)}); err != nil || !errors.Is(errs[0], refused) {
		t.Fatalf("a failing write: %v %v", err, errs)
	}
	if got, ok := read(); ok {
		t.Fatalf("after a rolled-back write the writer reads %q, want no state", got)
	}
	if errs, err := s.commit([]*op{write("2", false), write("3", true)}); err != nil || errs[0] != nil || !errors.Is(errs[1], refused) {
		t.Fatalf("a batch of a good and a failing write: %v %v", err, errs)
	}
	if got, ok := read(); !ok || got != "2" {
		t.Fatalf("after the batch the writer reads %q (%v), want 2: the good write stays, the failing one does not", got, ok)
	}
}

// TestRowCacheBounds: past its bound of rows the cache forgets half of
// them, not all, and keeps its count of bytes right.
func TestRowCacheBounds(t *testing.T) {
	var c rowCache
	for i := range maxCachedRows + 1 {
		c.put(scopeKey{"s", strconv.Itoa(i)}, cachedRow{stateRow{value: []byte("vv")}, true})
	}
	if n := len(c.rows); n != maxCachedRows/2+1 {
		t.Fatalf("%d rows after one past the bound, want %d", n, maxCachedRows/2+1)
	}
	if want := 2 * len(c.rows); c.bytes != want {
		t.Fatalf("bytes %d, want %d", c.bytes, want)
	}
	if _, ok := c.get(scopeKey{"s", strconv.Itoa(maxCachedRows)}); !ok {
		t.Fatal("the row put last is gone")
	}
}
