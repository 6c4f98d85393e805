package daemon

import (
	"context"
	"encoding/json"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookd/hookd/engine"
	"github.com/hookd/hookd/event"
	"github.com/hookd/hookd/store"
	"github.com/hookd/hookd/store/sqlite"
)

// readCounter is a store that counts the states read from it.
type readCounter struct {
	store.Store
	reads atomic.Int64
}

func (c *readCounter) GetState(ctx context.Context, scope, key string, now time.Time) (store.State, bool, error) {
	c.reads.Add(1)
	return c.Store.GetState(ctx, scope, key, now)
}

// Intake asks the store about a group:update the number made itself
// only when the running rules change groups: rules that only read the
// group (a welcome, an alert) cost no store read per event.
func TestRecogniseOwnReadsStoreOnlyForGroupChanges(t *testing.T) {
	s, err := sqlite.Open(t.TempDir(), sqlite.Options{Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	st := &readCounter{Store: s}
	d := &Daemon{store: st, own: engine.NewOwnChanges()}
	ev := groupEvent("echo", "remove")
	ev["author"] = ownNumber
	body, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, rules string
		reads       int64
	}{
		{"alert only", `version: 1
rules:
  - name: removal-alert
    on: group:update
    if: action == "remove" && len(participants) > 0 && data.chat.id != ""
    do: [log: {message: "{{ author }} removed {{ participants }}"}]
`, 0},
		{"kick", "version: 1\nconnections: { wassenger: { token: t0ken-for-tests } }\n" + groupLoopRules, 1},
	} {
		rs, probs := engine.Load("rules.yaml", []byte(tc.rules), engine.LoadOptions{AllowUnsetEnv: true})
		if probs.Errors() > 0 {
			t.Fatalf("%s: %v", tc.name, probs)
		}
		evs, err := event.ParseProjected(body, rs.Projection())
		if err != nil {
			t.Fatal(err)
		}
		st.reads.Store(0)
		if why := d.recogniseOwn(context.Background(), rs, evs[0], time.Now()); why != "" {
			t.Errorf("%s: %q, want no change of hookd's", tc.name, why)
		}
		if got := st.reads.Load(); got != tc.reads {
			t.Errorf("%s: %d store reads, want %d", tc.name, got, tc.reads)
		}
	}
}
