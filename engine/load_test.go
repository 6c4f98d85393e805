package engine_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/engine"
	"github.com/hookd/hookd/engine/ruletest"
)

// envFrom returns a LookupEnv that reads only the given variables.
func envFrom(vars map[string]string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		v, ok := vars[name]
		return v, ok
	}
}

// loadFile reads a rules file and loads it with engine.Load (the
// commands' loader, ruletest.LoadFile, also runs the inline examples).
func loadFile(tb testing.TB, name string, opts engine.LoadOptions) (*engine.RuleSet, engine.Problems) {
	tb.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		tb.Fatal(err)
	}
	return engine.Load(name, data, opts)
}

// loadRules loads a rules file from its text and fails the test on any
// error. Warnings are allowed: tests read made-up fields that the schema
// of Wassenger's events rightly warns about.
func loadRules(t *testing.T, src string) *engine.RuleSet {
	t.Helper()
	rs, problems := engine.Load("rules.yaml", []byte(src), engine.LoadOptions{LookupEnv: envFrom(nil)})
	if rs == nil || problems.Errors() > 0 {
		t.Fatalf("rules do not load:\n%v", problems)
	}
	return rs
}

// loadProblems loads a rules file that must not load and returns its
// problems.
func loadProblems(t *testing.T, src string, env map[string]string) engine.Problems {
	t.Helper()
	rs, problems := engine.Load("rules.yaml", []byte(src), engine.LoadOptions{LookupEnv: envFrom(env)})
	if rs != nil {
		t.Fatalf("rules loaded, want problems; warnings: %v", problems)
	}
	return problems
}

