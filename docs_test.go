package hookd_test

// These tests keep the user documentation under docs/ in step with the
// code: helpers, action types and fields, metrics, commands and flags,
// Wassenger names, and links between the pages.

import (
	"context"
	"flag"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode"

	"github.com/hookd/hookd/actions"
	"github.com/hookd/hookd/engine"
	"github.com/hookd/hookd/engine/eventschema"
	"github.com/hookd/hookd/engine/funcs"
	"github.com/hookd/hookd/event"
	"github.com/hookd/hookd/internal/cli"
	"github.com/hookd/hookd/internal/fstree"
	"github.com/hookd/hookd/internal/syncbuf"
	"github.com/hookd/hookd/store"
	"github.com/hookd/hookd/store/sqlite"
)

// readDoc returns the text of docs/name.
func readDoc(t *testing.T, name string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("docs", name))
	if err != nil {
		t.Fatalf("read the documentation page: %v", err)
	}
	return string(data)
}

// allDocs returns the text of every docs/*.md page, joined.
func allDocs(t *testing.T) string {
	t.Helper()
	pages, err := filepath.Glob(filepath.Join("docs", "*.md"))
	if err != nil || len(pages) == 0 {
		t.Fatalf("no docs/*.md pages found (err %v)", err)
	}
	var b strings.Builder
	for _, p := range pages {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(data)
		b.WriteByte('\n')
	}
	return b.String()
}

// goSources returns the text of the Go files that pattern names, tests
// excluded.
func goSources(t *testing.T, pattern string) []string {
	t.Helper()
	files, err := filepath.Glob(pattern)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(data))
	}
	return out
}

// sourceMatches returns the first group of every match of re in the Go
// files (tests excluded) that pattern names, sorted and without repeats.
func sourceMatches(t *testing.T, pattern string, re *regexp.Regexp) []string {
	t.Helper()
	seen := map[string]bool{}
	for _, src := range goSources(t, pattern) {
		for _, m := range re.FindAllStringSubmatch(src, -1) {
			seen[m[1]] = true
		}
	}
	out := make([]string, 0, len(seen))
	for s := range seen {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

func TestDocsHelpers(t *testing.T) {
	rules := readDoc(t, "rules.md")
	if len(funcs.Docs()) == 0 {
		t.Fatal("funcs.Docs() is empty")
	}
	for _, d := range funcs.Docs() {
		for what, s := range map[string]string{"signature": d.Signature, "example": d.Example, "result": d.Result} {
			if !strings.Contains(rules, "`"+s+"`") {
				t.Errorf("docs/rules.md: helper %s: the %s `%s` is missing; copy it from funcs.Docs() into the helper table", d.Name, what, s)
			}
		}
	}
}

// docSections splits a page at its "## " headings: heading line to text.
func docSections(page string) map[string]string {
	out := map[string]string{}
	var head string
	var body strings.Builder
	flush := func() {
		if head != "" {
			out[head] = body.String()
		}
		body.Reset()
	}
	for _, line := range strings.Split(page, "\n") {
		if strings.HasPrefix(line, "## ") {
			flush()
			head = strings.TrimSpace(strings.TrimPrefix(line, "## "))
			continue
		}
		body.WriteString(line)
		body.WriteByte('\n')
	}
	flush()
	return out
}

func TestDocsActions(t *testing.T) {
	sections := docSections(readDoc(t, "actions.md"))
	types := actions.Types()
	if len(types) == 0 {
		t.Fatal("actions.Types() is empty")
	}
	for _, typ := range types {
		spec, ok := actions.Lookup(typ)
		if !ok {
			t.Fatalf("actions.Lookup(%q) found nothing", typ)
		}
		body, ok := sections["`"+typ+"`"]
		if !ok {
			t.Errorf("docs/actions.md has no section \"## `%s`\"", typ)
			continue
		}
		for _, f := range spec.Fields {
			if !strings.Contains(body, "| `"+f.Name+"` |") {
				t.Errorf("docs/actions.md, section %s: field %q is not in its fields table (a row starting | `%s` |)", typ, f.Name, f.Name)
			}
		}
	}
}

// TestDocsConnections checks that every connection and its fields (from
// the yaml tags of actions.Connections) have a row in docs/actions.md.
func TestDocsConnections(t *testing.T) {
	sections := docSections(readDoc(t, "actions.md"))
	conns, ok := sections["Connections"]
	if !ok {
		t.Fatal(`docs/actions.md has no section "## Connections"`)
	}
	parts := strings.Split(conns, "\n### ")
	byName := map[string]string{}
	for _, p := range parts[1:] {
		head, body, _ := strings.Cut(p, "\n")
		byName[strings.Trim(strings.TrimSpace(head), "`")] = body
	}
	tag := regexp.MustCompile(`yaml:"([a-z_]+)"`)
	for name, fields := range map[string][]string{
		"wassenger": yamlTags(t, tag, "WassengerConfig"),
		"slack":     yamlTags(t, tag, "SlackConfig"),
		"email":     yamlTags(t, tag, "EmailConfig"),
		"webhook":   yamlTags(t, tag, "WebhookConfig"),
	} {
		body, ok := byName[name]
		if !ok {
			t.Errorf("docs/actions.md: Connections has no \"### `%s`\"", name)
			continue
		}
		for _, f := range fields {
			if !strings.Contains(body, "| `"+f+"` |") {
				t.Errorf("docs/actions.md: connection %s: field %q has no row", name, f)
			}
		}
	}
}

// yamlTags returns the yaml tags of a struct type declared in
// actions/config.go.
func yamlTags(t *testing.T, tag *regexp.Regexp, typ string) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("actions", "config.go"))
	if err != nil {
		t.Fatal(err)
	}
	src := string(data)
	start := strings.Index(src, "type "+typ+" struct {")
	if start < 0 {
		t.Fatalf("actions/config.go declares no %s", typ)
	}
	end := strings.Index(src[start:], "\n}")
	var out []string
	for _, m := range tag.FindAllStringSubmatch(src[start:start+end], -1) {
		out = append(out, m[1])
	}
	if len(out) == 0 {
		t.Fatalf("actions/config.go: %s has no yaml fields", typ)
	}
	return out
}

