package e2e

import (
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/hookd/hookd/internal/standin"
	"github.com/hookd/hookd/internal/testbackend"
)

// docs/reliability.md item 23 with kill -9: the events Wassenger documents
// about one message (message:out:new, its acks server, delivered, read and
// played with the same id, message:out:sent then message:out:failed with
// the same entityId) are each accepted and stored before the answer; after
// kill -9 and a restart each one's action runs once, with a reference of
// its own; each of them sent again is a duplicate.
func TestKill9EventsOfOneMessageEachRunOnce(t *testing.T) {
	t.Parallel()
	testbackend.Each(t, func(t *testing.T, backend string) {
		w := newWorldOn(t, backend, "identity.yaml")
		w.ws.HangAll()
		p := w.start()

		files, err := filepath.Glob(filepath.Join("..", "..", "testdata", "identity", "*.json"))
		if err != nil || len(files) != 7 {
			t.Fatalf("testdata/identity: %d files (%v), want 7", len(files), err)
		}
		want := map[string]int{}
		var bodies [][]byte
		for _, f := range files {
			body, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			bodies = append(bodies, body)
			want[refOf(body, "track")] = 1
			if a := post(t, p.Addr, webhookKey, body); a.Status != http.StatusOK || string(a.Body) != "{\"accepted\":1,\"duplicates\":0}\n" {
				t.Fatalf("POST %s: %d %s, want 200 with 1 accepted", filepath.Base(f), a.Status, a.Body)
			}
		}
		if len(want) != len(files) {
			t.Fatalf("the %d events have %d distinct references, want one each", len(files), len(want))
		}
		waitStandin(t, w.ws, "requests held in flight", func(r []standin.Request) bool { return len(r) >= concurrency })
		p.Kill9()
		if st := w.storeStats(t); st.Events != int64(len(files)) || st.Pending != int64(len(files)) {
			t.Fatalf("store after kill -9: %+v, want %d events, each with its job pending", st, len(files))
		}

		w.ws.Heal()
		p2 := w.start()
		for i, body := range bodies {
			if a := post(t, p2.Addr, webhookKey, body); a.Status != http.StatusOK || string(a.Body) != "{\"accepted\":0,\"duplicates\":1}\n" {
				t.Errorf("POST %s again: %d %s, want 200 with 1 duplicate", filepath.Base(files[i]), a.Status, a.Body)
			}
		}
		p2.waitIdle()
		if got := w.ws.References(); !maps.Equal(got, want) {
			t.Errorf("the stand-in accepted %s, want each of the %d references once", describeCounts(got), len(want))
		}
		p2.stop()
	})
}
