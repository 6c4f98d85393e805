package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/standin"
	"github.com/hookd/hookd/internal/testbackend"
)

// Log messages of hookd the tests wait for.
const (
	msgShutdown    = "shutting down: no new requests; running actions get a deadline"
	msgInterrupted = "action interrupted by shutdown; it stays pending"
	msgDrainCut    = "running actions did not finish in time; they stay pending and run again after restart"
	msgReloaded    = "rules reloaded"
	msgReloadFail  = "rules reload failed; the previous rules keep running"
)

// docs/reliability.md item 20: on SIGTERM hookd stops taking connections,
// answers the requests in flight, gives running actions the drain
// timeout, leaves every unfinished job pending and exits 0; a restart
// runs each of them once.
func TestSIGTERMDrainsAndRestartResumes(t *testing.T) {
	t.Parallel()
	testbackend.Each(t, func(t *testing.T, backend string) {
		const (
			n     = 20
			drain = 4 * time.Second
		)
		w := newWorldOn(t, backend, "rules.yaml")
		w.ws.HangAll() // actions in flight stay in flight
		p := w.start("--drain-timeout", drain.String())

		ids := make([]string, n, n+1)
		for i := range ids {
			ids[i] = fmt.Sprintf("sigterm-%02d", i)
		}
		postAll(t, p.Addr, ids)
		waitStandin(t, w.ws, fmt.Sprintf("%d actions in flight", concurrency), func(r []standin.Request) bool {
			return len(r) >= concurrency
		})

		// A request in flight at SIGTERM: hookd is reading its body, which the
		// test sends only once shutdown has begun.
		const lateID = "sigterm-in-flight"
		ids = append(ids, lateID)
		slow := startSlowPost(t, p.Addr, message(lateID))
		slow.waitReading(t)
		p.Term()
		p.waitLog("the shutdown log line", countMsg(msgShutdown, 1))
		poll(t, "refused connection after SIGTERM", func() bool {
			c, err := net.DialTimeout("tcp", p.Addr, time.Second)
			if err != nil {
				return true
			}
			c.Close()
			return false
		})
		a := slow.finish(t)
		if a.Status != http.StatusOK || !strings.Contains(string(a.Body), `"accepted":1`) {
			t.Fatalf("request in flight at SIGTERM got %d %s, want 200 with accepted 1", a.Status, a.Body)
		}
		if code := p.Wait(drain + patience); code != 0 {
			t.Fatalf("hookd exited with %d after SIGTERM, want 0", code)
		}
		held := w.ws.Count()
		if got := p.Logs.count(msgInterrupted); got != held {
			t.Errorf("%d actions logged as interrupted, want %d (every request the stand-in held)", got, held)
		}
		if p.Logs.count(msgDrainCut) != 1 {
			t.Errorf("no log line %q", msgDrainCut)
		}
		if p.Logs.count("hookd stopped") != 1 {
			t.Error("no log line \"hookd stopped\"")
		}
		if got := w.ws.References(); len(got) != 0 {
			t.Fatalf("stand-in accepted %s while hanging every request", describeCounts(got))
		}
		if st := w.storeStats(t); st.Events != n+1 || st.Pending != n+1 || st.Dead != 0 {
			t.Fatalf("store after SIGTERM: %+v, want %d events and %d pending jobs", st, n+1, n+1)
		}

		w.ws.Heal()
		p2 := w.start()
		p2.waitIdle()
		want := map[string]int{}
		for _, id := range ids {
			want[ref(id, "echo")] = 1
		}
		if got := w.ws.References(); !maps.Equal(got, want) {
			t.Errorf("after the restart the stand-in accepted %s, want each of the %d references once", describeCounts(got), n+1)
		}
		if after := w.ws.Requests()[held:]; len(after) != n+1 {
			t.Errorf("after the restart hookd sent %d requests, want %d", len(after), n+1)
		}
		p2.stop()
	})
}

