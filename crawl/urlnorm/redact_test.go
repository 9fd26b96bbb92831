package urlnorm_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/crawlmaster/crawlmaster/crawl/urlnorm"
)

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"":                             "",
		"http://example.com/a@b":       "http://example.com/a@b",
		"mailto:someone@example.com":   "mailto:someone@example.com",
		"http://user:pass@host/":       "http://xxxxx@host/",
		"https://user@host:8080/p?q=1": "https://xxxxx@host:8080/p?q=1",
		"http://:pass@host":            "http://xxxxx@host",
		"http://a@b@host/x":            "http://xxxxx@host/x",
		"HTTP://u:p@[::1]:80#f":        "HTTP://xxxxx@[::1]:80#f",
		"http://u:p%40ss@host?x=@y":    "http://xxxxx@host?x=@y",
		`normalize url "http://u:secret@h/": userinfo not allowed`: `normalize url "http://xxxxx@h/": userinfo not allowed`,
		"from http://u:p@a/ to https://v:q@b/ and http://c/@d":     "from http://xxxxx@a/ to https://xxxxx@b/ and http://c/@d",
		"line 3: http://u:p@host":                                  "line 3: http://xxxxx@host",
	} {
		if got := urlnorm.Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}

// net/http's client errors name the URL (*url.Error), with the password
// masked but the user name kept; Redact removes both.
func TestRedactHTTPError(t *testing.T) {
	_, err := http.Get("http://alice:s3cret@127.0.0.1:1/") // port 1: refused at once
	if err == nil {
		t.Fatal("no error")
	}
	got := urlnorm.Redact(err.Error())
	if strings.Contains(got, "alice") || strings.Contains(got, "s3cret") || !strings.Contains(got, "http://xxxxx@127.0.0.1:1/") {
		t.Errorf("Redact(%q) = %q", err, got)
	}
	if got := urlnorm.Redact(fmt.Sprintf("%q", "http://alice:s3cret@h/")); got != `"http://xxxxx@h/"` {
		t.Errorf("quoted: %s", got)
	}
}
