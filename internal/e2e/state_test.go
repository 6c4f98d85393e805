package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/engine"
	"github.com/hookd/hookd/engine/ruletest"
	"github.com/hookd/hookd/internal/standin"
	"github.com/hookd/hookd/internal/testbackend"
	"github.com/hookd/hookd/store"
)

// textAt is a message:in:new event with id and body, created at (Unix
// seconds: the event time of windows and digests).
func textAt(id, body string, created int64) []byte {
	b, err := json.Marshal(map[string]any{
		"id": id, "object": "message", "event": "message:in:new", "created": created,
		"device": map[string]any{"id": "61b37a069cba0c15d6c89757", "phone": "+4412345678"},
		"data": map[string]any{
			"id": id, "type": "text", "flow": "inbound", "fromNumber": sender,
			"from": "34600000001@c.us", "body": body,
		},
	})
	if err != nil {
		panic(err) // a literal map of strings always encodes
	}
	return b
}

// sentTexts are the message texts hookd sent the stand-in that start with
// prefix.
func sentTexts(t *testing.T, ws *standin.Wassenger, prefix string) []string {
	t.Helper()
	var out []string
	for _, r := range ws.Requests() {
		var m struct{ Message string }
		if json.Unmarshal(r.Body, &m) == nil && strings.HasPrefix(m.Message, prefix) {
			out = append(out, m.Message)
		}
	}
	return out
}

// acceptBody posts an event and requires it accepted (new or duplicate
// as dup says).
func acceptBody(t *testing.T, addr string, body []byte, dup bool) {
	t.Helper()
	a := post(t, addr, webhookKey, body)
	want := `"accepted":1`
	if dup {
		want = `"duplicates":1`
	}
	if a.Status != http.StatusOK || !strings.Contains(string(a.Body), want) {
		t.Fatalf("POST %s: %d %s, want 200 with %s", body, a.Status, a.Body, want)
	}
}

// docs/reliability.md item 25: a window and a digest survive kill -9
// with nothing lost or doubled: the window counts the events accepted
// before the crash and fires once on the 5th (redeliveries of earlier
// events do not count); the digest holds the events collected before
// and after the crash and is sent once, with all of them, also when
// hookd is killed again after sending it.
func TestKill9KeepsDigestAndWindow(t *testing.T) {
	t.Parallel()
	testbackend.Each(t, func(t *testing.T, backend string) {
		w := newWorldOn(t, backend, "state.yaml")
		now := time.Now().Unix()
		// The digest is due a second after its events' time: 25 seconds from
		// now, time enough for a crash and a restart before it.
		digestAt := now + 25
		p := w.start()
		for i := range 3 {
			acceptBody(t, p.Addr, textAt(fmt.Sprintf("burst-%d", i), "burst", now), false)
			acceptBody(t, p.Addr, textAt(fmt.Sprintf("digest-%d", i), fmt.Sprintf("digest %d", i), digestAt), false)
		}
		p.Kill9()
		// The digest's state survived the kill; nothing of it was sent.
		if states, jobs := w.collected(t); states != 1 || jobs != 0 {
			t.Fatalf("after kill -9 the store holds %d digest states and %d digest jobs, want 1 and 0", states, jobs)
		}

		p2 := w.start()
		// Wassenger delivers again what it got no answer for: duplicates,
		// which count nothing.
		acceptBody(t, p2.Addr, textAt("burst-2", "burst", now), true)
		acceptBody(t, p2.Addr, textAt("digest-2", "digest 2", digestAt), true)
		acceptBody(t, p2.Addr, textAt("burst-3", "burst", now), false)
		if got := sentTexts(t, w.ws, "burst"); len(got) != 0 {
			t.Fatalf("the window fired on the 4th event: %v", got)
		}
		acceptBody(t, p2.Addr, textAt("burst-4", "burst", now), false)
		for i := 3; i < 5; i++ {
			acceptBody(t, p2.Addr, textAt(fmt.Sprintf("digest-%d", i), fmt.Sprintf("digest %d", i), digestAt), false)
		}
		if time.Now().Unix() >= digestAt {
			t.Skip("the machine is too slow: the digest came due before its last events were posted")
		}
		waitStandin(t, w.ws, "the window's message and the digest", func([]standin.Request) bool {
			return len(sentTexts(t, w.ws, "burst")) >= 1 && len(sentTexts(t, w.ws, "digest")) >= 1
		})
		if got := sentTexts(t, w.ws, "burst"); len(got) != 1 || got[0] != "burst 5" {
			t.Errorf("window sent %q, want one \"burst 5\"", got)
		}
		want := "digest 5: digest 0,digest 1,digest 2,digest 3,digest 4"
		if got := sentTexts(t, w.ws, "digest"); len(got) != 1 || got[0] != want {
			t.Errorf("digest sent %q, want one %q", got, want)
		}
		p2.waitIdle()
		p2.Kill9()
		// The flush deleted the digest in the commit that queued its message:
		// no state of it is left to be sent again, and one job was made.
		if states, jobs := w.collected(t); states != 0 || jobs != 1 {
			t.Errorf("after the digest was sent the store holds %d digest states and %d digest jobs, want 0 and 1", states, jobs)
		}

		p3 := w.start()
		p3.waitIdle()
		if got := len(sentTexts(t, w.ws, "digest")) + len(sentTexts(t, w.ws, "burst")); got != 2 {
			t.Errorf("after another kill -9 and restart hookd sent %d state messages, want still 2", got)
		}
		p3.stop()
	})
}

// collected counts the live states and the jobs of the digest rule
// collect in w's store. Call it only while no hookd runs on w.
func (w *world) collected(t *testing.T) (states, jobs int) {
	t.Helper()
	st := w.openStore(t)
	defer st.Close()
	ctx := context.Background()
	all, err := st.Jobs(ctx, store.JobQuery{})
	if err != nil {
		t.Fatalf("read the store's jobs: %v", err)
	}
	for _, j := range all {
		if j.Rule == "collect" {
			jobs++
		}
	}
	// The rule collects per sender, and every test event has one.
	_, ok, err := st.GetState(ctx, w.scope(t, "collect"), sender, time.Now())
	if err != nil {
		t.Fatalf("read the digest's state: %v", err)
	}
	if ok {
		states++
	}
	return states, jobs
}

// scope is the state scope of the rule name in w's rules file.
func (w *world) scope(t *testing.T, name string) string {
	t.Helper()
	env := map[string]string{}
	for _, kv := range w.env() {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	rs, problems := ruletest.Load(w.rules, readFile(t, w.rules), engine.LoadOptions{LookupEnv: lookup})
	if rs == nil {
		t.Fatalf("load %s: %v", w.rules, problems)
	}
	for _, r := range rs.Rules {
		if r.Name == name {
			return r.Scope()
		}
	}
	t.Fatalf("%s has no rule %s", w.rules, name)
	return ""
}
