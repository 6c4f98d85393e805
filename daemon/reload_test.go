package daemon

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/engine"
	"github.com/hookd/hookd/internal/standin"
	"github.com/hookd/hookd/internal/testbackend"
)

// waitForHook waits until the webhook stand-in got a request at path
// whose body names the event id.
func waitForHook(t *testing.T, h *harness, path, id string) {
	t.Helper()
	err := h.hook.WaitFor(waitCtx(t), func(reqs []standin.Request) bool {
		for _, r := range reqs {
			if r.Path == path && strings.Contains(string(r.Body), `"`+id+`"`) {
				return true
			}
		}
		return false
	})
	if err != nil {
		t.Fatalf("no request at %s for %s: %v", path, id, err)
	}
}

// Rules 17: a broken file keeps the old rules running; the error is
// logged and shown with file:line:col by the API and a metric; the next
// good file recovers.
func TestBrokenReloadKeepsOldRules(t *testing.T) {
	t.Parallel()
	testbackend.Each(t, func(t *testing.T, backend string) {
		for _, tc := range []struct {
			file, pos, msg string
		}{
			{"broken-yaml.yaml", "18:17", "never closed"},
			{"broken-unknown-key.yaml", "14:5", `unknown key "retry"`},
			{"broken-expression.yaml", "14:28", "unknown function lenght"},
			{"broken-unknown-action.yaml", "15:9", `unknown action type "webhok"`},
			// A valid file whose inline example fails is refused like a
			// broken one (the failure is at the expectation: the true
			// of its fires).
			{"broken-example.yaml", "23:16", `example "short messages are forwarded" failed`},
		} {
			t.Run(tc.file, func(t *testing.T) {
				t.Parallel()
				h := start(t, options{backend: backend, rulesFile: "reload/good-old.yaml"})
				h.accept(t, js(t, messageEvent("M-1", "one")))
				waitForHook(t, h, "/old", "M-1")

				h.writeRules(h.expand(readTestdata(t, "reload/"+tc.file)))
				want := h.rulesPath + ":" + tc.pos + ": "
				var st ReloadStatus
				eventually(t, "the reload error", func() bool {
					st = h.rulesStatus(t)
					return st.LastError != ""
				})
				if !strings.Contains(st.LastError, want) || !strings.Contains(st.LastError, tc.msg) {
					t.Errorf("/api/rules last_error = %q, want %q and %q", st.LastError, want, tc.msg)
				}
				if len(st.Names) != 1 || st.Names[0] != "old-rule" {
					t.Errorf("/api/rules names %v, want the old rules", st.Names)
				}
				if !strings.Contains(h.logs.String(), want) {
					t.Errorf("the log does not show %q", want)
				}
				m := h.metricsText(t)
				if n := metric(m, "hookd_rules_last_reload_success"); n != 0 {
					t.Errorf("hookd_rules_last_reload_success = %v, want 0", n)
				}
				if n := metric(m, "hookd_rules_reloads_total", "result", "error"); n != 1 {
					t.Errorf(`hookd_rules_reloads_total{result="error"} = %v, want 1`, n)
				}
				var health map[string]any
				h.getJSON(t, "/healthz", &health)
				if health["rules_reload_error"] != true {
					t.Errorf("/healthz rules_reload_error = %v, want true", health["rules_reload_error"])
				}
				// The old rules still fire.
				h.accept(t, js(t, messageEvent("M-2", "two")))
				waitForHook(t, h, "/old", "M-2")

				// The next good file recovers.
				h.writeRules(h.expand(readTestdata(t, "reload/good-new.yaml")))
				eventually(t, "the new rules", func() bool {
					st = h.rulesStatus(t)
					return len(st.Names) == 1 && st.Names[0] == "new-rule"
				})
				if st.LastError != "" {
					t.Errorf("last_error = %q after a good reload, want none", st.LastError)
				}
				if n := h.metric(t, "hookd_rules_last_reload_success"); n != 1 {
					t.Errorf("hookd_rules_last_reload_success = %v after a good reload, want 1", n)
				}
				h.accept(t, js(t, messageEvent("M-3", "three")))
				waitForHook(t, h, "/new", "M-3")
				for _, r := range h.hook.Requests() {
					if r.Path == "/new" && strings.Contains(string(r.Body), "M-2") {
						t.Errorf("the broken file's rule fired for M-2")
					}
				}
			})
		}
	})
}