func TestDocsMetrics(t *testing.T) {
	names := sourceMatches(t, filepath.Join("daemon", "*.go"), regexp.MustCompile(`Name:\s*"(hookd_[a-z0-9_]+)"`))
	if len(names) < 10 {
		t.Fatalf("found only %d metric names in daemon/*.go (%v): has the way metrics are declared changed?", len(names), names)
	}
	daemon := readDoc(t, "daemon.md")
	for _, n := range names {
		if !strings.Contains(daemon, "`"+n+"`") {
			t.Errorf("docs/daemon.md: metric %s is not documented; add it to the Metrics table", n)
		}
	}
}

// Route registrations: httprouter's r.GET("/path", ...) and
// r.Handler(http.MethodGet, "/path", ...) (the daemon), ServeMux's
// m.HandleFunc("GET /path", ...) (the console); and a route as the docs
// name it, in backquotes: `GET /api/jobs/ID`.
var (
	routerRoute  = regexp.MustCompile(`\br\.(GET|POST|DELETE|PUT|PATCH)\("(/[^"]*)"`)
	handlerRoute = regexp.MustCompile(`\br\.Handler\(http\.Method(Get|Post|Delete|Put|Patch), "(/[^"]*)"`)
	muxRoute     = regexp.MustCompile(`\bm\.Handle(?:Func)?\("([A-Z]+) (/[^"]*)"`)
	docRoute     = regexp.MustCompile("`(GET|POST|DELETE|PUT|PATCH) (/[^`\\s]*)`")
)

// sourceRoutes returns the routes ("METHOD /path") that the Go files of
// pattern (tests excluded) register, sorted; a ServeMux pattern without
// a method (the console's fallback to the API) is left out.
func sourceRoutes(t *testing.T, pattern string) []string {
	t.Helper()
	var out []string
	for _, src := range goSources(t, pattern) {
		for _, re := range []*regexp.Regexp{routerRoute, handlerRoute, muxRoute} {
			for _, m := range re.FindAllStringSubmatch(src, -1) {
				out = append(out, strings.ToUpper(m[1])+" "+m[2])
			}
		}
	}
	sort.Strings(out)
	return slices.Compact(out)
}

// docRoutes returns the routes a page names ("METHOD /path?query").
func docRoutes(page string) []string {
	var out []string
	for _, m := range docRoute.FindAllStringSubmatch(page, -1) {
		out = append(out, m[1]+" "+m[2])
	}
	return out
}

// routeMatcher matches what the docs write for route: a parameter
// (httprouter's :id and *key, ServeMux's {id} and {key...}) stands for
// any text (ID, KEY, {id}, retry), a path that ends in / for the files
// under it, and a query may follow. ServeMux's {$} ends the path.
func routeMatcher(route string) *regexp.Regexp {
	method, path, _ := strings.Cut(route, " ")
	segs := strings.Split(path, "/")
	for i, s := range segs {
		switch {
		case s == "{$}":
			segs[i] = ""
		case s == "" && i == len(segs)-1 && i > 0:
			segs[i] = ".*"
		case strings.HasPrefix(s, "*"), strings.HasPrefix(s, "{") && strings.HasSuffix(s, "...}"):
			segs[i] = ".+"
		case strings.HasPrefix(s, ":"), strings.HasPrefix(s, "{"):
			segs[i] = "[^/?]+"
		default:
			segs[i] = regexp.QuoteMeta(s)
		}
	}
	return regexp.MustCompile("^" + method + " " + strings.Join(segs, "/") + `(\?.*)?$`)
}

