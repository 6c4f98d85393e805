package storetest

import (
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/hookd/hookd/store"
)

// FillMessages accepts n message:in:new events into s, 500 a call:
// event k has the key "message:in:new/<prefix>-<k, 5 digits>", a body
// naming it, and is received at at plus k milliseconds (so the newest is
// the last). With rule set, each event names it among its rules and has
// one pending job of it. For tests and benchmarks of pages of events.
func FillMessages(tb testing.TB, s store.Store, n int, prefix, rule string, at time.Time) {
	tb.Helper()
	const batch = 500
	for i := 0; i < n; i += batch {
		recs := make([]store.Record, min(batch, n-i))
		for j := range recs {
			k := i + j
			id := fmt.Sprintf("%s-%05d", prefix, k)
			recs[j].Event = store.Event{ID: "message:in:new/" + id, Name: "message:in:new",
				Body:       []byte(fmt.Sprintf(`{"event":"message:in:new","data":{"id":%q,"body":"hello %d"}}`, id, k)),
				ReceivedAt: at.Add(time.Duration(k) * time.Millisecond)}
			if rule != "" {
				recs[j].Event.Rules = []string{rule}
				recs[j].Jobs = []store.Job{{Rule: rule, Type: "log", Name: rule + "/log[0]", Reference: fmt.Sprint(k)}}
			}
		}
		if _, err := s.Accept(tb.Context(), recs); err != nil {
			tb.Fatalf("fill the store: %v", err)
		}
	}
}

// Incompressible is n bytes of text that compression cannot shrink
// (base64 of a fixed pseudo-random stream), for event bodies that must
// take their size in a store that compresses them, such as tests that
// fill a disk.
func Incompressible(n int) string {
	raw := make([]byte, base64.StdEncoding.DecodedLen(n)+3)
	_, _ = rand.NewChaCha8([32]byte{'h', 'o', 'o', 'k', 'd'}).Read(raw)
	return base64.StdEncoding.EncodeToString(raw)[:n]
}
