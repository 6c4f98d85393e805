package cli

import (
	"encoding/json"
	"fmt"
	"time"
)

// burstGroup is the group of the demo's burst of removals.
const burstGroup = "120363099999999999@g.us"

// postBurst posts what the example rules that remember act on: four
// removals from one group a minute apart, of 1, 1, 3 and 2 members (by a
// trusted admin, so only mass-removal's window counts them: it counts
// members, so the third removal fires it at 5, and its throttle holds
// the fourth) and three joins of yesterday (daily-joins' digest collects
// them, and sends them at once: its 09:00 tick has passed). Event times
// are the events' created fields, as Wassenger sends them.
func postBurst(url string, now time.Time) (int, error) {
	start := now.Add(-10 * time.Minute).Unix()
	var bodies []map[string]any
	member := 0
	for i, n := range []int{1, 1, 3, 2} { // the members each removal names
		var removed []string
		for range n {
			removed = append(removed, fmt.Sprintf("+3465550010%d", member))
			member++
		}
		bodies = append(bodies, map[string]any{
			"id": fmt.Sprintf("demo-burst-remove-%d-%d", start, i), "event": "group:update", "action": "remove",
			"author": "+34600000001", "participants": removed,
			"created": start + int64(i)*60,
			"data":    map[string]any{"chat": map[string]any{"id": burstGroup, "name": "Demo Burst Group"}},
		})
	}
	// The joins are a day old: the 09:00 tick after them has passed, so
	// the digest is due and sent at once, as it was that morning.
	yesterday := now.Add(-25 * time.Hour).Unix()
	for i := range 3 {
		bodies = append(bodies, map[string]any{
			"id": fmt.Sprintf("demo-burst-join-%d-%d", start, i), "event": "group:update", "action": "add",
			"author": "+34600000001", "participants": []string{fmt.Sprintf("+3465550020%d", i)},
			"created": yesterday + int64(i)*60,
			"data":    map[string]any{"chat": map[string]any{"id": burstGroup, "name": "Demo Burst Group"}},
		})
	}
	data := make([][]byte, len(bodies))
	for i, b := range bodies {
		var err error
		if data[i], err = json.Marshal(b); err != nil {
			return 0, err
		}
	}
	return postEvents(url, data)
}