// TestDocsRoutes checks that every route hookd serves is named on its
// page (the daemon's and the admin API's on daemon.md, the console's
// pages and forms on console.md), and that every /api/ and /ui/ route
// the docs name is one hookd serves.
func TestDocsRoutes(t *testing.T) {
	api := sourceRoutes(t, filepath.Join("daemon", "*.go"))
	console := sourceRoutes(t, filepath.Join("daemon", "ui", "*.go"))
	if len(api) < 15 || len(console) < 10 {
		t.Fatalf("found only %d daemon routes (%v) and %d console routes (%v): has the way routes are registered changed?", len(api), api, len(console), console)
	}
	for _, c := range []struct {
		page   string
		routes []string
	}{{"daemon.md", api}, {"console.md", console}} {
		named := docRoutes(readDoc(t, c.page))
		for _, r := range c.routes {
			if !slices.ContainsFunc(named, routeMatcher(r).MatchString) {
				t.Errorf("docs/%s: route %s is not documented; name it in backquotes, e.g. `%s`", c.page, r, r)
			}
		}
	}
	var served []*regexp.Regexp
	for _, r := range append(api, console...) {
		served = append(served, routeMatcher(r))
	}
	pages, err := filepath.Glob(filepath.Join("docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, page := range append(pages, "README.md") {
		data, err := os.ReadFile(page)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range docRoutes(string(data)) {
			_, path, _ := strings.Cut(d, " ")
			if !strings.HasPrefix(path, "/api/") && !strings.HasPrefix(path, "/ui") {
				continue // a Wassenger or Slack endpoint
			}
			if !slices.ContainsFunc(served, func(re *regexp.Regexp) bool { return re.MatchString(d) }) {
				t.Errorf("%s: `%s` is not a route hookd serves", page, d)
			}
		}
	}
}

func TestDocsCommands(t *testing.T) {
	cmds := sourceMatches(t, filepath.Join("internal", "cli", "*.go"), regexp.MustCompile(`(?m)^\t\t"([a-z-]+)": +\{"`))
	if len(cmds) < 5 {
		t.Fatalf("found only %d commands in internal/cli (%v): has the way commands are registered changed?", len(cmds), cmds)
	}
	docs := allDocs(t)
	for _, c := range cmds {
		if !strings.Contains(docs, "hookd "+c) {
			t.Errorf("docs/*.md never mention `hookd %s`", c)
		}
	}
}

// TestDocsFlags checks that the flags of these commands are documented
// on some page (test and explain are covered by docs/testing.md, whose
// author keeps them).
func TestDocsFlags(t *testing.T) {
	flagRe := regexp.MustCompile(`fs\.(?:String|Bool|Int|Int64|Duration|Float64)(?:Var)?\((?:&[\w.]+, )?"([a-z][a-z-]*)"`)
	docs := allDocs(t)
	for _, file := range []string{"serve.go", "store.go", "demo.go", "fire.go", "dryrun.go", "check.go"} {
		flags := sourceMatches(t, filepath.Join("internal", "cli", file), flagRe)
		if len(flags) == 0 && file != "check.go" {
			t.Errorf("internal/cli/%s: no flags found; has the way flags are declared changed?", file)
			continue
		}
		for _, f := range flags {
			spelled := "--" + f
			if len(f) == 1 {
				spelled = "-" + f
			}
			if !strings.Contains(docs, "`"+spelled+"`") && !strings.Contains(docs, spelled+" ") {
				t.Errorf("docs/*.md: flag %s of internal/cli/%s is not documented", spelled, file)
			}
		}
	}
}

func TestDocsRulesKeys(t *testing.T) {
	rules := readDoc(t, "rules.md")
	for _, k := range engine.TopLevelKeys() {
		if !strings.Contains(rules, "| `"+k+"` |") && !strings.Contains(rules, "| `"+k+".") {
			t.Errorf("docs/rules.md: top-level key %s has no row in the file layout table", k)
		}
	}
	for _, k := range engine.RuleKeys() {
		if !strings.Contains(rules, "| `"+k+"` |") {
			t.Errorf("docs/rules.md: rule key %s has no row in the rules table", k)
		}
	}
}

func TestDocsWassengerNames(t *testing.T) {
	rules := readDoc(t, "rules.md")
	for _, ev := range eventschema.Events() {
		if !strings.Contains(rules, "| `"+ev+"` |") {
			t.Errorf("docs/rules.md: event %s has no row in the event table", ev)
		}
	}
	for _, a := range eventschema.GroupActions() {
		if !strings.Contains(rules, "| `"+a+"` |") {
			t.Errorf("docs/rules.md: group:update action %s has no row in the action table", a)
		}
	}
}

var mdLink = regexp.MustCompile(`\]\(([^)\s]+)\)`)

// TestDocsLinks checks that every relative link in docs/*.md points at an
// existing file and, for a #fragment into a Markdown page, at a heading
// of that page.
func TestDocsLinks(t *testing.T) {
	pages, err := filepath.Glob(filepath.Join("docs", "*.md"))
	if err != nil || len(pages) == 0 {
		t.Fatalf("no docs/*.md pages found (err %v)", err)
	}
	anchors := map[string]map[string]bool{}
	anchorsOf := func(path string) map[string]bool {
		if a, ok := anchors[path]; ok {
			return a
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return nil
		}
		anchors[path] = headingAnchors(string(data))
		return anchors[path]
	}
	for _, page := range pages {
		data, err := os.ReadFile(page)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range mdLink.FindAllStringSubmatch(stripCode(string(data)), -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			file, frag, _ := strings.Cut(target, "#")
			path := page
			if file != "" {
				path = filepath.Join(filepath.Dir(page), filepath.FromSlash(file))
				if _, err := os.Stat(path); err != nil {
					t.Errorf("%s: link %s: %v", page, target, err)
					continue
				}
			}
			if frag != "" && strings.HasSuffix(path, ".md") && !anchorsOf(path)[frag] {
				t.Errorf("%s: link %s: %s has no heading with the anchor #%s", page, target, path, frag)
			}
		}
	}
}

// stripCode removes fenced code blocks, whose text is not Markdown.
func stripCode(page string) string {
	var b strings.Builder
	in := false
	for _, line := range strings.Split(page, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			in = !in
			continue
		}
		if !in {
			b.WriteString(line)
			b.WriteByte('\n')
		}
	}
	return b.String()
}