// Rules 18: saving by rename (two ways), a symlink swap and a burst of
// writes each cause exactly one reload.
func TestEachSaveReloadsOnce(t *testing.T) {
	t.Parallel()
	testbackend.Each(t, func(t *testing.T, backend string) {
		for _, tc := range []struct {
			name      string
			symlinked bool
			save      func(t *testing.T, h *harness, data []byte)
		}{
			{
				name: "write to a temporary file and rename",
				save: func(t *testing.T, h *harness, data []byte) { h.writeRules(string(data)) },
			},
			{
				// vim: rename the file to a backup, write a new one, delete
				// the backup.
				name: "vim backup and write",
				save: func(t *testing.T, h *harness, data []byte) {
					backup := h.rulesPath + "~"
					must(t, os.Rename(h.rulesPath, backup))
					must(t, os.WriteFile(h.rulesPath, data, 0o644))
					must(t, os.Remove(backup))
				},
			},
			{
				// Kubernetes ConfigMap: rules.yaml -> ..data/rules.yaml, and
				// ..data is swapped to a new folder by rename.
				name:      "symlink swap",
				symlinked: true,
				save: func(t *testing.T, h *harness, data []byte) {
					dir := filepath.Dir(h.rulesPath)
					must(t, os.Mkdir(filepath.Join(dir, "..v2"), 0o755))
					must(t, os.WriteFile(filepath.Join(dir, "..v2", "rules.yaml"), data, 0o644))
					must(t, os.Symlink("..v2", filepath.Join(dir, "..data_tmp")))
					must(t, os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")))
				},
			},
			{
				// A tool that writes the file in many small pieces.
				name: "burst of writes",
				save: func(t *testing.T, h *harness, data []byte) {
					f, err := os.OpenFile(h.rulesPath, os.O_WRONLY|os.O_TRUNC, 0)
					must(t, err)
					for i := 0; i < len(data); i += 32 {
						_, err := f.Write(data[i:min(i+32, len(data))])
						must(t, err)
						must(t, f.Sync())
					}
					must(t, f.Close())
				},
			},
		} {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				h := start(t, options{backend: backend, rulesFile: "reload/good-old.yaml", symlinked: tc.symlinked, debounce: 300 * time.Millisecond})
				data := []byte(h.expand(readTestdata(t, "reload/good-new.yaml")))
				tc.save(t, h, data)
				sum := sha256.Sum256(data)
				eventually(t, "the new rules", func() bool { return h.rulesStatus(t).Version == hex.EncodeToString(sum[:]) })

				// A marker: a broken file saved atomically. Its reload runs
				// after every reload the save caused, so once it shows, those
				// are all counted and logged.
				h.writeRules("version: 1\nrules: [marker\n")
				eventually(t, "the marker's reload", func() bool { return h.rulesStatus(t).LastError != "" })
				// The status changes before the failure is logged.
				eventually(t, "the marker's reload logged", func() bool { return strings.Contains(h.logs.String(), "rules reload failed") })
				if n := h.metric(t, "hookd_rules_reloads_total", "result", "ok"); n != 1 {
					t.Errorf("the save caused %v successful reloads, want 1", n)
				}
				if n := strings.Count(h.logs.String(), "rules reload failed"); n != 1 {
					t.Errorf("%d failed reloads logged, want only the marker's: the daemon read the file half written", n)
				}
				h.accept(t, js(t, messageEvent("S-1", "one")))
				waitForHook(t, h, "/new", "S-1")
			})
		}
	})
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// Rules 19: a condition that fails on one event skips that rule only:
// other rules fire for it, and the rule fires for later events.
func TestConditionErrorSkipsOnlyThatRule(t *testing.T) {
	t.Parallel()
	testbackend.Each(t, func(t *testing.T, backend string) {
		h := start(t, options{backend: backend, rules: `rules:
  - name: picky
    on: group:update
    if: participants[0] == "+1"
    do:
      - webhook:
          url: "@HOOK@/picky"
          body: {id: "{{ id }}"}
  - name: steady
    on: group:update
    do:
      - webhook:
          url: "@HOOK@/steady"
          body: {id: "{{ id }}"}
`})
		noParticipants := groupEvent("COND-1", "create")
		delete(noParticipants, "participants")
		withParticipant := groupEvent("COND-2", "add")
		withParticipant["participants"] = []any{"+1"}
		h.accept(t, js(t, noParticipants))
		h.accept(t, js(t, withParticipant))

		waitForHook(t, h, "/steady", "COND-1")
		waitForHook(t, h, "/picky", "COND-2")
		waitForHook(t, h, "/steady", "COND-2")
		var rules []string
		for _, j := range jobsOf(h.jobs(t), "COND-1") {
			rules = append(rules, j.Rule)
		}
		if fmt.Sprint(rules) != "[steady]" {
			t.Errorf("COND-1 made jobs for %v, want [steady]", rules)
		}
		if n := h.metric(t, "hookd_rule_errors_total", "rule", "picky"); n != 1 {
			t.Errorf(`hookd_rule_errors_total{rule="picky"} = %v, want 1`, n)
		}
		for _, e := range h.events(t) {
			switch e.ID {
			case "COND-1":
				if len(e.Errors) != 1 || !strings.Contains(e.Errors[0], "picky") || fmt.Sprint(e.Rules) != "[steady]" {
					t.Errorf("/api/events COND-1: rules %v, errors %v; want [steady] and picky's error", e.Rules, e.Errors)
				}
			case "COND-2":
				if len(e.Errors) != 0 || fmt.Sprint(e.Rules) != "[picky steady]" {
					t.Errorf("/api/events COND-2: rules %v, errors %v; want both rules, no error", e.Rules, e.Errors)
				}
			}
		}
		if !strings.Contains(h.logs.String(), "rule failed on event") {
			t.Errorf("the rule's failure was not logged")
		}
	})
}

