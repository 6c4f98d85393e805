package cli

import (
	"context"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/syncbuf"
)

// waitFor polls out until match finds something, for at most 60 s.
func waitFor(t *testing.T, out *syncbuf.Buffer, what string, match func(string) bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !match(out.String()) {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within 60s; output:\n%s", what, out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestDemoSuggestedEvent runs the line `hookd demo` suggests for one more
// event, exactly as printed, with sh and curl, twice: each run is a new
// event (a fresh id), and removal-alert's Slack message and email reach
// the stand-ins.
func TestDemoSuggestedEvent(t *testing.T) {
	for _, tool := range []string{"sh", "curl", "date"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("the suggested line needs %s: %v", tool, err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr syncbuf.Buffer
	done := make(chan int, 1)
	go func() {
		done <- demo(ctx, Streams{Stdout: &stdout, Stderr: &stderr}, []string{"--listen", "127.0.0.1:0"})
	}()
	defer func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("demo exited %d; stderr:\n%s", code, stderr.String())
		}
	}()

	line := regexp.MustCompile(`(?m)^  (printf .*)$`)
	waitFor(t, &stdout, "suggested line", line.MatchString)
	cmd := line.FindStringSubmatch(stdout.String())[1]
	if !strings.Contains(cmd, "/webhooks/wassenger?key=") {
		t.Fatalf("the suggested line posts elsewhere: %s", cmd)
	}
	slackLine := regexp.MustCompile(`(?m)^  \[webhook\] :warning: \+34655500001 removed 1 member from Marketing Team$`)
	mailLine := regexp.MustCompile(`(?m)^  to ops@example.com, groups@example.com: Members removed from Marketing Team$`)
	before := stdout.String()
	if slackLine.MatchString(before) {
		t.Fatalf("the recorded events already sent the message this test waits for:\n%s", before)
	}

	for run := 1; run <= 2; run++ {
		out, err := exec.Command("sh", "-c", cmd).CombinedOutput()
		if err != nil {
			t.Fatalf("run %d of the suggested line: %v\n%s", run, err, out)
		}
		// Each report lists everything the stand-ins received so far:
		// the latest must hold one removal message per run.
		waitFor(t, &stdout, "Slack message for run "+strconv.Itoa(run), func(s string) bool {
			last := s[strings.LastIndex(s, "Wassenger received"):]
			return len(slackLine.FindAllString(last, -1)) == run
		})
		if run == 1 {
			if !mailLine.MatchString(stdout.String()[len(before):]) {
				t.Errorf("no removal email after the suggested line:\n%s", stdout.String()[len(before):])
			}
			// The id is the time in seconds: wait for the next second
			// so that the second run is a new event too.
			next := time.Now().Truncate(time.Second).Add(time.Second)
			for time.Now().Before(next) {
				time.Sleep(time.Until(next))
			}
		}
	}
}

// TestDemoTryIntro: the line that introduces the suggested event names
// removal-alert, a rule of the built-in rules, only for them.
func TestDemoTryIntro(t *testing.T) {
	if !strings.Contains(tryIntro(true), "removal-alert emails ops") {
		t.Errorf("built-in rules: %q", tryIntro(true))
	}
	if own := tryIntro(false); strings.Contains(own, "removal-alert") || !strings.Contains(own, "your rules") {
		t.Errorf("own rules: %q", own)
	}
}
