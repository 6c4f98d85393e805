package daemon

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/hookd/hookd/internal/testbackend"
	"github.com/hookd/hookd/store"
)

// Bodies are read into pooled buffers (overwritten when put back, under
// -race): each stored event must still be
// exactly the body sent, whatever requests ran beside it, for bodies in
// and beyond the pool's size.
func TestStoredBodiesIntactWithPooledBuffers(t *testing.T) {
	t.Parallel()
	testbackend.Each(t, func(t *testing.T, backend string) {
		h := start(t, options{backend: backend, rules: welcomeRules})
		sizes := []int{0, 100, maxPooledBody, 3 * maxPooledBody}
		const perSize = 16
		sent := map[string]string{}
		for _, pad := range sizes {
			for i := range perSize {
				ev := groupEvent(fmt.Sprintf("POOL-%d-%d", pad, i), "frobnicate")
				ev["pad"] = strings.Repeat(string(rune('a'+i%26)), pad)
				body := js(t, ev)
				sent[ev["id"].(string)] = body
			}
		}
		var (
			wg   sync.WaitGroup
			mu   sync.Mutex
			errs []error
		)
		client := &http.Client{Timeout: waitLimit}
		for id, body := range sent {
			wg.Go(func() {
				a, err := postWith(client, h, body)
				if err == nil && a != (accepted{Accepted: 1}) {
					err = fmt.Errorf("answered %+v, want 1 accepted", a)
				}
				if err != nil {
					mu.Lock()
					errs = append(errs, fmt.Errorf("%s: %w", id, err))
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		for _, err := range errs {
			t.Error(err)
		}
		got := map[string]string{}
		err := h.d.store.Events(context.Background(), store.EventQuery{}, func(e store.Event) error {
			got[entityOf(e.ID)] = string(e.Body)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(sent) {
			t.Errorf("store holds %d events, want %d", len(got), len(sent))
		}
		for id, body := range sent {
			if got[id] != body {
				t.Errorf("event %s stored as %.80q..., want the body sent, %.80q...", id, got[id], body)
			}
		}
	})
}

func TestQueryValue(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		raw, want string
	}{
		{"", ""},
		{"key=abc", "abc"},
		{"a=1&key=abc&b=2", "abc"},
		{"key=first&key=second", "first"},
		{"keys=no&akey=no", ""},
		{"key=a%2Bb%20c", "a+b c"},
		{"key=a+b", "a b"},
		{"k%65y=escaped-name", "escaped-name"},
		{"key", ""},
		{"key=", ""},
		{"key=%zz&key=ok", "ok"},
		{"key=a;b", ""},
		{"key=a;b&key=ok", "ok"},
	} {
		if got := queryValue(tc.raw, "key"); got != tc.want {
			t.Errorf("queryValue(%q) = %q, want %q", tc.raw, got, tc.want)
		}
		// The same answer as net/url, which hookd used before.
		q, _ := url.ParseQuery(tc.raw)
		if std := q.Get("key"); std != tc.want {
			t.Errorf("net/url reads %q as %q, the table says %q", tc.raw, std, tc.want)
		}
	}
}