// A rule set that loads but that Config.Vet refuses (hookd demo's check
// that every action stays on this machine) is refused like a broken
// file: on reload the old rules keep running and the vet's problems are
// the reload error; at start New fails with them.
func TestVetRefusesRules(t *testing.T) {
	t.Parallel()
	vet := func(rs *engine.RuleSet) engine.Problems {
		for _, r := range rs.Rules {
			if r.Name == "new-rule" {
				return engine.Problems{{File: rs.File, Line: r.Line, Col: 5, Severity: engine.Error, Msg: "new-rule may not run here"}}
			}
		}
		return nil
	}
	h := start(t, options{rulesFile: "reload/good-old.yaml", vet: vet})
	h.writeRules(h.expand(readTestdata(t, "reload/good-new.yaml")))
	var st ReloadStatus
	eventually(t, "the reload error", func() bool {
		st = h.rulesStatus(t)
		return st.LastError != ""
	})
	if !strings.Contains(st.LastError, h.rulesPath+":") || !strings.Contains(st.LastError, ":5: new-rule may not run here") {
		t.Errorf("/api/rules last_error = %q, want the vet's problem at its position", st.LastError)
	}
	if len(st.Names) != 1 || st.Names[0] != "old-rule" {
		t.Errorf("/api/rules names %v, want the old rules", st.Names)
	}
	h.accept(t, js(t, messageEvent("M-1", "one")))
	waitForHook(t, h, "/old", "M-1")

	cfg := h.cfg
	cfg.Listen = "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	if _, err := New(cfg); err == nil || !strings.Contains(err.Error(), "new-rule may not run here") {
		t.Errorf("New with a vetted-out file: %v, want the vet's problem", err)
	}
}
