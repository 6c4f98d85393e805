package daemon

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"image"
	"image/color/palette"
	"image/draw"
	"image/png"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

var updateScreenshots = flag.Bool("update", false, "rewrite docs/console/*.png from the browser test's screenshots")

// browserRules answer a message that asks for help through Wassenger.
const browserRules = `rules:
  - name: help-reply
    on: message:in:new
    if: data.body contains "help"
    do:
      - wassenger.message:
          phone: "{{ data.fromNumber }}"
          message: "We got your message {{ id }}"
  - name: forward
    on: message:in:new
    do:
      - webhook:
          url: "@HOOK@/hook"
          body: {id: "{{ id }}"}
`

// chromium returns the path of a Chromium (or Chrome) binary, or skips
// the test.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("no chromium binary found on PATH: install Debian's chromium (apt-get install -y chromium) to run the console's browser tests")
	return ""
}

// browser starts a headless Chromium with a fresh profile for the test.
func browser(t *testing.T) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium(t)),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1000, 800),
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelA)
	// The first call starts the browser, for as long as bctx lives. A
	// busy machine sometimes loses the first start: try three times.
	var bctx context.Context
	for try := 1; ; try++ {
		var cancelB context.CancelFunc
		bctx, cancelB = chromedp.NewContext(actx)
		err := chromedp.Do(bctx)
		if err == nil {
			t.Cleanup(cancelB)
			break
		}
		cancelB()
		if try == 3 {
			t.Fatalf("start chromium: %v", err)
		}
		t.Logf("start chromium (try %d): %v", try, err)
	}
	ctx, cancelC := context.WithTimeout(bctx, 3*time.Minute)
	t.Cleanup(cancelC)
	return ctx
}

// shots writes each page's screenshot to a folder that outlives the test
// (its path is logged) and, with -update, to docs/console.
type shots struct {
	t   *testing.T
	dir string
}

func newShots(t *testing.T) *shots {
	dir, err := os.MkdirTemp("", "hookd-console-screenshots-")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshots in %s", dir)
	return &shots{t: t, dir: dir}
}

// take screenshots the whole page as name.png.
func (s *shots) take(name string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		png, err := chromedp.FullScreenshot(100)(ctx, tg)
		if err != nil {
			return fmt.Errorf("screenshot %s: %w", name, err)
		}
		if err := os.WriteFile(filepath.Join(s.dir, name+".png"), png, 0o644); err != nil {
			return err
		}
		if *updateScreenshots {
			return writeSmallPNG(filepath.Join("..", "docs", "console", name+".png"), png)
		}
		return nil
	})
}

// writeSmallPNG writes a screenshot for the docs in 256 colours (the
// Plan 9 palette, no dithering: flat colours and text compress well).
func writeSmallPNG(path string, shot []byte) error {
	img, err := png.Decode(bytes.NewReader(shot))
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	small := image.NewPaletted(img.Bounds(), palette.Plan9)
	draw.Draw(small, small.Rect, img, img.Bounds().Min, draw.Src)
	var buf bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: png.BestCompression}).Encode(&buf, small); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}

// jsTrue evaluates a JavaScript expression and fails the test unless it
// is true.
func jsTrue(t *testing.T, ctx context.Context, what, expr string) {
	t.Helper()
	if ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](expr)); err != nil || !ok {
		t.Fatalf("%s: %s is not true (%v)", what, expr, err)
	}
}

// drop removes the element sel from the page, so that waiting for it
// again waits for the next page.
func drop(sel string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := chromedp.Evaluate[bool](`(() => { document.querySelector(`+strconv.Quote(sel)+`).remove(); return true })()`)(ctx, tg)
		return err
	})
}