// headingAnchors returns the anchors GitHub gives a page's headings:
// lower case, punctuation other than - and _ dropped, spaces as -, and
// -1, -2, ... for repeats.
func headingAnchors(page string) map[string]bool {
	out := map[string]bool{}
	count := map[string]int{}
	for _, line := range strings.Split(stripCode(page), "\n") {
		if !strings.HasPrefix(line, "#") {
			continue
		}
		text := strings.TrimLeft(line, "#")
		if len(text) == len(line) || !strings.HasPrefix(text, " ") {
			continue
		}
		var b strings.Builder
		for _, r := range strings.ToLower(strings.TrimSpace(text)) {
			switch {
			case r == ' ':
				b.WriteByte('-')
			case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
				b.WriteRune(r)
			}
		}
		a := b.String()
		if n := count[a]; n > 0 {
			out[a+"-"+strconv.Itoa(n)] = true
		} else {
			out[a] = true
		}
		count[a]++
	}
	return out
}

// TestHeadingAnchors pins the anchor rule the link check relies on.
func TestHeadingAnchors(t *testing.T) {
	page := "# Rules reference\n## `if`: conditions\n## Trying rules: `hookd dry-run`\n```\n# not a heading\n```\n## Notes\n## Notes\n#nope\n"
	got := headingAnchors(page)
	for _, want := range []string{"rules-reference", "if-conditions", "trying-rules-hookd-dry-run", "notes", "notes-1"} {
		if !got[want] {
			t.Errorf("anchor %q missing from %v", want, got)
		}
	}
	if got["not-a-heading"] || got["nope"] {
		t.Errorf("anchors taken from code or a line without a space after #: %v", got)
	}
}

// TestDocsFences: every code block of the pages ends with a line that
// is only its fence. A closing fence with text after it does not close
// the block (CommonMark), and the rest of the page renders as code.
func TestDocsFences(t *testing.T) {
	pages := []string{"README.md", "BENCHMARKS.md"}
	docs, err := filepath.Glob("docs/*.md")
	if err != nil {
		t.Fatal(err)
	}
	pages = append(pages, docs...)
	for _, page := range pages {
		data, err := os.ReadFile(page)
		if err != nil {
			t.Fatal(err)
		}
		open := 0 // the line of the fence that opened the block, 0 outside one
		for i, line := range strings.Split(string(data), "\n") {
			trimmed := strings.TrimSpace(line)
			if !strings.HasPrefix(trimmed, "```") {
				continue
			}
			switch {
			case open == 0:
				open = i + 1
			case trimmed == "```":
				open = 0
			default:
				t.Errorf("%s:%d: %q inside the code block opened at line %d: a closing fence holds nothing after it", page, i+1, line, open)
			}
		}
		if open != 0 {
			t.Errorf("%s:%d: a code block is never closed", page, open)
		}
	}
}

// TestMain lets the README's shell lines run hookd: with
// HOOKD_DOCS_AS_HOOKD=1 this test binary is the hookd command.
func TestMain(m *testing.M) {
	if os.Getenv("HOOKD_DOCS_AS_HOOKD") == "1" {
		os.Exit(cli.Run(os.Args[1:], cli.Streams{Stdout: os.Stdout, Stderr: os.Stderr}))
	}
	os.Exit(m.Run())
}

// shBlocks returns the ```sh blocks of a page, in order.
func shBlocks(page string) []string {
	var out []string
	var b strings.Builder
	in := false
	for _, line := range strings.Split(page, "\n") {
		switch {
		case !in && strings.TrimSpace(line) == "```sh":
			in = true
			b.Reset()
		case in && strings.TrimSpace(line) == "```":
			in = false
			out = append(out, b.String())
		case in:
			b.WriteString(line)
			b.WriteByte('\n')
		}
	}
	return out
}

