package daemon

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/testbackend"
	"github.com/hookd/hookd/store"
)

// activeConns records the remote addresses of the connections that began
// a request; install its hook before Run.
type activeConns struct{ seen sync.Map }

func (a *activeConns) hook(d *Daemon) {
	d.server.ConnState = func(c net.Conn, s http.ConnState) {
		if s == http.StateActive {
			a.seen.Store(c.RemoteAddr().String(), true)
		}
	}
}

func (a *activeConns) has(addr string) bool {
	_, ok := a.seen.Load(addr)
	return ok
}

// waitListenerClosed waits until the daemon refuses new connections: its
// shutdown has begun.
func waitListenerClosed(t *testing.T, h *harness) {
	t.Helper()
	eventually(t, "the daemon to stop listening", func() bool {
		c, err := net.Dial("tcp", h.d.Addr())
		if err != nil {
			return true
		}
		c.Close()
		return false
	})
}

// Shutdown 20: on cancel, the request in flight is finished and
// answered, the running action gets DrainTimeout and is then cut, no
// other action starts, every unfinished job stays pending in the store,
// Run returns nil, and a restart resumes them with the same references.
func TestShutdownDrainsAndLeavesTheRestPending(t *testing.T) {
	t.Parallel()
	testbackend.Each(t, func(t *testing.T, backend string) {
		var active activeConns
		h := start(t, options{backend: backend, rules: slowDelivery + deliveryRules, workers: 2, drain: time.Second, beforeRun: active.hook})

		// G0 waits for a retry ten minutes away; G1's attempt hangs.
		h.wa.FailNext(1, http.StatusTooManyRequests, http.Header{"Retry-After": {"600"}}, "later")
		h.wa.HangAll()
		h.accept(t, js(t, groupEvent("G0", "add")))
		eventually(t, "G0's retry to be scheduled", func() bool {
			jobs := h.jobs(t)
			return len(jobs) == 1 && jobs[0].Attempts == 1
		})
		h.accept(t, js(t, groupEvent("G1", "add")))
		eventually(t, "G1's attempt to hang", func() bool { return h.wa.Count() == 2 })

		// G2 is posted by a slow client: half its body is sent now.
		body := js(t, groupEvent("G2", "add"))
		conn, err := net.Dial("tcp", h.d.Addr())
		must(t, err)
		defer conn.Close()
		must(t, conn.SetDeadline(time.Now().Add(waitLimit)))
		_, err = fmt.Fprintf(conn, "POST /webhooks/wassenger?key=%s HTTP/1.1\r\nHost: hookd\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
			h.key, len(body), body[:len(body)/2])
		must(t, err)
		eventually(t, "the slow request to be in flight", func() bool { return active.has(conn.LocalAddr().String()) })

		h.cancel()
		waitListenerClosed(t, h)
		_, err = io.WriteString(conn, body[len(body)/2:])
		must(t, err)
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("the request in flight got no answer: %v", err)
		}
		var got accepted
		err = json.NewDecoder(resp.Body).Decode(&got)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || err != nil || got.Accepted != 1 {
			t.Fatalf("the request in flight got %d %+v (%v), want 200 and 1 accepted", resp.StatusCode, got, err)
		}
		if err := h.stop(); err != nil {
			t.Fatalf("Run = %v, want nil", err)
		}
		if !strings.Contains(h.logs.String(), "did not finish in time") {
			t.Errorf("the cut action was not logged")
		}
		// The last line tells the operator what the next start runs.
		if want := `"msg":"hookd stopped","pending":3`; !strings.Contains(h.logs.String(), want) {
			t.Errorf("no log line %s: the jobs left pending in the store", want)
		}
		for _, r := range h.wa.Requests() {
			if ref := refOf(t, r); ref == refFor(t, groupEvent("G2", "add"), "greet", 0) {
				t.Errorf("G2's action started after the shutdown began")
			}
		}
		if n := h.wa.Count(); n != 2 {
			t.Errorf("Wassenger got %d requests, want 2 (G0's 429, G1's cut attempt)", n)
		}

		attempts := map[string]int{}
		for _, j := range h.jobs(t) {
			if j.State == store.StatePending {
				attempts[entityOf(j.EventID)] = j.Attempts
			}
		}
		if want := map[string]int{"G0": 1, "G1": 0, "G2": 0}; fmt.Sprint(attempts) != fmt.Sprint(want) {
			t.Errorf("pending jobs by event (attempts) = %v, want %v", attempts, want)
		}
		s := h.otherStore(t)
		if st, err := s.Stats(context.Background()); err != nil || st.Events != 3 {
			t.Errorf("store holds %+v (%v), want 3 events", st, err)
		}
		must(t, s.Close())

		// A restart resumes the jobs that are due, with their references.
		h.wa.Heal()
		h.restart(t)
		eventually(t, "G1 and G2 to be sent after the restart", func() bool {
			refs := h.wa.References()
			return refs[refFor(t, groupEvent("G1", "add"), "greet", 0)] == 1 && refs[refFor(t, groupEvent("G2", "add"), "greet", 0)] == 1
		})
		if refs := h.wa.References(); len(refs) != 2 {
			t.Errorf("Wassenger accepted %v, want G1 and G2 once (G0 is not due)", refs)
		}
	})
}