// run runs chromedp actions and fails the test on an error.
func run(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// The console in a real headless Chromium: sign in, find an event, open
// it, see its action's failed attempts, retry the dead letter and see the
// Wassenger stand-in receive it, delete another dead letter in bulk,
// create and end a mute, and use the playground; a <script> in a message
// body renders as text.
func TestConsoleInBrowser(t *testing.T) {
	h := start(t, options{rules: browserRules})
	ctx := browser(t)
	shot := newShots(t)

	// Two events whose Wassenger message dies (the stand-in answers 500
	// to every attempt), one quiet event.
	h.wa.FailAll(http.StatusInternalServerError, nil, `{"status":500,"message":"upstream down"}`)
	h.accept(t, js(t, messageEvent("WEB-1", `<script>window.pwned=1</script> help please`)))
	h.accept(t, js(t, messageEvent("WEB-2", "help again")))
	h.accept(t, js(t, messageEvent("WEB-3", "just saying hi")))
	var dead struct {
		Jobs []JobJSON `json:"jobs"`
	}
	eventually(t, "two dead letters", func() bool {
		decode(t, h.admin(t, "GET", "/api/jobs?state=dead", ""), &dead)
		return len(dead.Jobs) == 2
	})
	h.wa.Heal()
	keyOf := map[string]string{}
	for _, e := range h.events(t) {
		keyOf[e.ID] = e.Key
	}

	// Sign in: the console sends the browser to the sign-in page.
	run(t, ctx, "sign in",
		chromedp.Navigate(h.base+"/ui/events"),
		chromedp.WaitVisible(chromedp.CSS(`#key`)),
		shot.take("login"),
		chromedp.SendKeys(chromedp.CSS(`#key`), h.adminKey),
		chromedp.Submit(chromedp.CSS(`#key`)),
		chromedp.WaitVisible(chromedp.CSS(`#rows`)),
	)
	jsTrue(t, ctx, "three events listed", `document.querySelectorAll("#rows tr[data-key]").length === 3`)
	// A new event appears without a reload: the list polls.
	jsTrue(t, ctx, "mark the page", `(window.samePage = true)`)
	h.accept(t, js(t, messageEvent("WEB-4", "hello")))
	run(t, ctx, "the new event shows", chromedp.WaitVisible(chromedp.CSS(`#rows tr[data-key^="message:in:new/WEB-4/"]`)))
	jsTrue(t, ctx, "the page was not reloaded", `window.samePage === true`)

	// Find an event: filter on the rule that failed.
	run(t, ctx, "filter",
		chromedp.SetValue(chromedp.CSS(`#filter input[name=rule]`), "help-reply"),
		chromedp.SetValue(chromedp.CSS(`#filter select[name=state]`), "dead"),
		drop("#rows"),
		chromedp.Submit(chromedp.CSS(`#filter`)),
		chromedp.WaitReady(chromedp.CSS(`#rows`)),
	)
	jsTrue(t, ctx, "the filter keeps the two dead events of four",
		`document.querySelectorAll("#rows tr[data-key]").length === 2 && location.search.includes("rule=help-reply")`)
	run(t, ctx, "take the events page", shot.take("events"))

	// Open it: the failed attempts, with their status.
	sel := fmt.Sprintf(`#rows tr[data-key=%q] a`, keyOf["WEB-1"])
	run(t, ctx, "open the event",
		chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible),
		chromedp.WaitVisible(chromedp.CSS(`article.job[data-state=dead]`)),
		shot.take("event"),
	)
	jsTrue(t, ctx, "four failed attempts with status 500",
		`[...document.querySelectorAll("article.job[data-state=dead] tr.attempt")].filter(r => r.textContent.includes("500")).length === 4`)
	// The payload's <script> is text, not an element, and did not run.
	jsTrue(t, ctx, "the payload's <script> is text",
		`document.querySelector("#payload").textContent.includes("<script>window.pwned=1</script>") && document.querySelectorAll("main script").length === 0 && window.pwned === undefined`)
	jsTrue(t, ctx, "the explain shows the condition's value",
		`[...document.querySelectorAll(".explain details")].some(d => d.textContent.includes("help-reply") && d.textContent.includes("fired") && d.textContent.includes("true"))`)

	// Retry the dead letter: the page polls until it is done.
	var job int64
	for _, j := range dead.Jobs {
		if j.EventKey == keyOf["WEB-1"] {
			job = j.ID
		}
	}
	done := fmt.Sprintf(`article.job[data-job="%d"][data-state=done]`, job)
	run(t, ctx, "retry",
		chromedp.Click(chromedp.CSS(`button.retry`), chromedp.NodeVisible),
		chromedp.WaitVisible(chromedp.CSS(`#msg`)),
		chromedp.WaitVisible(chromedp.CSS(done)),
	)
	jsTrue(t, ctx, "a done attempt with 201 after the four failed ones",
		`[...document.querySelectorAll('`+done+` tr.attempt')].map(r => r.className + " " + r.cells[3].textContent).join(",") === "attempt attempt-retry 500,attempt attempt-retry 500,attempt attempt-retry 500,attempt attempt-dead 500,attempt attempt-done 201"`)
	sent := false
	for _, m := range h.wa.Messages() {
		if strings.Contains(fmt.Sprint(m["message"]), "We got your message WEB-1") {
			sent = true
		}
	}
	if !sent {
		t.Fatalf("the Wassenger stand-in did not receive the retried message: %v", h.wa.Messages())
	}

	// Jobs: the other dead letter, deleted with its checkbox.
	run(t, ctx, "jobs",
		chromedp.Navigate(h.base+"/ui/jobs?state=dead"),
		chromedp.WaitVisible(chromedp.CSS(`#bulk`)),
		shot.take("jobs"),
	)
	jsTrue(t, ctx, "one dead letter left", `document.querySelectorAll("#bulk tr[data-job]").length === 1`)
	run(t, ctx, "bulk delete",
		chromedp.Click(chromedp.CSS(`#bulk input[name=ids]`)),
		chromedp.Click(chromedp.CSS(`#bulk button[name=op][value=delete]`)),
		chromedp.WaitVisible(chromedp.CSS(`#msg`)),
	)
	jsTrue(t, ctx, "no dead letter left", `document.querySelectorAll("#bulk tr[data-job]").length === 0 && document.querySelector("#msg").textContent.includes("delete: 1")`)
	decode(t, h.admin(t, "GET", "/api/jobs?state=dead", ""), &dead)
	if len(dead.Jobs) != 0 {
		t.Fatalf("dead letters after the bulk delete: %+v", dead.Jobs)
	}

	// Rules: mute help-reply for 2h, then end the mute.
	run(t, ctx, "mute",
		chromedp.Navigate(h.base+"/ui/rules"),
		chromedp.WaitVisible(chromedp.CSS(`#mute`)),
		chromedp.SetValue(chromedp.CSS(`#mute select[name=rule]`), "help-reply"),
		chromedp.SetValue(chromedp.CSS(`#mute input[name=for]`), "2h"),
		chromedp.SendKeys(chromedp.CSS(`#mute input[name=reason]`), "maintenance"),
		chromedp.Submit(chromedp.CSS(`#mute`)),
		chromedp.WaitVisible(chromedp.CSS(`#mutes tr[data-active=true]`)),
		chromedp.WaitVisible(chromedp.CSS(`.chart canvas`)),
		shot.take("rules"),
	)
	var mutes struct {
		Mutes []MuteJSON `json:"mutes"`
	}
	decode(t, h.admin(t, "GET", "/api/mutes", ""), &mutes)
	if len(mutes.Mutes) != 1 || mutes.Mutes[0].Rule != "help-reply" || mutes.Mutes[0].Reason != "maintenance" {
		t.Fatalf("mutes after the form: %+v", mutes.Mutes)
	}
	run(t, ctx, "end the mute",
		chromedp.Click(chromedp.CSS(`#mutes button.end-mute`)),
		chromedp.WaitVisible(chromedp.CSS(`#mutes tr[data-active=false]`)),
	)
	decode(t, h.admin(t, "GET", "/api/mutes", ""), &mutes)
	if len(mutes.Mutes) != 0 {
		t.Fatalf("active mutes after ending it: %+v", mutes.Mutes)
	}

	// Playground: pick a recorded event, then paste one.
	run(t, ctx, "playground",
		chromedp.Navigate(h.base+"/ui/playground"),
		chromedp.WaitVisible(chromedp.CSS(`#pick`)),
		chromedp.SetValue(chromedp.CSS(`#pick select`), keyOf["WEB-2"]),
		drop("#try"),
		chromedp.Submit(chromedp.CSS(`#pick`)),
		chromedp.WaitVisible(chromedp.CSS(`#try`)),
	)
	jsTrue(t, ctx, "the picked event is loaded", `document.querySelector("#body").value.includes("help again")`)
	run(t, ctx, "run the picked event",
		chromedp.Click(chromedp.CSS(`#try button`)),
		chromedp.WaitVisible(chromedp.CSS(`#result`)),
		shot.take("playground"),
	)
	jsTrue(t, ctx, "help-reply fired with the condition's value and the request",
		`(() => { const d = [...document.querySelectorAll(".explain details")].find(d => d.textContent.includes("help-reply")); return d && d.open && d.textContent.includes("fired") && d.querySelector(".value").textContent === "true" && d.querySelector(".request").textContent.includes("We got your message WEB-2") })()`)
	body := js(t, messageEvent("PLAY-1", "nothing to see"))
	run(t, ctx, "paste an event",
		chromedp.SetValue(chromedp.CSS(`#body`), body),
		drop("#result"),
		chromedp.Click(chromedp.CSS(`#try button`)),
		chromedp.WaitVisible(chromedp.CSS(`#result`)),
	)
	jsTrue(t, ctx, "help-reply does not fire, and its condition is false",
		`(() => { const d = [...document.querySelectorAll(".explain details")].find(d => d.textContent.includes("help-reply")); return d && !d.textContent.includes(": fired") && d.querySelector(".value").textContent === "false" })()`)
	if n := len(h.wa.Messages()); n != 1 {
		t.Errorf("the playground sent something: Wassenger received %d messages, want the one retried", n)
	}

	// On a phone: the event page fits the screen's width.
	run(t, ctx, "phone",
		chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile),
		chromedp.Navigate(h.base+"/ui/events/"+keyOf["WEB-1"]),
		chromedp.WaitVisible(chromedp.CSS(`#payload`)),
		shot.take("event-phone"),
	)
	var wide string
	wide, _ = chromedp.Run(ctx, chromedp.Evaluate[string](`[...document.querySelectorAll("body *")].filter(e => e.getBoundingClientRect().right > 391).map(e => e.tagName + "." + e.className).slice(0, 5).join(" ")`))
	jsTrue(t, ctx, "no sideways scrolling on a phone (too wide: "+wide+")", `document.documentElement.scrollWidth <= 390`)
	jsTrue(t, ctx, "the explain is there (a page's own dry-run is not cross-site)", `document.querySelectorAll(".explain details").length === 2`)
	run(t, ctx, "back to the desktop", chromedp.ResetViewport())

	// Sign out: the pages send to the sign-in page again. hookd demo's
	// link (the key after #, never sent to the server) signs in.
	run(t, ctx, "sign out",
		chromedp.Click(chromedp.CSS(`header form button`)),
		chromedp.WaitVisible(chromedp.CSS(`#key`)),
		chromedp.Navigate(h.base+"/ui/jobs"),
		chromedp.WaitVisible(chromedp.CSS(`#key`)),
		chromedp.Navigate(h.base+"/ui/login#key="+h.adminKey),
		chromedp.WaitVisible(chromedp.CSS(`#rows`)),
	)
	jsTrue(t, ctx, "the key is gone from the address", `!location.href.includes("key=")`)
}