// TestReadmeServe follows the README's Serve section literally: the first
// block in one shell, the second in another that shares nothing with it
// but the folder (no exported variable), as two terminals would. Only
// `go run ./cmd/hookd` (this test binary) and the port are substituted.
// The event must be accepted, listed by /api/events, and its rule's log
// line must appear in the daemon's output.
func TestReadmeServe(t *testing.T) {
	for _, tool := range []string{"sh", "curl", "openssl", "cat"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("the README's Serve section needs %s: %v", tool, err)
		}
	}
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	var serve, client string
	for _, b := range shBlocks(string(readme)) {
		switch {
		case strings.Contains(b, "hookd serve"):
			serve = b
		case strings.Contains(b, "/webhooks/wassenger") && strings.Contains(b, "curl"):
			client = b
		}
	}
	if serve == "" || client == "" {
		t.Fatalf("README.md: no ```sh block with `hookd serve` (%t) or with a curl to /webhooks/wassenger (%t)", serve != "", client != "")
	}

	// The clone: the files the blocks name, and a hookd on PATH.
	dir := t.TempDir()
	for _, f := range []string{"docs/log-rules.yaml", "testdata/events/group-update/add.json"} {
		if err := fstree.Copy(filepath.FromSlash(f), filepath.Join(dir, filepath.FromSlash(f))); err != nil {
			t.Fatal(err)
		}
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	wrapper := "#!/bin/sh\nHOOKD_DOCS_AS_HOOKD=1 exec '" + self + "' \"$@\"\n"
	if err := os.WriteFile(filepath.Join(bin, "hookd"), []byte(wrapper), 0o755); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	fix := func(block string) string {
		if !strings.Contains(block, "127.0.0.1:8080") {
			t.Fatalf("the block no longer uses 127.0.0.1:8080, which this test replaces:\n%s", block)
		}
		block = strings.ReplaceAll(block, "go run ./cmd/hookd", "hookd")
		return strings.ReplaceAll(block, "127.0.0.1:8080", "127.0.0.1:"+port)
	}
	env := []string{"PATH=" + bin + string(os.PathListSeparator) + os.Getenv("PATH"), "HOME=" + dir}

	var daemonOut syncbuf.Buffer
	term1 := exec.Command("sh", "-c", fix(serve))
	term1.Dir, term1.Env, term1.Stdout, term1.Stderr = dir, env, &daemonOut, &daemonOut
	term1.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := term1.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- term1.Wait() }()
	defer func() {
		_ = syscall.Kill(-term1.Process.Pid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			_ = syscall.Kill(-term1.Process.Pid, syscall.SIGKILL)
			<-exited
		}
	}()
	// The person waits for the daemon's "hookd listening" line.
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(daemonOut.String(), "hookd listening") {
		select {
		case err := <-exited:
			t.Fatalf("the first block ended (%v):\n%s", err, daemonOut.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("no `hookd listening` within 60s:\n%s", daemonOut.String())
		}
	}

	term2 := exec.Command("sh", "-c", fix(client))
	term2.Dir, term2.Env = dir, env
	out, err := term2.CombinedOutput()
	if err != nil {
		t.Fatalf("the second block failed: %v\n%s\ndaemon:\n%s", err, out, daemonOut.String())
	}
	for _, want := range []string{`"accepted":1`, `"id":"3EB016A6F8BED9D51F"`, `"rules":["log-group-changes"]`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("the second block's output lacks %s:\n%s", want, out)
		}
	}
	if t.Failed() {
		return
	}
	logLine := `msg="Marketing Team: add by +12345678909"`
	for !strings.Contains(daemonOut.String(), logLine) {
		if time.Now().After(deadline) {
			t.Fatalf("the daemon never logged %s:\n%s", logLine, daemonOut.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

var update = flag.Bool("update", false, "rewrite the console samples of README.md and docs/*.md with the output of their commands")

// A console sample is a fenced block of README.md or docs/*.md whose
// first line is a hookd command: `$ hookd ARGS` (or `$ go run ./cmd/hookd
// ARGS`), followed by what it prints (stdout and stderr, as a terminal
// shows them). A block may hold several commands; they run one after the
// other in the same folder.
//
// Each sample runs in a fresh folder holding a copy of rules.example.yaml,
// testdata/events and testdata/docs (so that a command can name a file
// as it would in a clone), plus, when the line before the block is
// `<!-- sample: NAME -->`, the files of testdata/docs/NAME in the folder
// itself (and what sampleSetups[NAME] makes). A line `[...]` or `...` in a sample stands
// for any number of lines. Durations such as (3ms), clock times and
// ports of 127.0.0.1 may differ.
//
// `go test -run TestDocsConsoleSamples -update .` rewrites the samples
// with the commands' output: the `[...]` lines stay, and each run of lines
// between them is replaced by the run of the same length of the new output
// that resembles it most. Blocks of commands other than hookd (curl
// against a running daemon) are not run.
type consoleSample struct {
	page    string
	fixture string
	cmds    []sampleCmd
}

// sampleCmd is one command of a sample and the lines it should print:
// want is page[from:to].
type sampleCmd struct {
	line     int // of the `$` line, 0-based
	args     []string
	from, to int
	want     []string
}

var sampleFixture = regexp.MustCompile(`^<!-- sample: ([a-z0-9-]+) -->$`)

// consoleSamples finds the samples of a page, given as lines.
func consoleSamples(t *testing.T, page string, lines []string) []consoleSample {
	t.Helper()
	var out []consoleSample
	for i := 0; i < len(lines); i++ {
		if !strings.HasPrefix(strings.TrimSpace(lines[i]), "```") {
			continue
		}
		end := i + 1
		for end < len(lines) && strings.TrimSpace(lines[end]) != "```" {
			end++
		}
		open := i
		i = end
		if open+1 >= end || hookdArgs(lines[open+1]) == nil {
			continue
		}
		s := consoleSample{page: page}
		if open > 0 {
			if m := sampleFixture.FindStringSubmatch(lines[open-1]); m != nil {
				s.fixture = m[1]
			}
		}
		for j := open + 1; j < end; {
			args := hookdArgs(lines[j])
			if args == nil {
				t.Fatalf("%s:%d: a console sample mixes hookd with other commands: %s", page, j+1, lines[j])
			}
			k := j + 1
			for k < end && !strings.HasPrefix(lines[k], "$ ") {
				k++
			}
			to := k
			for to > j+1 && strings.TrimSpace(lines[to-1]) == "" {
				to--
			}
			s.cmds = append(s.cmds, sampleCmd{line: j, args: args, from: j + 1, to: to, want: lines[j+1 : to]})
			j = k
		}
		out = append(out, s)
	}
	return out
}

// hookdArgs returns the arguments of a `$ hookd ...` line, or nil.
func hookdArgs(line string) []string {
	for _, prefix := range []string{"$ hookd ", "$ go run ./cmd/hookd "} {
		if rest, ok := strings.CutPrefix(line, prefix); ok {
			return strings.Fields(rest)
		}
	}
	return nil
}

// sampleSetups prepare what a fixture cannot hold as files, in the
// sample's folder.
var sampleSetups = map[string]func(t *testing.T, dir string){
	"dead-letters": setupDeadLetters,
}

// setupDeadLetters makes a store in hookd-data with two dead letters, as
// a daemon leaves them after a webhook target failed for good.
func setupDeadLetters(t *testing.T, dir string) {
	st, err := sqlite.Open(filepath.Join(dir, "hookd-data"), sqlite.Options{Sync: "normal", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	body, err := os.ReadFile(filepath.Join(dir, "testdata", "events", "group-update", "add.json"))
	if err != nil {
		t.Fatal(err)
	}
	evs, err := event.Parse(body)
	if err != nil || len(evs) != 1 {
		t.Fatalf("parse add.json: %v", err)
	}
	ev := evs[0] // stored under its identity key, as the daemon stores it
	outs, err := st.Accept(ctx, []store.Record{{
		Event: store.Event{ID: ev.Key, Name: ev.Name, Action: ev.Action, Body: body, Rules: []string{"crm"}},
		Jobs: []store.Job{
			{Rule: "crm", Index: 0, Type: "webhook", Name: "crm/webhook[0]", Params: []byte(`{}`)},
			{Rule: "crm", Index: 1, Type: "webhook", Name: "crm/webhook[1]", Params: []byte(`{}`)},
		},
	}})
	if err != nil || len(outs) != 1 || len(outs[0].Jobs) != 2 {
		t.Fatalf("accept: %v %+v", err, outs)
	}
	jobs := outs[0].Jobs
	if err := st.Dead(ctx, jobs[0].ID, 1, "http_4xx", "webhook: GET http://127.0.0.1:18090/missing: 404 Not Found: page not found; the target refused the request"); err != nil {
		t.Fatal(err)
	}
	if err := st.Dead(ctx, jobs[1].ID, 3, "http_5xx", "webhook: POST http://127.0.0.1:18090/hooks/whatsapp: 503 Service Unavailable: down for maintenance; the target failed; retryable"); err != nil {
		t.Fatal(err)
	}
}

// prepareSample makes the folder a sample runs in.
func prepareSample(t *testing.T, s consoleSample) string {
	t.Helper()
	dir := t.TempDir()
	copies := map[string]string{"rules.example.yaml": "rules.example.yaml"}
	for _, d := range []string{filepath.Join("testdata", "events"), filepath.Join("testdata", "docs")} {
		copies[d] = d
	}
	if s.fixture != "" {
		src := filepath.Join("testdata", "docs", s.fixture)
		if _, err := os.Stat(src); err == nil || sampleSetups[s.fixture] == nil {
			copies[src] = "."
		}
	}
	for src, dst := range copies {
		if err := fstree.Copy(src, filepath.Join(dir, dst)); err != nil {
			t.Fatalf("%s: sample %s: %v", s.page, s.fixture, err)
		}
	}
	if setup := sampleSetups[s.fixture]; setup != nil {
		setup(t, dir)
	}
	return dir
}

var sampleNoise = []struct {
	re   *regexp.Regexp
	with string
}{
	{regexp.MustCompile(`\(\d+(\.\d+)?(ns|µs|ms|s)\)`), "(DURATION)"},
	{regexp.MustCompile(`\d{4}-\d\d-\d\d \d\d:\d\d:\d\d`), "TIME"},
	{regexp.MustCompile(`time=\S+`), "time=TIME"},
	{regexp.MustCompile(`127\.0\.0\.1:\d{2,5}`), "127.0.0.1:PORT"},
}

// sameLine compares a sample line with an output line, ignoring the
// values that change from run to run, and trailing spaces.
func sameLine(want, got string) bool {
	want, got = strings.TrimRight(want, " "), strings.TrimRight(got, " ")
	for _, n := range sampleNoise {
		want, got = n.re.ReplaceAllString(want, n.with), n.re.ReplaceAllString(got, n.with)
	}
	return want == got
}

func isElision(line string) bool {
	l := strings.TrimSpace(line)
	return l == "[...]" || l == "..."
}

// segments splits sample lines at elisions: the runs of lines between
// them, and whether the sample starts or ends with one.
func segments(want []string) (segs [][]string, openStart, openEnd bool) {
	var cur []string
	for i, l := range want {
		if isElision(l) {
			if i == 0 {
				openStart = true
			}
			if len(cur) > 0 {
				segs = append(segs, cur)
			}
			cur = nil
			continue
		}
		cur = append(cur, l)
	}
	if len(cur) > 0 {
		segs = append(segs, cur)
	}
	openEnd = len(want) > 0 && isElision(want[len(want)-1])
	return segs, openStart, openEnd
}

func matchAt(seg, got []string, at int) bool {
	if at < 0 || at+len(seg) > len(got) {
		return false
	}
	for i, l := range seg {
		if !sameLine(l, got[at+i]) {
			return false
		}
	}
	return true
}

// sampleMatches reports whether output got is what the sample lines want
// shows, elisions standing for any lines.
func sampleMatches(want, got []string) bool {
	segs, openStart, openEnd := segments(want)
	if len(segs) == 0 {
		return openStart || len(got) == 0
	}
	at := 0
	for i, seg := range segs {
		switch {
		case i == 0 && !openStart:
			if !matchAt(seg, got, 0) {
				return false
			}
			at = len(seg)
			if len(segs) == 1 && !openEnd {
				return at == len(got)
			}
		case i == len(segs)-1 && !openEnd:
			return len(got)-len(seg) >= at && matchAt(seg, got, len(got)-len(seg))
		default:
			found := false
			for ; at+len(seg) <= len(got); at++ {
				if matchAt(seg, got, at) {
					found = true
					break
				}
			}
			if !found {
				return false
			}
			at += len(seg)
		}
	}
	return true
}

// resemblance scores how alike two lines are: their common prefix and
// suffix, relative to the longer one.
func resemblance(a, b string) float64 {
	if a == b {
		return 1
	}
	n := max(len(a), len(b))
	p := 0
	for p < len(a) && p < len(b) && a[p] == b[p] {
		p++
	}
	s := 0
	for s < len(a)-p && s < len(b)-p && a[len(a)-1-s] == b[len(b)-1-s] {
		s++
	}
	return float64(p+s) / float64(n)
}

// updatedSample returns new sample lines for output got: without
// elisions, got itself; with them, each segment replaced by the window of
// got of its length that resembles it most, in order.
func updatedSample(want, got []string) []string {
	segs, openStart, openEnd := segments(want)
	if len(segs) == 0 || (!openStart && !openEnd && len(segs) == 1) {
		return got
	}
	var out []string
	if openStart {
		out = append(out, "[...]")
	}
	at := 0
	for i, seg := range segs {
		lo, hi := at, len(got)-len(seg)
		if i == 0 && !openStart {
			hi = lo
		}
		if i == len(segs)-1 && !openEnd {
			lo = max(lo, hi)
		}
		best, bestScore := lo, -1.0
		for start := lo; start <= hi; start++ {
			score := 0.0
			for k, l := range seg {
				score += resemblance(l, got[start+k])
			}
			if score > bestScore {
				best, bestScore = start, score
			}
		}
		if bestScore < 0 {
			return got // the output is too short for the segments: all of it
		}
		out = append(out, got[best:best+len(seg)]...)
		at = best + len(seg)
		if i < len(segs)-1 || openEnd {
			out = append(out, "[...]")
		}
	}
	return out
}

// TestDocsConsoleSamples runs every console sample of README.md and
// docs/*.md and compares what it prints with the page (see consoleSample).
func TestDocsConsoleSamples(t *testing.T) {
	pages, err := filepath.Glob(filepath.Join("docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	pages = append([]string{"README.md"}, pages...)
	total := 0
	for _, page := range pages {
		data, err := os.ReadFile(page)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(string(data), "\n")
		samples := consoleSamples(t, page, lines)
		total += len(samples)
		type edit struct {
			from, to int
			lines    []string
		}
		var edits []edit
		for _, s := range samples {
			dir := prepareSample(t, s)
			for _, c := range s.cmds {
				got := runSample(t, dir, c.args)
				if sampleMatches(c.want, got) {
					continue
				}
				if *update {
					edits = append(edits, edit{c.from, c.to, updatedSample(c.want, got)})
					continue
				}
				t.Errorf("%s:%d: `hookd %s` prints\n%s\n\nbut the page shows\n%s\n\n(go test -run TestDocsConsoleSamples -update . rewrites the page)",
					page, c.line+1, strings.Join(c.args, " "), strings.Join(got, "\n"), strings.Join(c.want, "\n"))
			}
		}
		if len(edits) == 0 {
			continue
		}
		for i := len(edits) - 1; i >= 0; i-- {
			e := edits[i]
			lines = append(lines[:e.from], append(append([]string{}, e.lines...), lines[e.to:]...)...)
		}
		if err := os.WriteFile(page, []byte(strings.Join(lines, "\n")), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: rewrote %d samples", page, len(edits))
	}
	if total < 8 {
		t.Errorf("found only %d console samples in README.md and docs/*.md; has their form changed?", total)
	}
}

// runSample runs hookd in process in dir and returns its output lines,
// stdout and stderr interleaved as a terminal shows them.
func runSample(t *testing.T, dir string, args []string) []string {
	t.Helper()
	// The commands name files relative to the sample's folder; the
	// docs tests do not run in parallel.
	back, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chdir(dir); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := os.Chdir(back); err != nil {
			t.Fatal(err)
		}
	}()
	var out syncbuf.Buffer
	cli.Run(args, cli.Streams{Stdout: &out, Stderr: &out})
	text := strings.TrimRight(out.String(), "\n")
	if text == "" {
		return nil
	}
	return strings.Split(text, "\n")
}

// TestSampleMatching pins how a sample compares with output, and how
// -update rewrites one that has elisions.
func TestSampleMatching(t *testing.T) {
	got := []string{"head", "a", "b", "rule x (f.yaml:50)", "  detail", "c", "rule y (f.yaml:63)", "tail"}
	for _, tc := range []struct {
		name  string
		want  []string
		match bool
	}{
		{"all of it", got, true},
		{"a line missing", []string{"head", "a", "rule x (f.yaml:50)"}, false},
		{"elided middle", []string{"head", "[...]", "rule x (f.yaml:50)", "  detail", "[...]", "tail"}, true},
		{"elided end", []string{"head", "a", "..."}, true},
		{"elided start", []string{"[...]", "tail"}, true},
		{"wrong start", []string{"a", "[...]"}, false},
		{"wrong end", []string{"[...]", "c"}, false},
		{"out of order", []string{"head", "[...]", "c", "[...]", "a", "[...]"}, false},
		{"stale line number", []string{"head", "[...]", "rule x (f.yaml:44)", "[...]"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if m := sampleMatches(tc.want, got); m != tc.match {
				t.Errorf("sampleMatches(%q) = %v, want %v", tc.want, m, tc.match)
			}
		})
	}
	if !sameLine("ok  x (3ms) at 2026-11-25 09:57:29 from 127.0.0.1:18090", "ok  x (120µs) at 2026-12-04 03:23:12 from 127.0.0.1:41234") {
		t.Error("sameLine does not ignore durations, times and ports")
	}
	if sameLine("ok  x (3ms): 200 OK", "FAIL  x (3ms): 500") {
		t.Error("sameLine ignores the text around a duration")
	}

	stale := []string{"head", "[...]", "rule y (f.yaml:60)", "[...]"}
	up := updatedSample(stale, got)
	want := []string{"head", "[...]", "rule y (f.yaml:63)", "[...]"}
	if strings.Join(up, "\n") != strings.Join(want, "\n") {
		t.Errorf("updatedSample = %q, want %q", up, want)
	}
	if !sampleMatches(up, got) {
		t.Errorf("the updated sample %q does not match the output", up)
	}
	if up := updatedSample([]string{"old"}, got); strings.Join(up, "\n") != strings.Join(got, "\n") {
		t.Errorf("without elisions the update is the whole output, got %q", up)
	}
}

// TestNoOutsideReferences: the repository names no file outside it (the
// notes it was written from); it cites public sources and its own docs.
func TestNoOutsideReferences(t *testing.T) {
	banned := []string{"RELIABILITY" + ".md", "API" + "-NOTES", "DESIGN" + ".md", "STYLE" + ".md", "../" + "shared"}
	err := filepath.WalkDir(".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if strings.HasPrefix(d.Name(), ".") && p != "." {
				return filepath.SkipDir
			}
			return nil
		}
		switch filepath.Ext(p) {
		case ".go", ".md", ".yaml", ".yml", ".txtar", ".json", ".golden", ".service", "":
		default:
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, b := range banned {
			if i := strings.Index(string(data), b); i >= 0 {
				line := strings.Count(string(data[:i]), "\n") + 1
				t.Errorf("%s:%d: refers to %s, a file outside the repository; cite docs/reliability.md, a docs/ page or the public source", p, line, b)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
