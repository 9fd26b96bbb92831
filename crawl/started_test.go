package crawl_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/crawlmaster/crawlmaster/crawl"
	"github.com/crawlmaster/crawlmaster/crawl/errclass"
)

// TestRequestStartIsCalledOncePerRequestedPage checks the WithRequestStart
// callback runs once, before the page's request reaches the server, for a
// page that is fetched (redirect hops included in the one call), and never
// for a URL robots.txt disallows or one whose robots.txt is unavailable.
func TestRequestStartIsCalledOncePerRequestedPage(t *testing.T) {
	s := newSite(t)
	s.robots("a.test", "User-agent: *\nDisallow: /private/\n")
	s.handle("a.test/", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/landing", http.StatusFound) })
	s.handle("a.test/landing", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("<title>x</title>")) })
	s.handle("b.test/robots.txt", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) })
	f := newFetcher(t, testConfig(s.addr()))

	cases := []struct {
		url   string
		class errclass.Class
		calls int
	}{
		{"http://a.test/", errclass.OK, 1},
		{"http://a.test/private/x", errclass.RobotsDisallowed, 0},
		{"http://b.test/", errclass.RobotsUnavailable, 0},
	}
	for _, c := range cases {
		calls, seenBefore := 0, -1
		ctx := crawl.WithRequestStart(context.Background(), func() {
			calls++
			seenBefore = s.count(hostPath(c.url))
		})
		res := f.Fetch(ctx, crawl.Request{URL: c.url, FollowRedirects: true})
		wantClass(t, res, c.class)
		if calls != c.calls {
			t.Errorf("%s: callback called %d times, want %d", c.url, calls, c.calls)
		}
		if calls == 1 && seenBefore != 0 {
			t.Errorf("%s: callback ran after the server saw the request (%d requests before it)", c.url, seenBefore)
		}
	}
	// Without the callback in the context, fetching works as before.
	wantClass(t, fetch(t, f, "http://a.test/landing"), errclass.OK)
}

// hostPath turns "http://a.test/x" into the site's count key "a.test/x".
func hostPath(u string) string {
	const p = "http://"
	return u[len(p):]
}
