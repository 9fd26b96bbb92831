package crawl_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/crawlmaster/crawlmaster/crawl/errclass"
)

// TestUserinfoRedacted: a URL with userinfo, requested or redirected to,
// fails as invalid_url without the credentials in Err (nor, for a
// redirect target, in FinalURL; a requested URL is the caller's own).
func TestUserinfoRedacted(t *testing.T) {
	s := newSite(t)
	s.handle("a.test/", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://alice:s3cret@b.test/x", http.StatusFound)
	})
	f := newFetcher(t, testConfig(s.addr()))
	for _, u := range []string{"http://alice:s3cret@a.test/", "http://a.test/"} {
		res := fetch(t, f, u)
		wantClass(t, res, errclass.InvalidURL)
		shown := []string{res.Err}
		if u == "http://a.test/" {
			shown = append(shown, res.FinalURL)
		}
		for _, v := range shown {
			if strings.Contains(v, "alice") || strings.Contains(v, "s3cret") {
				t.Errorf("%s: credentials in %q (err %q, final %q)", u, v, res.Err, res.FinalURL)
			}
		}
		if !strings.Contains(res.Err+res.FinalURL, "xxxxx@") && !strings.Contains(res.Err, "userinfo") {
			t.Errorf("%s: err %q, final %q", u, res.Err, res.FinalURL)
		}
	}
}