// uiPages are the console's pages that show data.
var uiPages = []string{"/ui/events", "/ui/events/message:in:new/X", "/ui/jobs", "/ui/rules", "/ui/playground"}

// noRedirect is a client that shows redirects instead of following them.
var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }, Timeout: 10 * time.Second}

// Without a session the console's pages send to the sign-in page and its
// forms change nothing; the webhook key and the admin key in a header do
// not open it. A change without the CSRF token, or from another site,
// is refused. No page shows a connection's secret, and a <script> in a
// message body is escaped.
func TestConsolePagesSecurity(t *testing.T) {
	t.Parallel()
	h := start(t, options{rules: browserRules})
	h.wa.FailAll(http.StatusUnauthorized, nil, `{"status":401,"message":"Invalid API key `+h.waToken+`"}`)
	h.accept(t, js(t, messageEvent("SEC-1", "<script>alert(1)</script> help")))
	eventually(t, "a dead letter", func() bool {
		var dead struct {
			Jobs []JobJSON `json:"jobs"`
		}
		decode(t, h.admin(t, "GET", "/api/jobs?state=dead", ""), &dead)
		return len(dead.Jobs) == 1
	})
	send := func(method, path string, form url.Values, edit func(*http.Request)) *http.Response {
		t.Helper()
		req, err := http.NewRequest(method, h.base+path, strings.NewReader(form.Encode()))
		if err != nil {
			t.Fatal(err)
		}
		if method == http.MethodPost {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		if edit != nil {
			edit(req)
		}
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	toLogin := func(resp *http.Response) bool {
		return resp.StatusCode == http.StatusSeeOther && strings.HasPrefix(resp.Header.Get("Location"), "/ui/login")
	}
	// A poll without a session goes to sign in, and then to its page.
	if resp := send(http.MethodGet, "/ui/events?rule=help-reply&fragment=rows", nil, nil); !toLogin(resp) || resp.Header.Get("Location") != "/ui/login?next="+url.QueryEscape("/ui/events?rule=help-reply") {
		t.Errorf("a poll without a session: %d to %q, want sign-in, then the whole page", resp.StatusCode, resp.Header.Get("Location"))
	}
	for _, p := range uiPages {
		for name, edit := range map[string]func(*http.Request){
			"nothing":              nil,
			"webhook key in query": func(r *http.Request) { r.URL.RawQuery = "key=" + url.QueryEscape(h.key) },
			"webhook key in header": func(r *http.Request) {
				r.Header.Set("X-Hookd-Key", h.key)
				r.Header.Set("Authorization", "Bearer "+h.key)
			},
			"admin key in header": func(r *http.Request) { r.Header.Set(AdminKeyHeader, h.adminKey) },
			"forged cookie":       func(r *http.Request) { r.AddCookie(&http.Cookie{Name: SessionCookie, Value: "forged"}) },
		} {
			if resp := send(http.MethodGet, p, nil, edit); !toLogin(resp) || strings.Contains(resp.Header.Get("Location"), h.key) {
				t.Errorf("GET %s with %s: %d %s, want a redirect to /ui/login that does not carry the key on", p, name, resp.StatusCode, resp.Header.Get("Location"))
			}
		}
	}
	for _, p := range []string{"/ui/jobs", "/ui/mutes", "/ui/mutes/1/end", "/ui/playground"} {
		form := url.Values{"op": {"delete"}, "ids": {"1"}, "rule": {"help-reply"}, "for": {"1h"}, "reason": {"x"}, "body": {"{}"}}
		if resp := send(http.MethodPost, p, form, func(r *http.Request) { r.Header.Set(AdminKeyHeader, h.adminKey) }); !toLogin(resp) {
			t.Errorf("POST %s without a session: %d, want a redirect to /ui/login", p, resp.StatusCode)
		}
	}
	// The webhook key does not sign in.
	if resp := send(http.MethodPost, "/ui/signin", url.Values{"key": {h.key}}, nil); resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("Set-Cookie") != "" {
		t.Errorf("sign-in with the webhook key: %d, cookie %q; want 401 and no cookie", resp.StatusCode, resp.Header.Get("Set-Cookie"))
	}
	resp := send(http.MethodPost, "/ui/signin", url.Values{"key": {h.adminKey}, "next": {"https://evil.example/"}}, nil)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/ui/events" {
		t.Fatalf("sign-in: %d to %q, want 303 to /ui/events (never off-site)", resp.StatusCode, resp.Header.Get("Location"))
	}
	var cookie *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == SessionCookie {
			cookie = c
		}
	}
	if cookie == nil || !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode {
		t.Fatalf("session cookie %+v: want HttpOnly, SameSite=Strict", cookie)
	}
	withCookie := func(r *http.Request) { r.AddCookie(cookie) }

	// Signed in: no page shows a secret; the payload's HTML is escaped.
	for _, p := range append(uiPages[:1:1], "/ui/events/"+h.events(t)[0].Key, "/ui/jobs?state=dead", "/ui/rules", "/ui/playground?event="+url.QueryEscape(h.events(t)[0].Key)) {
		resp := send(http.MethodGet, p, nil, withCookie)
		var b strings.Builder
		if _, err := io.Copy(&b, resp.Body); err != nil {
			t.Fatal(err)
		}
		page := b.String()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d %s", p, resp.StatusCode, page)
		}
		for _, s := range []string{h.waToken, h.key, h.adminKey, h.smtpPassword} {
			if strings.Contains(page, s) {
				t.Errorf("GET %s shows a secret", p)
			}
		}
		if strings.Contains(page, "<script>alert(1)") {
			t.Errorf("GET %s: the payload's <script> is not escaped", p)
		}
		if !strings.Contains(resp.Header.Get("Content-Security-Policy"), "script-src 'self'") {
			t.Errorf("GET %s: no Content-Security-Policy", p)
		}
	}

	// Changes: without the CSRF token, or cross-site, refused.
	id := fmt.Sprint(func() int64 {
		var dead struct {
			Jobs []JobJSON `json:"jobs"`
		}
		decode(t, h.admin(t, "GET", "/api/jobs?state=dead", ""), &dead)
		return dead.Jobs[0].ID
	}())
	csrf := func() string {
		var s struct {
			CSRF string `json:"csrf_token"`
		}
		decode(t, h.request(t, "GET", "/ui/session", "", withCookie), &s)
		return s.CSRF
	}()
	for name, c := range map[string]struct {
		form url.Values
		edit func(*http.Request)
	}{
		"no token":    {url.Values{"op": {"delete"}, "ids": {id}}, withCookie},
		"wrong token": {url.Values{"op": {"delete"}, "ids": {id}, "csrf_token": {"nope"}}, withCookie},
		"cross-site": {url.Values{"op": {"delete"}, "ids": {id}, "csrf_token": {csrf}}, func(r *http.Request) {
			withCookie(r)
			r.Header.Set("Sec-Fetch-Site", "cross-site")
			r.Header.Set("Origin", "https://evil.example")
		}},
	} {
		if resp := send(http.MethodPost, "/ui/jobs", c.form, c.edit); resp.StatusCode != http.StatusForbidden {
			t.Errorf("bulk delete with %s: %d, want 403", name, resp.StatusCode)
		}
	}
	if a := h.admin(t, "GET", "/api/jobs/"+id, ""); a.status != http.StatusOK {
		t.Fatalf("the dead letter is gone after refused deletes: %d", a.status)
	}
	resp = send(http.MethodPost, "/ui/jobs", url.Values{"op": {"delete"}, "ids": {id}, "csrf_token": {csrf}}, func(r *http.Request) {
		withCookie(r)
		r.Header.Set("Sec-Fetch-Site", "same-origin")
		r.Header.Set("Origin", h.base)
	})
	if resp.StatusCode != http.StatusSeeOther || !strings.Contains(resp.Header.Get("Location"), "msg=") {
		t.Fatalf("bulk delete with the token: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	if a := h.admin(t, "GET", "/api/jobs/"+id, ""); a.status != http.StatusNotFound {
		t.Errorf("the dead letter after the delete: %d, want 404", a.status)
	}
}