// TestBrokenPositions pins every problem of testdata/rules/broken to the
// character it must point at: the text found at line:col in the file, and
// the words the message must have. The goldens hold the whole output;
// this table says why each position is right. The files load as hookd
// check loads them, inline examples run.
func TestBrokenPositions(t *testing.T) {
	type want struct {
		line, col int
		at        string // the file's text at line:col starts with this
		msg       string
	}
	tests := []struct {
		file string
		want []want
	}{
		{"yaml-unclosed-quote", []want{{8, 20, `"Welcome {{`, `quoted string is never closed: add the closing "`}}},
		{"yaml-tab-indentation", []want{{5, 1, "\tif:", "a tab character in the indentation"}}},
		{"yaml-deeper-indentation", []want{{5, 6, "if:", "indented deeper than the key above it"}}},
		{"yaml-less-indentation", []want{{5, 4, "do:", "indentation does not match the lines above it"}}},
		{"yaml-colon-in-value", []want{{7, 24, ": someone", "unexpected `:` here: quote a value"}}},
		{"yaml-text-after-quoted-value", []want{{5, 15, "== action", "unexpected text after a quoted value"}}},
		{"yaml-unclosed-list", []want{{4, 9, "[message:out:new", "this [ is never closed"}}},
		// Over several lines: the bracket, not the last line of the list.
		{"yaml-unclosed-list-lines-above", []want{{4, 9, "[", "this [ is never closed, or its items lack commas: add the closing ]"}}},
		{"unknown-top-level-key", []want{{2, 1, "variables:", `unknown key "variables"`}}},
		{"unknown-rule-key", []want{{5, 5, "iff:", `rule "welcome": unknown key "iff" (did you mean "if"?)`}}},
		{"wrong-type-stop", []want{{5, 11, `"yes"`, `stop must be true or false, found the text "yes"`}}},
		{"quoted-boolean", []want{
			{6, 11, `"true"`, `rule "ignore-own-edits": stop must be true or false, found the text "true": remove the quotes`},
			{9, 11, `'true'`, `rule "echo-own-sends": self must be true or false, found the text "true": remove the quotes`},
		}},
		{"wrong-type-on", []want{{4, 9, "{a: b}", "on must be a string or a list of strings, found a mapping"}}},
		{"wrong-type-attempts", []want{{3, 13, "many", `delivery.attempts must be a whole number, found the text "many"`}}},
		{"missing-rule-name", []want{{3, 5, "description:", "rules[0] has no name"}}},
		{"duplicate-rule-name", []want{{8, 11, "welcome", `duplicate rule name "welcome" (first at line 3)`}}},
		{"missing-on", []want{{3, 5, "name: welcome", "has no `on:`"}}},
		{"unknown-action-type", []want{{6, 9, "slak:", `unknown action type "slak" (did you mean "slack"?)`}}},
		{"group-chat-actions", []want{
			{9, 9, "wassenger.group.add:", `missing required field "device"`},
			{16, 11, "all:", "set only one of participants, all, found participants and all"},
			{17, 9, "wassenger.group.remove:", `missing required field "participants"`},
			{20, 11, "phones:", `unknown key "phones"; known keys: device, group, participants`},
			{28, 17, "toggle", `mode must be one of add, remove, replace, found "toggle"`},
			{29, 9, "wassenger.chat.assign:", "set at least one of agent, email, department"},
			{32, 9, "wassenger.message.delete:", `missing required field "id"`},
		}},
		{"unknown-action-field", []want{{8, 11, "levle:", `unknown key "levle" (did you mean "level"?)`}}},
		// A window, throttle, digest or schedule written as a value is one
		// problem each, with the mapping to write, not also every field
		// the value lacks.
		{"state-not-mapping", []want{
			{5, 15, "10m", `rule "one-alert": throttle must be a mapping of keys to values, found the text "10m": write throttle: { per: 10m }`},
			{10, 13, "5", `rule "bursts": window must be a mapping of keys to values, found a number 5: write window: { within: 10m, at_least: 5 }`},
			{15, 13, "1h", `rule "hourly": digest must be a mapping of keys to values, found the text "1h": write digest: { every: 1h } or { schedule: "0 9 * * *" }`},
			{20, 15, `"0 9 * * 1"`, `rule "monday": schedule must be a mapping of keys to values, found the text "0 9 * * 1": write schedule: { cron: "0 9 * * 1", timezone: Europe/Madrid }`},
		}},
		// Connection settings the actions would refuse at every send.
		{"connection-bad-values", []want{
			{4, 18, "hooks.slack.com", "connections.slack.webhook_url is not an http(s) URL"},
			{5, 14, "slack.com/api", `connections.slack.api_url "slack.com/api" is not an http(s) URL`},
			{8, 11, "Group bot", `connections.email.from "Group bot" is not an address`},
		}},
		// expr's words for an operator called as a function and for a
		// comparison of a number with text, with what to write.
		{"condition-operator-as-function", []want{
			{5, 9, "startsWith(", `startsWith is an operator, not a function: write it between its operands, e.g. data.body startsWith "help"`},
			{10, 33, `> "3"`, `(mismatched types int and string): compare like with like, a number with a number (without quotes) and text with text`},
		}},
		{"top-level-list", []want{{1, 1, "- name: welcome", "the rules file is a list, not a mapping: start it with `version: 1` and `rules:`"}}},
		// A misspelt required field is one problem, not also a missing one.
		{"misspelt-required-field", []want{{7, 11, "mesage:", `unknown key "mesage" (did you mean "message"?)`}}},
		{"missing-required-field", []want{{10, 9, "email:", `missing required field "subject"`}}},
		{"phone-and-group", []want{{11, 11, "group:", "set only one of phone, group, channel, chat, found phone and group"}}},
		{"message-unknown-field", []want{{12, 11, "sendReadAk:", `unknown key "sendReadAk" (did you mean "sendReadAck"?)`}}},
		{"message-wrong-types", []want{
			{11, 24, `"yes"`, `wassenger.message.sendReadAck must be a boolean, found the text "yes"`},
			{14, 22, "yes or no", "wassenger.message.poll.options must be a list"},
			{17, 13, "previewURL:", `"previewURL" is not a documented key (did you mean "previewUrl"?)`},
			{20, 11, "selectId:", "selectId needs quote"},
			{21, 17, "{options", `wassenger.message.vote needs the key "poll"`},
		}},
		{"condition-syntax-plain", []want{{5, 28, "&& len", `unexpected token Operator("&&")`}}},
		// The value has \" escapes before the error: columns count source characters.
		{"condition-syntax-quoted", []want{{5, 60, `= \"Sales`, "to compare, write =="}}},
		// Second line of a | block.
		{"condition-syntax-block", []want{{7, 31, "> 0", `unexpected token Operator(">")`}}},
		{"condition-cut-by-comment", []want{{7, 48, " # in vars", "read as a YAML comment"}}},
		{"condition-not-boolean", []want{{5, 9, "len(participants)", "the condition must be true or false"}}},
		{"condition-var-not-boolean", []want{{7, 9, "vars", `the condition must be true or false, but vars.welcome is a string; compare it, e.g. vars.welcome != ""`}}},
		{"window-quoted-number", []want{{6, 65, `"5"`, `window.at_least must be a whole number, found the text "5": remove the quotes`}}},
		{"schedule-cron-and-zone", []want{
			{8, 17, `"@dayly"`, `unknown cron descriptor "@dayly" (did you mean "@daily"?)`},
			{9, 17, "Europe/Madird", `unknown time zone "Europe/Madird" (did you mean "Europe/Madrid"?)`},
		}},
		{"state-template-fields", []want{
			{8, 36, "cout }}", "window has no field cout (did you mean window.count?)"},
			{9, 36, "count }}", "digest.count is set only in the actions of a rule with digest:"},
			{14, 47, "tiem }}", "schedule has no field tiem (did you mean schedule.time?)"},
			{14, 72, "name }}", "a timer rule has no event, so data.chat.name would fail at every tick"},
		}},
		{"unknown-function", []want{{7, 32, "joinn(", `unknown function joinn (did you mean "join"?)`}}},
		{"unknown-var", []want{{9, 39, "ops_grop", `unknown variable vars.ops_grop (did you mean "ops_group"?)`}}},
		{"template-unclosed", []want{{7, 29, "{{ author to", "{{ is never closed"}}},
		{"template-empty", []want{{7, 29, "{{ }}", "empty {{ }}"}}},
		{"template-stray-close", []want{{7, 36, "}} to", "}} without an opening {{"}}},
		{"template-block-second-line", []want{{9, 38, "upperr()", "unknown function upperr"}}},
		{"template-in-webhook-url", []want{{7, 47, "{{ data.chat.id", "webhook.url: templates are not allowed here"}}},
		{"unset-env", []want{{4, 12, "${HOOKD_TEST_UNSET_TOKEN}", "environment variable HOOKD_TEST_UNSET_TOKEN is not set"}}},
		{"missing-version", []want{{1, 1, "rules:", "missing `version: 1`"}}},
		{"unsupported-version", []want{{1, 10, "2", "unsupported version 2"}}},
		{"enum-violation", []want{{12, 21, "urgentt", `priority must be one of low, normal, high, urgent, found "urgentt" (did you mean "urgent"?)`}}},
		{"slack-channel-without-token", []want{{9, 9, "slack:", "channel needs connections.slack.token"}}},
		{"bad-delivery-backoff", []want{{4, 12, "{ min: 10m", "delivery.backoff needs 0 < min <= max"}}},
		// A failed example is at the expectation that did not hold: the
		// example itself for its default fires: true, the value of fires,
		// of a params field, the missing substring of contains.
		{"example-fails", []want{
			{9, 9, "event: { event: group:update, action: remove", `example "welcome example 1" failed: expected rule "welcome" to fire`},
			{12, 16, "false", `example "nobody added" failed: expected rule "welcome" not to fire`},
			{16, 32, `"Welcome +1 and +2"`, `example "both are welcomed" failed: welcome/log[0]: message is "Welcome +1, +2"`},
			{17, 50, "Hola", `example "both are welcomed" failed: welcome/log[0]: message does not contain "Hola"`},
		}},
		{"several-problems", []want{
			{7, 5, "iff:", `unknown key "iff"`},
			{9, 9, "slak:", `unknown action type "slak"`},
			{12, 9, "group:updte", `"group:updte" is not a Wassenger event name (did you mean "group:update"?)`},
			{13, 50, "vip", "unknown variable vars.vip"},
			{16, 68, " }}", "the expression ends too early"},
			{17, 11, "welcome", `duplicate rule name "welcome" (first at line 5)`},
		}},
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		seen[tt.file] = true
		t.Run(tt.file, func(t *testing.T) {
			path := filepath.Join("..", "testdata", "rules", "broken", tt.file+".yaml")
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(string(data), "\n")
			rs, problems := ruletest.Load(path, data, engine.LoadOptions{LookupEnv: envFrom(nil)})
			if rs != nil {
				t.Fatalf("loaded, want problems")
			}
			if len(problems) != len(tt.want) {
				t.Fatalf("got %d problems, want %d:\n%v", len(problems), len(tt.want), problems)
			}
			for i, w := range tt.want {
				p := problems[i]
				if p.Line != w.line || p.Col != w.col {
					t.Errorf("problem %d at %d:%d, want %d:%d: %s", i, p.Line, p.Col, w.line, w.col, p.Msg)
				}
				if p.File != path {
					t.Errorf("problem %d names file %q, want %q", i, p.File, path)
				}
				if !strings.Contains(p.Msg, w.msg) {
					t.Errorf("problem %d: message %q does not contain %q", i, p.Msg, w.msg)
				}
				// The table itself must be right: the text at line:col.
				if got := []rune(lines[w.line-1]); w.col > len(got) || !strings.HasPrefix(string(got[w.col-1:]), w.at) {
					t.Errorf("table: %s:%d:%d does not start with %q: line is %q", tt.file, w.line, w.col, w.at, lines[w.line-1])
				}
				if p.Source != "" && p.Source != lines[p.Line-1] {
					t.Errorf("problem %d: source line %q, want line %d of the file %q", i, p.Source, p.Line, lines[p.Line-1])
				}
			}
		})
	}
	files, _ := filepath.Glob(filepath.Join("..", "testdata", "rules", "broken", "*.yaml"))
	for _, f := range files {
		if name := strings.TrimSuffix(filepath.Base(f), ".yaml"); !seen[name] {
			t.Errorf("testdata/rules/broken/%s.yaml is not in the table", name)
		}
	}
}