// SIGHUP reloads the rules file even when nothing in its folder changed:
// a good file replaces the running rules (log line, /api/rules, the
// events that follow), a broken one keeps them.
func TestSIGHUPReloadsRules(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "rules.yaml")
	// A second name for the rules file in another folder: writing through
	// it changes the file without an event in the folder hookd watches,
	// so only SIGHUP tells hookd about the change.
	alias := filepath.Join(t.TempDir(), "rules.yaml")
	if err := os.Link(w.rules, alias); err != nil {
		t.Skipf("hard links are needed to change the rules file behind the watcher: %v", err)
	}
	p := w.start()
	v1 := hash(readFile(t, w.rules))
	if rs := p.rulesStatus(); rs.Version != v1 || !slices.Equal(rs.Names, []string{"echo"}) {
		t.Fatalf("/api/rules at start: %+v, want version %s and rule echo", rs, v1)
	}

	// The same bytes: only a forced reload logs this.
	p.Hup()
	p.waitLog("\"rules reloaded\" after SIGHUP with the file unchanged", countMsg(msgReloaded, 1))
	if rs := p.rulesStatus(); rs.Version != v1 {
		t.Errorf("/api/rules version %s after reloading the same file, want %s", rs.Version, v1)
	}

	v2 := hash(overwrite(t, alias, "rules-v2.yaml"))
	p.Hup()
	p.waitLog("\"rules reloaded\" with the new version", func(es []entry) bool {
		for _, e := range es {
			if e.Msg == msgReloaded && e.Fields["version"] == v2[:12] {
				return true
			}
		}
		return false
	})
	if rs := p.rulesStatus(); rs.Version != v2 || !slices.Equal(rs.Names, []string{"echo", "shout"}) || rs.LastError != "" {
		t.Fatalf("/api/rules after SIGHUP: %+v, want version %s, rules echo and shout, no error", rs, v2)
	}
	const id = "after-sighup"
	mustAccept(t, p.Addr, id, false)
	p.waitIdle()
	if got, want := w.ws.References(), map[string]int{ref(id, "echo"): 1, ref(id, "shout"): 1}; !maps.Equal(got, want) {
		t.Errorf("stand-in accepted %s, want %s: both rules of the new file", describeCounts(got), describeCounts(want))
	}

	overwrite(t, alias, "rules-broken.yaml")
	p.Hup()
	p.waitLog("the reload failure log line", countMsg(msgReloadFail, 1))
	rs := p.rulesStatus()
	if rs.Version != v2 || !slices.Equal(rs.Names, []string{"echo", "shout"}) {
		t.Errorf("/api/rules after a broken reload: %+v, want version %s still running", rs, v2)
	}
	if want := w.rules + ":8:9"; !strings.Contains(rs.LastError, want) || !strings.Contains(rs.LastError, "nosuchfunction") {
		t.Errorf("/api/rules last_error %q does not point at %s and name nosuchfunction", rs.LastError, want)
	}
	p.stop()
}

// overwrite replaces the content of path with testdata/name in place (the
// same inode, so every hard link sees it) and returns the new content.
func overwrite(t *testing.T, path, name string) []byte {
	t.Helper()
	data := readFile(t, filepath.Join("testdata", name))
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return data
}

func hash(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// slowPost is a webhook request whose body the test holds back: it sends
// the headers with "Expect: 100-continue", learns that hookd is reading
// the body when the 100 Continue arrives, and sends the body on finish.
type slowPost struct {
	body    []byte
	pw      *io.PipeWriter
	reading chan struct{} // closed at 100 Continue
	done    chan struct{} // closed when the answer (or err) is in
	ans     answer
	err     error
}

func startSlowPost(t *testing.T, addr string, body []byte) *slowPost {
	t.Helper()
	pr, pw := io.Pipe()
	s := &slowPost{body: body, pw: pw, reading: make(chan struct{}), done: make(chan struct{})}
	var once sync.Once
	trace := &httptrace.ClientTrace{Got100Continue: func() { once.Do(func() { close(s.reading) }) }}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace),
		http.MethodPost, "http://"+addr+"/webhooks/wassenger", pr)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = int64(len(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Hookd-Key", webhookKey)
	req.Header.Set("Expect", "100-continue")
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true, ExpectContinueTimeout: patience}}
	go func() {
		defer close(s.done)
		resp, err := client.Do(req)
		if err != nil {
			s.err = err
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		s.ans, s.err = answer{Status: resp.StatusCode, Header: resp.Header, Body: b}, err
	}()
	t.Cleanup(func() {
		pw.CloseWithError(io.ErrUnexpectedEOF)
		<-s.done
	})
	return s
}

// waitReading waits until hookd has started reading the body.
func (s *slowPost) waitReading(t *testing.T) {
	t.Helper()
	select {
	case <-s.reading:
	case <-s.done:
		t.Fatalf("request ended before hookd read its body: %v %d %s", s.err, s.ans.Status, s.ans.Body)
	case <-time.After(patience):
		t.Fatalf("no 100 Continue from hookd within %v", patience)
	}
}

// finish sends the body and returns hookd's answer.
func (s *slowPost) finish(t *testing.T) answer {
	t.Helper()
	go func() {
		if _, err := s.pw.Write(s.body); err == nil {
			s.pw.Close()
		}
	}()
	select {
	case <-s.done:
	case <-time.After(patience):
		t.Fatalf("no answer to the request in flight within %v", patience)
	}
	if s.err != nil {
		t.Fatalf("request in flight at SIGTERM: %v", s.err)
	}
	return s.ans
}
