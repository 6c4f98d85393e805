package cli

import (
	"fmt"
	"net"
	"os"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/hookd/hookd/actions"
	"github.com/hookd/hookd/engine"
	"github.com/hookd/hookd/internal/yamlx"
)

// demoVariable is the environment variable the demo sets to the value
// of its stand-in for a connection field, with what else to set beside
// it ("" for a field no stand-in stands for by variable).
func demoVariable(field string) string {
	switch field {
	case "connections.wassenger.base_url":
		return "${WASSENGER_BASE_URL}"
	case "connections.slack.webhook_url":
		return "${SLACK_WEBHOOK_URL}"
	case "connections.slack.api_url":
		return "${SLACK_API_URL}"
	case "connections.email.host":
		return "${SMTP_HOST} (with port: ${SMTP_PORT} and tls: ${SMTP_TLS})"
	}
	if strings.HasSuffix(field, " url") {
		return "${CRM_WEBHOOK_URL} (a stand-in that records what it gets)"
	}
	return ""
}

// standInsOnly is hookd demo's vet of a rules file: every action must go
// to this machine, where the demo's stand-ins listen. A file written for
// real use sends to Wassenger, Slack and SMTP servers out there, with
// whatever secrets the environment holds; the demo refuses it, at start
// and on reload, naming each field and the variable to read instead.
func standInsOnly(rs *engine.RuleSet) engine.Problems {
	var (
		out  engine.Problems
		seen = map[string]bool{}
		root = rulesRoot(rs.File)
	)
	add := func(field, host string, line, col int) {
		if seen[field] || isLoopback(host) {
			return
		}
		seen[field] = true
		where := host
		if where == "" {
			where = "nowhere this machine knows"
		}
		hint := "point it at a stand-in's address (the demo prints them)"
		if v := demoVariable(field); v != "" {
			hint = "read it from " + v + ", which the demo sets"
		}
		if line == 0 {
			line, col = keyPosition(root, strings.Split(field, "."))
		}
		out = append(out, engine.Problem{File: rs.File, Line: line, Col: col, Severity: engine.Error,
			Msg: fmt.Sprintf("%s goes to %s: hookd demo sends only to its stand-ins on this machine; %s, or run the file with hookd serve", field, where, hint)})
	}
	c := rs.Connections
	for _, r := range rs.Rules {
		for _, a := range r.Do {
			switch t := a.Type; {
			case strings.HasPrefix(t, "wassenger.") && c.Wassenger != nil:
				add("connections.wassenger.base_url", hostOf(c.Wassenger.BaseURL, actions.DefaultWassengerBaseURL), 0, 0)
			case t == "slack" && c.Slack != nil:
				if u := c.Slack.WebhookURL.Reveal(); u != "" {
					add("connections.slack.webhook_url", hostOf(u, ""), 0, 0)
				}
				if !c.Slack.Token.IsZero() {
					add("connections.slack.api_url", hostOf(c.Slack.APIURL, actions.DefaultSlackAPIURL), 0, 0)
				}
			case t == "email" && c.Email != nil:
				add("connections.email.host", strings.ToLower(c.Email.Host), 0, 0)
			case t == "webhook":
				u, _ := a.Literal("url")
				s, _ := u.(string)
				line, col := fieldOnLine(root, a.Line, "url")
				add(a.Name+" url", hostOf(s, ""), line, col)
			}
		}
	}
	return out
}

// isLoopback reports whether host (which may carry a port, or end in
// the root's dot) is this machine.
func isLoopback(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(host, ".")
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// rulesRoot is the YAML tree of the rules file, or nil when it cannot be
// read again (the positions then fall back to its first line).
func rulesRoot(path string) *yaml.Node {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var doc yaml.Node
	if yaml.Unmarshal(data, &doc) != nil || len(doc.Content) == 0 {
		return nil
	}
	return doc.Content[0]
}

// keyPosition is the line and column of the value at path in the mapping
// n, or of the deepest key of path that is there (a field left out takes
// its default), or 1:1.
func keyPosition(n *yaml.Node, path []string) (line, col int) {
	line, col = 1, 1
	for _, k := range path {
		e := yamlx.Lookup(n, k)
		if e.Key == nil {
			return line, col
		}
		if e.Value.Kind == yaml.ScalarNode {
			return e.Value.Line, e.Value.Column
		}
		line, col, n = e.Key.Line, e.Key.Column, e.Value
	}
	return line, col
}

// fieldOnLine is the position of the value of field in the mapping that
// a key on line holds (an action, which the loader knows by its line),
// or line:1.
func fieldOnLine(n *yaml.Node, line int, field string) (int, int) {
	if n == nil {
		return line, 1
	}
	if n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Line == line && v.Kind == yaml.MappingNode {
				if l, c := keyPosition(v, []string{field}); l != 1 || c != 1 {
					return l, c
				}
			}
		}
	}
	for _, c := range n.Content {
		if l, col := fieldOnLine(c, line, field); col != 1 {
			return l, col
		}
	}
	return line, 1
}
