package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"regexp"
	"strconv"
	"time"

	"github.com/hookd/hookd/internal/standin"
)

// sink stands in for every target of the firing rules: Wassenger's REST
// API, a Slack incoming webhook and a generic webhook endpoint. Each
// records the time it received every request.
type sink struct {
	wassenger *standin.Wassenger
	slack     *standin.Recorder
	webhook   *standin.Recorder
	token     string
	slackPath string
}

// randomHex returns n random bytes as hex.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// newSink starts the stand-ins on 127.0.0.1. Close it when done.
func newSink() *sink {
	s := &sink{token: randomHex(16), slackPath: "/services/TLOAD/BLOAD/" + randomHex(12)}
	s.wassenger = standin.NewWassenger(s.token)
	s.slack = standin.NewRecorder()
	s.webhook = standin.NewRecorder()
	return s
}

// env is what the generated rules file needs to point at the sink.
func (s *sink) env() []string {
	return []string{
		envWassengerToken + "=" + s.token,
		envWassengerURL + "=" + s.wassenger.BaseURL(),
		envSlackURL + "=" + s.slack.URL() + s.slackPath,
		envWebhookURL + "=" + s.webhook.URL() + "/hook",
	}
}

// server returns the stand-in that receives actions of type typ.
func (s *sink) server(typ string) *standin.Server {
	switch typ {
	case fireWassenger:
		return s.wassenger.Server
	case fireSlack:
		return s.slack.Server
	default:
		return s.webhook.Server
	}
}

// count returns how many requests the stand-ins of types received.
func (s *sink) count(types []string) int {
	n := 0
	for _, t := range types {
		n += s.server(t).Count()
	}
	return n
}

// waitProgress waits until progress() reaches want, ctx ends, or it
// stays the same for quiet, and returns its last value. It polls: a
// condition callback on every request would copy the stand-ins' whole
// record each time.
func waitProgress(ctx context.Context, progress func() int, want int, quiet time.Duration) int {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	last, lastChange := -1, time.Now()
	for {
		n := progress()
		if n >= want {
			return n
		}
		if n != last {
			last, lastChange = n, time.Now()
		} else if time.Since(lastChange) > quiet {
			return n
		}
		select {
		case <-ctx.Done():
			return n
		case <-tick.C:
		}
	}
}

// Close stops the stand-ins.
func (s *sink) Close() {
	s.wassenger.Close()
	s.slack.Close()
	s.webhook.Close()
}

// arrival is one action the sink received for an event of the run.
type arrival struct {
	Seq  int64
	At   time.Time
	Fail bool
}

// arrivals returns, per action type, the requests that carry an event
// id of the run, and how many requests carried none.
func (s *sink) arrivals(types []string, ids eventIDs) (map[string][]arrival, int) {
	re := regexp.MustCompile(regexp.QuoteMeta(ids.prefix) + `-([0-9]{10})`)
	out := map[string][]arrival{}
	stray := 0
	for _, typ := range types {
		for _, r := range s.server(typ).Requests() {
			n, ok := findSeq(re, typ, r.Body)
			if !ok {
				stray++
				continue
			}
			out[typ] = append(out[typ], arrival{Seq: ids.seq(n), At: r.Time, Fail: r.Failed})
		}
	}
	return out, stray
}

// findSeq reads the ten digits of the event's id from an action's body
// (see eventIDs.seq): for Wassenger from hookd's reference
// hookd:<event key>:<rule>:<index> when it is not hashed, else from the
// text the rules put the id in.
func findSeq(re *regexp.Regexp, typ string, body []byte) (int64, bool) {
	if typ == fireWassenger {
		var m struct {
			Reference string `json:"reference"`
		}
		if json.Unmarshal(body, &m) == nil {
			if sub := re.FindStringSubmatch(m.Reference); sub != nil {
				seq, err := strconv.ParseInt(sub[1], 10, 64)
				return seq, err == nil
			}
		}
	}
	sub := re.FindSubmatch(body)
	if sub == nil {
		return 0, false
	}
	seq, err := strconv.ParseInt(string(sub[1]), 10, 64)
	return seq, err == nil
}