// Shutdown 20: an action still running when Run's context ends finishes
// within DrainTimeout and is recorded done.
func TestShutdownLetsRunningActionFinish(t *testing.T) {
	t.Parallel()
	testbackend.Each(t, func(t *testing.T, backend string) {
		g := newGated(t)
		h := start(t, options{backend: backend, drain: waitLimit, rules: strings.ReplaceAll(dedupRules, "@GATE@", g.URL())})
		h.accept(t, js(t, groupEvent("RUN-1", "add")))
		eventually(t, "the webhook to be held", func() bool { return g.Count() == 1 })

		h.cancel()
		waitListenerClosed(t, h)
		g.open()
		if err := h.stop(); err != nil {
			t.Fatalf("Run = %v, want nil", err)
		}
		jobs := h.jobs(t)
		if !allInState(jobs, 2, store.StateDone) {
			t.Errorf("after shutdown the jobs are:%s\nwant both done", describe(jobs))
		}
		if r := g.Requests(); len(r) != 1 || r[0].Status != http.StatusOK {
			t.Errorf("webhook target saw %+v, want one request answered 200", r)
		}
	})
}

// A node whose store cannot be read when Run starts (its NATS server is
// down, or its stream still elects a leader) asks again until it can,
// instead of exiting, and then serves; stopped while it waits, it stops
// cleanly.
func TestRunWaitsForAnUnavailableStore(t *testing.T) {
	t.Parallel()
	h := start(t, options{backend: testbackend.JetStream, rules: welcomeRules, storeTimeout: 500 * time.Millisecond})
	must(t, h.stop())
	const warning = "the store cannot list the pending actions yet; trying again"
	// runWithoutNATS runs a new daemon with NATS stopped after New, and
	// returns once it warned that it waits.
	runWithoutNATS := func() (*Daemon, context.CancelFunc, chan error) {
		d, err := New(h.cfg)
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		warned := strings.Count(h.logs.String(), warning)
		h.nats.Stop(0)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- d.Run(ctx, nil) }()
		eventually(t, "a warning that the store cannot list the pending actions yet", func() bool {
			select {
			case err := <-done:
				t.Fatalf("Run returned while the store was unavailable: %v", err)
			default:
			}
			return strings.Count(h.logs.String(), warning) > warned
		})
		return d, cancel, done
	}

	_, cancel, done := runWithoutNATS()
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run stopped while waiting for the store: %v, want nil", err)
	}
	h.nats.Restart(0)

	d, cancel, done := runWithoutNATS()
	h.nats.Restart(0)
	eventually(t, "the daemon to answer /healthz once NATS is back", func() bool {
		resp, err := http.Get("http://" + d.Addr() + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
}
