package httpx

import (
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs (run go test -update if the change is right)\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

func TestDump(t *testing.T) {
	tests := []struct {
		name   string
		method string
		url    string
		header map[string]string
		body   string
	}{
		{
			name:   "json.golden",
			method: http.MethodPost,
			url:    "https://api.wassenger.com/v1/messages",
			header: map[string]string{
				"Token":         "SENTINEL-TOKEN",
				"Content-Type":  "application/json",
				"Authorization": "Bearer SENTINEL-BEARER",
				"X-Api-Key":     "SENTINEL-KEY",
				"Cookie":        "session=SENTINEL-COOKIE",
				"User-Agent":    "hookd",
			},
			body: `{"phone":"+1234567890","message":"Hi <b>&</b>","media":{"url":"https://x/y.png","format":"native"},"n":12345678901234567890,"list":[1,"two",null]}`,
		},
		{
			name:   "text.golden",
			method: http.MethodPut,
			url:    "https://user:SENTINEL-PW@example.com/hook?token=SENTINEL-Q&x=1",
			header: map[string]string{"Content-Type": "text/plain; charset=utf-8"},
			body:   "plain text\nsecond line",
		},
		{
			name:   "nobody.golden",
			method: http.MethodDelete,
			url:    "https://hooks.slack.com/services/T0/B0/SENTINEL-PATH",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, tt.url, nil)
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range tt.header {
				req.Header.Set(k, v)
			}
			got := Dump(req, []byte(tt.body))
			if strings.Contains(got, "SENTINEL") {
				t.Errorf("dump shows a secret:\n%s", got)
			}
			golden(t, tt.name, got)
		})
	}
}
