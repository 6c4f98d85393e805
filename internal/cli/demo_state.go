package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// burstGroup is the group of the demo's burst of removals.
const burstGroup = "120363099999999999@g.us"

// postBurst posts what the example rules that remember act on: six
// removals from one group a minute apart (by a trusted admin, so only
// mass-removal's window counts them: the fifth fires it, its throttle
// holds the sixth) and three joins of yesterday (daily-joins' digest
// collects them, and sends them at once: its 09:00 tick has passed).
// Event times are the events' created fields, as Wassenger sends them.
func postBurst(url string, now time.Time) (int, error) {
	start := now.Add(-10 * time.Minute).Unix()
	var bodies []map[string]any
	for i := range 6 {
		bodies = append(bodies, map[string]any{
			"id": fmt.Sprintf("demo-burst-remove-%d-%d", start, i), "event": "group:update", "action": "remove",
			"author": "+34600000001", "participants": []string{fmt.Sprintf("+3465550010%d", i)},
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
	for _, b := range bodies {
		data, err := json.Marshal(b)
		if err != nil {
			return 0, err
		}
		resp, err := http.Post(url, "application/json", bytes.NewReader(data))
		if err != nil {
			return 0, fmt.Errorf("post an event: %w", err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return 0, fmt.Errorf("post an event: %s", resp.Status)
		}
	}
	return len(bodies), nil
}
