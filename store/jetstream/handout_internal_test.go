package jetstream

import (
	"context"
	"reflect"
	"testing"

	"github.com/hookd/hookd/store"
	"github.com/hookd/hookd/store/sqlite"
)

// TestGiveUpTakesAResultAlreadySent: a caller that stops waiting (its
// context ended) at the moment the command's result arrives takes the
// result, and one that stops first leaves the command's jobs to
// TakeRequeued. Before, the first case returned an error and lost the
// result: the event was stored, its jobs were neither returned nor
// handed out, and they waited for a restart.
func TestGiveUpTakesAResultAlreadySent(t *testing.T) {
	accepted := result{outcomes: []store.Outcome{{Jobs: []store.Job{{ID: 7}, {ID: 8}}}}}
	newStore := func() *Store {
		s := &Store{waiters: map[string]chan result{}, advanced: make(chan struct{}), live: true}
		s.opts.Node = "n1"
		return s
	}
	t.Run("result first", func(t *testing.T) {
		s := newStore()
		ch := make(chan result, 1)
		s.waiters["c1"] = ch
		s.advance(1, command{ID: "c1", Node: "n1"}, accepted)
		r, ok := s.giveUp("c1", ch)
		if !ok || !reflect.DeepEqual(r.outcomes, accepted.outcomes) {
			t.Fatalf("giveUp = %+v, %v; want the result sent before", r, ok)
		}
		if len(s.handoff) != 0 {
			t.Errorf("handed out %v as well: the jobs would run twice", s.handoff)
		}
	})
	t.Run("give up first", func(t *testing.T) {
		s := newStore()
		ch := make(chan result, 1)
		s.waiters["c1"] = ch
		if _, ok := s.giveUp("c1", ch); ok {
			t.Fatal("giveUp returned a result before any was sent")
		}
		s.advance(1, command{ID: "c1", Node: "n1"}, accepted)
		if want := []int64{7, 8}; !reflect.DeepEqual(s.handoff, want) {
			t.Errorf("handed out %v, want %v", s.handoff, want)
		}
		if len(ch) != 0 {
			t.Error("the result went to the caller that gave up")
		}
	})
}

// TestTakeRequeuedKeepsIDsWhenTheModelFails: ids handed out to this node
// are dropped only for jobs gone from the read model; when reading the
// model fails, TakeRequeued returns the error and hands every id out
// again at the next call. Before, such a job stayed pending, unqueued,
// until a restart.
func TestTakeRequeuedKeepsIDsWhenTheModelFails(t *testing.T) {
	model, err := sqlite.Open(t.TempDir(), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s := &Store{model: model, handoff: []int64{1, 2}}
	if jobs, err := s.TakeRequeued(context.Background()); err != nil || len(jobs) != 0 || len(s.handoff) != 0 {
		t.Fatalf("jobs gone from the model: TakeRequeued = %v, %v, handoff %v; want none, nil, none", jobs, err, s.handoff)
	}
	s.handoff = []int64{1, 2}
	if err := model.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.TakeRequeued(context.Background()); err == nil {
		t.Fatal("TakeRequeued on a closed read model returned no error")
	}
	if want := []int64{1, 2}; !reflect.DeepEqual(s.handoff, want) {
		t.Errorf("handoff after the failed read = %v, want %v kept", s.handoff, want)
	}
}
