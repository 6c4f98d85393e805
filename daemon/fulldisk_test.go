package daemon

import (
	"bytes"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hookd/hookd/internal/tmpfs"
	"github.com/hookd/hookd/store/storetest"
)

// Health 24 on a real full disk: the data folder on a 2 MB tmpfs filled
// up. Intake answers 503 (never a 2xx for an event not stored), /healthz
// answers 503 with the reason and hookd_store_writable is 0; once space
// is freed both recover without a restart, and the refused event, sent
// again, is accepted. It skips only where mounting is not permitted.
// SQLite only: the disk it fills is the one under the SQLite file.
func TestFullDiskHealth(t *testing.T) {
	dir := tmpfs.Mount(t, "2m")
	h := start(t, options{rules: welcomeRules, dataDir: filepath.Join(dir, "data")})

	// Fill the disk but for a little, then post events until one is
	// refused.
	filler := filepath.Join(dir, "filler")
	f, err := os.Create(filler)
	if err != nil {
		t.Fatal(err)
	}
	chunk := bytes.Repeat([]byte{'x'}, 64<<10)
	for {
		if _, err := f.Write(chunk); err != nil {
			break
		}
	}
	f.Close()
	var refused string
	for i := 0; i < 200 && refused == ""; i++ {
		ev := groupEvent("FULL-"+strings.Repeat("x", 4)+string(rune('a'+i%26))+string(rune('a'+i/26)), "add")
		ev["padding"] = storetest.Incompressible(8 << 10)
		body := js(t, ev)
		if a := h.post(t, body); a.status == http.StatusServiceUnavailable {
			refused = body
		} else if a.status != http.StatusOK {
			t.Fatalf("post on a filling disk: %d %s, want 200 or 503", a.status, a.body)
		}
	}
	if refused == "" {
		t.Fatal("no event was refused on a full disk")
	}
	if health := h.get(t, "/healthz", false); health.status != http.StatusServiceUnavailable || !strings.Contains(health.body, "store cannot write") {
		t.Errorf("/healthz on a full disk: %d %s, want 503 with the reason", health.status, health.body)
	}
	if v := h.metric(t, "hookd_store_writable"); v != 0 {
		t.Errorf("hookd_store_writable = %v on a full disk, want 0", v)
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the refused event to be accepted once space is back", func() bool {
		a := h.post(t, refused)
		return a.status == http.StatusOK
	})
	eventually(t, "/healthz to answer 200 again", func() bool {
		return h.get(t, "/healthz", false).status == http.StatusOK
	})
	if v := h.metric(t, "hookd_store_writable"); v != 1 {
		t.Errorf("hookd_store_writable = %v after space came back, want 1", v)
	}
}