// TestProblemString checks the output format: file:line:col, the warning
// marker, and the caret under the column (tabs shown as spaces, columns
// counted in characters).
func TestProblemString(t *testing.T) {
	tests := []struct {
		name string
		p    engine.Problem
		want string
	}{
		{"plain", engine.Problem{File: "r.yaml", Line: 3, Col: 7, Msg: "bad"}, "r.yaml:3:7: bad"},
		{"warning", engine.Problem{File: "r.yaml", Line: 1, Col: 1, Severity: engine.Warning, Msg: "odd"}, "r.yaml:1:1: warning: odd"},
		{"caret", engine.Problem{File: "r.yaml", Line: 2, Col: 9, Msg: "bad", Source: "    if: x =="},
			"r.yaml:2:9: bad\n        if: x ==\n            ^"},
		{"caret after non-ASCII", engine.Problem{File: "r.yaml", Line: 2, Col: 12, Msg: "bad", Source: `  m: "ñandú {{ x"`},
			"r.yaml:2:12: bad\n      m: \"ñandú {{ x\"\n               ^"},
		{"tab", engine.Problem{File: "r.yaml", Line: 5, Col: 2, Msg: "bad", Source: "\tif: x"},
			"r.yaml:5:2: bad\n     if: x\n     ^"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.p.String(); got != tt.want {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

// TestLoadPositions covers positions the broken files do not: non-ASCII
// text and single quotes before the error, templates in lists and maps,
// and problems in file order.
func TestLoadPositions(t *testing.T) {
	const head = "version: 1\nrules:\n  - name: r\n    on: group:update\n"
	tests := []struct {
		name      string
		src       string
		line, col int
		msg       string
	}{
		{"non-ASCII before the error", head + "    do:\n      - log:\n          message: \"¡Hola ñandú 👋 {{ joinn(author) }}\"\n",
			7, 38, "unknown function joinn"},
		{"single-quoted with '' escapes", head + "    if: 'author == \"it''s\" && && true'\n    stop: true\n",
			5, 31, `unexpected token Operator("&&")`},
		{"template in a list item", strings.Replace(head, "rules:", "connections:\n  email: {host: h, from: f@example.com}\nrules:", 1) + "    do:\n      - email:\n          to: [\"a@example.com\", \"{{ vars.nope }}\"]\n          subject: s\n          body: b\n",
			9, 42, "unknown variable vars.nope"},
		{"template in a map value", head + "    do:\n      - log:\n          message: m\n          fields:\n            who: \"{{ author }} {{ }}\"\n",
			9, 32, "empty {{ }}"},
		{"template in a nested Any field", head + "    do:\n      - webhook:\n          url: https://example.com/hook\n          body:\n            items: [{text: \"{{ len() }}\"}]\n",
			9, 32, "invalid number of arguments (expected 1, got 0)"},
		{"folded block, second line", head + "    if: >-\n      action == \"add\"\n      && len(participants) >>> 0\n    stop: true\n",
			7, 29, `unexpected token Operator(">")`},
		{"plain scalar over two lines", head + "    if: action == \"add\"\n      && len(participants) >>> 0\n    stop: true\n",
			6, 29, `unexpected token Operator(">")`},
		{"literal block with a blank first line", head + "    if: |\n\n      action == \"add\"\n        && len(participants) === 0\n    stop: true\n",
			8, 32, `unexpected token Operator("=")`},
		{"folded template after a blank line", head + "    do:\n      - log:\n          message: >\n            Hello {{ author }}\n\n            and {{ joinn(x) }}\n",
			10, 20, "unknown function joinn"},
		{"unset variable inside text", "version: 1\nconnections:\n  slack:\n    webhook_url: https://hooks.slack.com/services/${SLACK_PATH}\nrules: []\n",
			4, 51, "environment variable SLACK_PATH is not set"},
		{"malformed variable", "version: 1\nconnections:\n  slack:\n    webhook_url: \"${SLACK URL}\"\nrules: []\n",
			4, 19, "malformed variable reference ${SLACK URL}"},
		{"empty file", "", 1, 1, "the rules file is empty"},
		{"rules not a list", "version: 1\nrules: {a: 1}\n", 2, 8, "rules must be a list of rules"},
		{"two actions in one item", head + "    do:\n      - log: {message: a}\n        slack: {text: b}\n",
			7, 9, "one action per list item: found log and slack"},
		{"neither phone nor group", "version: 1\nconnections:\n  wassenger: {token: t}\n" + strings.TrimPrefix(head, "version: 1\n") + "    do:\n      - wassenger.message: {message: hi}\n",
			8, 9, "set one of phone, group, channel, chat"},
		{"bad glob", "version: 1\nrules:\n  - name: r\n    on: [group:update, \"message:[\"]\n    stop: true\n", 4, 24, `bad glob "message:["`},
		{"duplicate key", head + "    on: message:in:new\n    stop: true\n", 5, 5, `duplicate key "on" (first at line 4)`},
		{"bad duration", "version: 1\ndelivery:\n  timeout: 15\nrules: []\n", 3, 12, "delivery.timeout must be a duration such as 500ms, 15s or 10m"},
		{"email tls", "version: 1\nconnections:\n  email: {host: h, from: f@example.com, tls: ssl}\nrules: []\n", 3, 46, `connections.email.tls is "ssl"; use starttls (port 587), implicit (port 465) or none`},
		{"a template in a body's key", head + "    do:\n      - webhook:\n          url: https://example.com/h\n          body: { n: 1, \"{{ action }}\": 1 }\n",
			8, 26, `do[0].webhook.body: the key "{{ action }}" is sent as written: keys are not templates`},
		{"a template in a header's name", head + "    do:\n      - webhook:\n          url: https://example.com/h\n          headers:\n            \"X-{{ action }}\": yes\n",
			9, 16, `do[0].webhook.headers: the key "X-{{ action }}" is sent as written: keys are not templates`},
		{"email password in plaintext to a remote server", "version: 1\nconnections:\n  email: {host: smtp.example.com, from: f@example.com, tls: none, username: u, password: p}\nrules: []\n",
			3, 61, "connections.email.tls: none sends the username and password in plaintext"},
		// expr types event fields as unknown; the schema knows them.
		{"a quoted boolean var", strings.Replace(head, "rules:", "vars: {enabled: \"true\"}\nrules:", 1) + "    if: vars.enabled\n    stop: true\n",
			6, 9, `but vars.enabled is the text "true"; remove the quotes around it in vars:`},
		{"an object var", strings.Replace(head, "rules:", "vars: {limits: {a: 1}}\nrules:", 1) + "    if: vars.limits\n    stop: true\n",
			6, 9, "but vars.limits is an object; compare it, e.g. vars.limits != nil"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			problems := loadProblems(t, tt.src, nil)
			p, ok := problems.First()
			if !ok {
				t.Fatalf("no error, problems: %v", problems)
			}
			if p.Line != tt.line || p.Col != tt.col || !strings.Contains(p.Msg, tt.msg) {
				t.Errorf("got %d:%d %q, want %d:%d %q\n%v", p.Line, p.Col, p.Msg, tt.line, tt.col, tt.msg, problems)
			}
		})
	}
}

// TestLoadEmailPlaintext: tls: none is refused only where every send
// would be, a username and password for a server that is not loopback;
// a loopback test server, a relay without authentication and a host
// whose variable is unset in a dry-run load.
func TestLoadEmailPlaintext(t *testing.T) {
	for _, email := range []string{
		"{host: localhost, from: f@example.com, tls: none, username: u, password: p}",
		"{host: 127.0.0.1, from: f@example.com, tls: none, username: u, password: p}",
		"{host: \"::1\", from: f@example.com, tls: none, username: u, password: p}",
		"{host: relay.example.com, from: f@example.com, tls: none}",
		"{host: smtp.example.com, from: f@example.com, tls: starttls, username: u, password: p}",
		"{host: \"${SMTP_HOST}\", from: f@example.com, tls: none, username: u, password: p}",
	} {
		t.Run(email, func(t *testing.T) {
			src := "version: 1\nconnections:\n  email: " + email + "\nrules: []\n"
			rs, problems := engine.Load("rules.yaml", []byte(src), engine.LoadOptions{LookupEnv: envFrom(nil), AllowUnsetEnv: true})
			if rs == nil {
				t.Errorf("refused: %v", problems)
			}
		})
	}
}

// TestLoadEnv covers ${ENV}: values, defaults, $${, unset variables
// (errors for check, "<unset NAME>" for dry-run), and that a variable's
// value never shows in a problem.
func TestLoadEnv(t *testing.T) {
	const src = `version: 1
connections:
  wassenger:
    token: ${WA_TOKEN}
    base_url: ${WA_URL:-http://127.0.0.1:9/v1}
  email:
    host: ${SMTP_HOST:-smtp.example.com}
    port: ${SMTP_PORT:-587}
    from: "Bot <bot@example.com>"
    password: ${SMTP_PASSWORD}
rules:
  - name: r
    on: message:in:new
    do:
      - log:
          message: "price $${EUR} {{ event }}"
`
	t.Run("set", func(t *testing.T) {
		rs, problems := engine.Load("rules.yaml", []byte(src), engine.LoadOptions{LookupEnv: envFrom(map[string]string{
			"WA_TOKEN": "sentinel-token", "SMTP_PORT": "2525", "SMTP_PASSWORD": "sentinel-password",
		})})
		if rs == nil {
			t.Fatalf("does not load: %v", problems)
		}
		c := rs.Connections
		if c.Wassenger.Token.Reveal() != "sentinel-token" || c.Wassenger.BaseURL != "http://127.0.0.1:9/v1" {
			t.Errorf("wassenger connection: token %q, base_url %q", c.Wassenger.Token.Reveal(), c.Wassenger.BaseURL)
		}
		if c.Email.Host != "smtp.example.com" || c.Email.Port != 2525 || c.Email.Password.Reveal() != "sentinel-password" {
			t.Errorf("email connection: %+v", c.Email)
		}
		if len(rs.Unset) != 0 {
			t.Errorf("Unset = %v, want none", rs.Unset)
		}
		res := rs.Evaluate(mustEvent(t, `{"id":"1","event":"message:in:new"}`))
		if got := res.Fired[0].Actions[0].Params["message"]; got != "price ${EUR} message:in:new" {
			t.Errorf("$${ renders %q", got)
		}
	})
	t.Run("unset for check", func(t *testing.T) {
		problems := loadProblems(t, src, map[string]string{"SMTP_PASSWORD": ""})
		var msgs []string
		for _, p := range problems {
			msgs = append(msgs, p.Msg)
		}
		if len(problems) != 2 || !strings.Contains(msgs[0], "WA_TOKEN is not set") || !strings.Contains(msgs[1], "SMTP_PASSWORD is not set") {
			t.Errorf("want one error for WA_TOKEN and one for SMTP_PASSWORD (empty counts as unset), got:\n%v", problems)
		}
	})
	t.Run("unset allowed for dry-run", func(t *testing.T) {
		rs, problems := engine.Load("rules.yaml", []byte(src), engine.LoadOptions{AllowUnsetEnv: true, LookupEnv: envFrom(nil)})
		if rs == nil {
			t.Fatalf("does not load: %v", problems)
		}
		if strings.Join(rs.Unset, ",") != "SMTP_PASSWORD,WA_TOKEN" {
			t.Errorf("Unset = %v, want [SMTP_PASSWORD WA_TOKEN]", rs.Unset)
		}
		if got := rs.Connections.Wassenger.Token.Reveal(); got != "<unset WA_TOKEN>" {
			t.Errorf("token = %q", got)
		}
	})
	// An action reads an unset variable through its connection or its
	// fields; dry-run does not count its request failing as an error.
	t.Run("actions that read unset variables", func(t *testing.T) {
		const src = `version: 1
connections:
  wassenger:
    token: ${WA_TOKEN:-t}
  slack:
    webhook_url: ${SLACK_URL}
rules:
  - name: r
    on: group:update
    do:
      - slack: {text: hi}
      - wassenger.message: {phone: "+34600000001", message: hi}
      - webhook: {url: "${CRM_URL:-https://crm.example.com}", body: {to: ["${CRM_TO}"]}}
      - log: {message: hi}
`
		rs, problems := engine.Load("rules.yaml", []byte(src), engine.LoadOptions{AllowUnsetEnv: true, LookupEnv: envFrom(nil)})
		if rs == nil {
			t.Fatalf("does not load: %v", problems)
		}
		acts := rs.Evaluate(mustEvent(t, `{"id":"1","event":"group:update"}`)).Fired[0].Actions
		want := []bool{true, false, true, false}
		wantNames := []string{"SLACK_URL", "", "CRM_TO", ""}
		for i, a := range acts {
			if got := rs.ReadsUnset(a); got != want[i] {
				t.Errorf("%s: ReadsUnset = %v, want %v", a.Action.Name, got, want[i])
			}
			// UnsetRead names them: the connection's and the fields'.
			if got := strings.Join(rs.UnsetRead(a), ","); got != wantNames[i] {
				t.Errorf("%s: UnsetRead = %q, want %q", a.Action.Name, got, wantNames[i])
			}
		}
		set, problems := engine.Load("rules.yaml", []byte(src), engine.LoadOptions{AllowUnsetEnv: true,
			LookupEnv: envFrom(map[string]string{"SLACK_URL": "https://hooks.slack.com/services/T/B/x", "CRM_TO": "ops"})})
		if set == nil {
			t.Fatalf("does not load with every variable set: %v", problems)
		}
		for _, a := range set.Evaluate(mustEvent(t, `{"id":"1","event":"group:update"}`)).Fired[0].Actions {
			if set.ReadsUnset(a) {
				t.Errorf("%s: ReadsUnset with every variable set", a.Action.Name)
			}
		}
	})
	// An unquoted ${VAR} is typed anew, so a boolean may come from the
	// environment; a quoted "${VAR}" is text, like a quoted "true".
	t.Run("booleans", func(t *testing.T) {
		const src = `version: 1
rules:
  - name: own
    on: message:out:new
    self: ${SELF}
    stop: ${STOP:-false}
    do: [log: {message: m}]
`
		rs, problems := engine.Load("rules.yaml", []byte(src), engine.LoadOptions{LookupEnv: envFrom(map[string]string{"SELF": "true"})})
		if rs == nil {
			t.Fatalf("does not load: %v", problems)
		}
		if r := rs.Rules[0]; !r.Self || r.Stop {
			t.Errorf("self %v, stop %v; want true, false", r.Self, r.Stop)
		}
		quoted := strings.Replace(src, "self: ${SELF}", `self: "${SELF}"`, 1)
		problems = loadProblems(t, quoted, map[string]string{"SELF": "true"})
		if len(problems) != 1 || problems[0].String() != `rules.yaml:5:11: rule "own": self must be true or false, found the text "true": remove the quotes (in YAML a quoted true is text)` {
			t.Errorf("quoted ${SELF}: want one problem saying to remove the quotes, got:\n%v", problems)
		}
	})
	t.Run("values stay out of problems", func(t *testing.T) {
		broken := strings.Replace(src, "    on: message:in:new\n", "    on: message:in:new\n    iff: x\n", 1) + "      - slak: {text: \"{{ joinn() }}\"}\n"
		problems := loadProblems(t, broken, map[string]string{"WA_TOKEN": "sentinel-token", "SMTP_PASSWORD": "sentinel-password"})
		if len(problems) != 2 || strings.Contains(problems.Error(), "sentinel") {
			t.Errorf("want 2 problems without the secrets, got:\n%v", problems)
		}
	})
}

// TestLoadModel checks what a valid file loads into: vars, delivery,
// rules with their events, conditions, stop and named actions, and the
// warning for an event name that Wassenger does not send.
func TestLoadModel(t *testing.T) {
	rs, problems := loadFile(t, filepath.Join("..", "testdata", "rules", "good", "actions.yaml"), engine.LoadOptions{LookupEnv: envFrom(nil)})
	if rs == nil || len(problems) > 0 {
		t.Fatalf("does not load cleanly: %v", problems)
	}
	if rs.Delivery.Attempts != 5 || rs.Delivery.Backoff.Min != 500*time.Millisecond || rs.Delivery.Backoff.Max != 2*time.Minute || rs.Delivery.Timeout != 10*time.Second {
		t.Errorf("delivery = %+v", rs.Delivery)
	}
	if rs.Connections.Email.Port != 587 || rs.Connections.Slack.Token.Reveal() != "xoxb-test" {
		t.Errorf("env defaults not applied: port %d, slack token %q", rs.Connections.Email.Port, rs.Connections.Slack.Token.Reveal())
	}
	if len(rs.Hash) != 64 || rs.File == "" {
		t.Errorf("hash %q, file %q", rs.Hash, rs.File)
	}
	r, ok := rs.Rule("welcome")
	if !ok {
		t.Fatal("no rule welcome")
	}
	var names []string
	for _, a := range r.Do {
		names = append(names, a.Name)
	}
	want := "welcome/wassenger.message[0] welcome/wassenger.request[1] welcome/email[2] welcome/slack[3] welcome/webhook[4] welcome/log[5]"
	if strings.Join(names, " ") != want {
		t.Errorf("action names = %v, want %s", names, want)
	}
	if got := strings.Join(r.Do[1].Fields(), ","); got != "method,path,body,query" {
		t.Errorf("fields in file order = %s", got)
	}

	rs, problems = engine.Load("rules.yaml", []byte("version: 1\nrules:\n  - name: r\n    on: [group:updated, \"message:*\"]\n    if: action == \"add\"\n    stop: true\n"), engine.LoadOptions{})
	if rs == nil || problems.Errors() != 0 || problems.Warnings() != 1 {
		t.Fatalf("want one warning, got %v", problems)
	}
	if p := problems[0]; p.Line != 4 || p.Col != 10 || !strings.Contains(p.Msg, `(did you mean "group:update"?)`) {
		t.Errorf("warning = %v", p)
	}
	if len(rs.Warnings) != 1 || len(rs.Rules) != 1 || rs.Rules[0].If != `action == "add"` || !rs.Rules[0].Stop || rs.Rules[0].Line != 3 {
		t.Errorf("rule set: warnings %v, rules %+v", rs.Warnings, rs.Rules)
	}
}

// The ${ENV} values that are secrets: those of a variable named as one,
// wherever they go, and those in a webhook's url and secret headers; not
// the others (a group's name in a condition or a message, an API version
// or an environment's name in a header that holds no credential, which
// masked would mangle every date or word like them).
func TestRuleSetSecrets(t *testing.T) {
	env := map[string]string{
		"CRM_API_KEY": "value-of-crm-api-key",
		"HOOK_URL":    "https://chat.example.com/api/webhooks/1/AbCdEfGhIjKlMnOpQrSt",
		"TENANT":      "value-of-tenant",
		"API_VERSION": "2022-06-28",
		"DEPLOY_ENV":  "production",
		"TEAM":        "value-of-team",
		"OPS_EMAIL":   "ops@example.com",
		"WA_TOKEN":    "value-of-wassenger-token",
	}
	src := `version: 1
connections:
  wassenger: {token: "${WA_TOKEN}"}
rules:
  - name: chat
    on: group:update
    if: data.chat.name == "${TEAM}"
    do:
      - webhook:
          url: "${HOOK_URL}"
          headers: {X-Tenant-Key: "${TENANT}", Api-Version: "${API_VERSION}", X-Environment: "${DEPLOY_ENV}"}
          body: {text: "{{ id }} for ${TEAM}", key: "${CRM_API_KEY}"}
      - log: {message: "to ${OPS_EMAIL} about ${TEAM}"}
`
	rs, problems := engine.Load("rules.yaml", []byte(src), engine.LoadOptions{LookupEnv: envFrom(env)})
	if rs == nil {
		t.Fatalf("rules do not load:\n%v", problems)
	}
	got := rs.Secrets()
	for _, want := range []string{env["CRM_API_KEY"], env["HOOK_URL"], "/api/webhooks/1/AbCdEfGhIjKlMnOpQrSt", "AbCdEfGhIjKlMnOpQrSt", env["TENANT"], env["WA_TOKEN"]} {
		if !slices.Contains(got, want) {
			t.Errorf("Secrets() = %q, want it to hold %q", got, want)
		}
	}
	for _, not := range []string{env["TEAM"], env["OPS_EMAIL"], env["API_VERSION"], env["DEPLOY_ENV"]} {
		if slices.Contains(got, not) {
			t.Errorf("Secrets() = %q holds %q, which is no secret", got, not)
		}
	}
	for _, a := range rs.Rules[0].Do {
		if !slices.Equal(a.Secrets(), got) {
			t.Errorf("%s: Secrets() = %q, want the rule set's", a.Name, a.Secrets())
		}
	}
}

// A problem after an ${ENV} reference in the same value is shown where
// the file has it, not where the expanded text has it (which would also
// tell how long the variable's value is).
func TestPositionsAfterEnv(t *testing.T) {
	env := map[string]string{"TOKEN": "a-long-secret-value-of-forty-characters!", "SHORT": "x"}
	for _, tc := range []struct {
		name, line, at string // at: the text the column must point at (after "nosuch(", where the expression ends too early)
	}{
		{"plain", `message: ${TOKEN} {{ nosuch( }}`, " }}"},
		{"double quoted", `message: "${TOKEN} and ${SHORT} {{ nosuch( }}"`, " }}\""},
		{"single quoted", `message: '${TOKEN}:${TOKEN} {{ nosuch( }}'`, " }}'"},
		{"a default", `message: "${UNSET:-a-default} {{ nosuch( }}"`, " }}\""},
		{"a literal", `message: "$${TOKEN} {{ nosuch( }}"`, " }}\""},
		{"an unset variable after a set one", `message: "${TOKEN} ${NOT_SET}"`, "${NOT_SET}"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := "version: 1\nrules:\n  - name: r\n    on: group:update\n    do:\n      - log:\n          " + tc.line + "\n"
			problems := loadProblems(t, src, env)
			if len(problems) == 0 {
				t.Fatal("no problem")
			}
			p := problems[0]
			srcLine := strings.Split(src, "\n")[p.Line-1]
			if p.Line != 7 || !strings.HasPrefix(srcLine[p.Col-1:], tc.at) {
				t.Errorf("%s at %d:%d (%q), want at %q on line 7", p.Msg, p.Line, p.Col, srcLine[min(p.Col-1, len(srcLine)):], tc.at)
			}
		})
	}
}
