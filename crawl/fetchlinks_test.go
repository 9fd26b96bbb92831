package crawl_test

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/crawlmaster/crawlmaster/crawl"
	"github.com/crawlmaster/crawlmaster/crawl/errclass"
)

func fetchReq(t testing.TB, f crawl.Fetcher, req crawl.Request) *crawl.Result {
	t.Helper()
	ctx, cancel := contextWithTimeout(20 * time.Second)
	defer cancel()
	return f.Fetch(ctx, req)
}

// Links come from the final page after redirects, resolved against its
// URL; only 2xx HTML pages have links; MaxLinks 0 extracts none.
func TestFetchLinks(t *testing.T) {
	s := newSite(t)
	page := `<html><head><title>T</title></head><body><a href="x">x</a><a href="/y#f">y</a><iframe src="//b.test/if"></iframe></body>`
	s.handle("a.test/dir/", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, page) })
	s.handle("a.test/old", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/dir/", http.StatusFound) })
	s.handle("a.test/plain", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprint(w, page)
	})
	s.handle("a.test/json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"a":"<a href=/x>"}`)
	})
	s.handle("a.test/404", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(404)
		fmt.Fprint(w, page)
	})
	s.handle("a.test/sniffed", func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Content-Type"] = nil
		fmt.Fprint(w, "<!DOCTYPE html>"+page)
	})
	f := newFetcher(t, testConfig(s.addr()))
	want := []string{"anchor http://a.test/dir/x", "anchor http://a.test/y", "frame http://b.test/if"}

	res := fetchReq(t, f, crawl.Request{URL: "http://a.test/old", FollowRedirects: true, MaxLinks: 10})
	wantClass(t, res, errclass.OK)
	if got := linkStrings(res.Links); !slices.Equal(got, want) || res.Title != "T" || res.Redirects != 1 {
		t.Errorf("followed redirect: links %q title %q redirects %d", got, res.Title, res.Redirects)
	}
	res = fetchReq(t, f, crawl.Request{URL: "http://a.test/dir/", MaxLinks: 2})
	if got := linkStrings(res.Links); !slices.Equal(got, want[:2]) || res.LinksDropped != 1 {
		t.Errorf("capped: links %q dropped %d", got, res.LinksDropped)
	}
	res = fetchReq(t, f, crawl.Request{URL: "http://a.test/sniffed", MaxLinks: 10})
	if len(res.Links) != 3 {
		t.Errorf("sniffed HTML: links %q", linkStrings(res.Links))
	}
	for _, p := range []string{"/plain", "/json", "/404"} {
		res := fetchReq(t, f, crawl.Request{URL: "http://a.test" + p, MaxLinks: 10})
		if len(res.Links) != 0 || res.LinksDropped != 0 {
			t.Errorf("%s: links %q", p, linkStrings(res.Links))
		}
	}
	res = fetchReq(t, f, crawl.Request{URL: "http://a.test/dir/", FollowRedirects: true})
	if res.Links != nil || res.Title != "T" {
		t.Errorf("MaxLinks 0: links %q title %q", linkStrings(res.Links), res.Title)
	}
}

func TestFetchXRobotsTag(t *testing.T) {
	s := newSite(t)
	page := `<a href="/x">x</a>`
	for path, tags := range map[string][]string{
		"/plain":       {"noindex"},
		"/both":        {"noindex, nofollow"},
		"/none":        {"none"},
		"/two-lines":   {"noarchive", "nofollow"},
		"/ours":        {"testbot: nofollow"},
		"/other":       {"googlebot: noindex, nofollow"},
		"/mixed":       {"noindex, googlebot: nofollow"},
		"/unavailable": {"unavailable_after: 25 Jun 2010 15:00:00 PST, noindex"},
		"/ua-then-all": {"otherbot: noindex", "nofollow"},
	} {
		s.handle("a.test"+path, func(w http.ResponseWriter, r *http.Request) {
			w.Header()["X-Robots-Tag"] = tags
			fmt.Fprint(w, page)
		})
	}
	s.handle("a.test/pdf", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/pdf")
		w.Header().Set("X-Robots-Tag", "noindex")
		fmt.Fprint(w, "%PDF-1.4")
	})
	f := newFetcher(t, testConfig(s.addr()))
	cases := []struct {
		path              string
		noindex, nofollow bool
	}{
		{"/plain", true, false}, {"/both", true, true}, {"/none", true, true}, {"/two-lines", false, true},
		{"/ours", false, true}, {"/other", false, false}, {"/mixed", true, false}, {"/unavailable", true, false},
		{"/ua-then-all", false, true}, {"/pdf", true, false},
	}
	for _, c := range cases {
		for _, max := range []int{0, 10} {
			res := fetchReq(t, f, crawl.Request{URL: "http://a.test" + c.path, MaxLinks: max})
			wantClass(t, res, errclass.OK)
			wantLinks := 0
			if max > 0 && !c.nofollow && c.path != "/pdf" {
				wantLinks = 1
			}
			if res.NoIndex != c.noindex || res.NoFollow != c.nofollow || len(res.Links) != wantLinks {
				t.Errorf("%s (max %d): noindex %v nofollow %v links %d; want %v %v %d", c.path, max,
					res.NoIndex, res.NoFollow, len(res.Links), c.noindex, c.nofollow, wantLinks)
			}
			if len(res.Body) == 0 {
				t.Errorf("%s: body not kept (the master decides what a noindex page stores)", c.path)
			}
		}
	}
}

// FollowRedirects false: a redirect is the result, class ok with its
// status, no body, its resolved target as one REDIRECT link, the target
// neither requested nor checked against robots.txt.
func TestNoFollowRedirect(t *testing.T) {
	s := newSite(t)
	s.robots("b.test", "User-agent: *\nDisallow: /\n")
	for code, loc := range map[int]string{
		301: "http://b.test/secret#frag", 302: "/rel?q=a b", 303: "../x", 307: "https://a.test/tls", 308: "//c.test/p",
	} {
		s.handle(fmt.Sprintf("a.test/dir/%d", code), func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Location", loc)
			w.WriteHeader(code)
			fmt.Fprint(w, strings.Repeat("moved ", 100))
		})
	}
	s.handle("a.test/ftp", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "ftp://a.test/f", http.StatusFound) })
	s.handle("a.test/noloc", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusFound) })
	s.handle("a.test/300", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", "/x")
		w.WriteHeader(http.StatusMultipleChoices)
	})
	f := newFetcher(t, testConfig(s.addr()))
	want := map[int]string{
		301: "http://b.test/secret", 302: "http://a.test/rel?q=a%20b", 303: "http://a.test/x",
		307: "https://a.test/tls", 308: "http://c.test/p",
	}
	for code, target := range want {
		u := fmt.Sprintf("http://a.test/dir/%d", code)
		res := fetchReq(t, f, crawl.Request{URL: u, MaxLinks: 10})
		wantClass(t, res, errclass.OK)
		if res.Status != code || res.FinalURL != u || res.Redirects != 0 || res.Body != nil || res.BodySize != 0 ||
			!slices.Equal(linkStrings(res.Links), []string{"redirect " + target}) || res.Robots != crawl.RobotsAllowed {
			t.Errorf("%d: status %d final %q redirects %d body %d links %q robots %v", code, res.Status, res.FinalURL,
				res.Redirects, res.BodySize, linkStrings(res.Links), res.Robots)
		}
	}
	if s.count("b.test/robots.txt") != 0 || s.count("b.test/secret") != 0 || s.count("a.test/x") != 0 {
		t.Error("a redirect target (or its robots.txt) was requested")
	}
	// The redirect bodies were drained: every request reused one connection.
	if n := s.connCount(); n != 1 {
		t.Errorf("%d connections for %d redirects, want 1", n, len(want))
	}
	res := fetchReq(t, f, crawl.Request{URL: "http://a.test/ftp"})
	wantClass(t, res, errclass.InvalidURL)
	if res.FinalURL != "ftp://a.test/f" || len(res.Links) != 0 {
		t.Errorf("ftp: final %q links %q", res.FinalURL, linkStrings(res.Links))
	}
	for _, p := range []string{"/noloc", "/300"} {
		res := fetchReq(t, f, crawl.Request{URL: "http://a.test" + p})
		wantClass(t, res, errclass.Other)
		if len(res.Links) != 0 {
			t.Errorf("%s: links %q", p, linkStrings(res.Links))
		}
	}
	// FollowRedirects true is unchanged: the target is fetched (and
	// checked against robots.txt).
	res = fetchReq(t, f, crawl.Request{URL: "http://a.test/dir/301", FollowRedirects: true})
	wantClass(t, res, errclass.RobotsDisallowed)
	if res.FinalURL != "http://b.test/secret#frag" || len(res.Links) != 0 {
		t.Errorf("followed: final %q links %q", res.FinalURL, linkStrings(res.Links))
	}
}

// TestNoReplay: a server that closes a kept-alive connection after reading
// the request, without answering. net/http would send the GET again on a
// new connection; the crawler sends exactly one request per fetch, and
// the fetch is a conn_reset.
func TestNoReplay(t *testing.T) {
	s := newSite(t)
	s.robots("a.test", "User-agent: *\nAllow: /\n")
	s.handle("a.test/drop", func(w http.ResponseWriter, r *http.Request) {
		c, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			c.Close()
		}
	})
	f := newFetcher(t, testConfig(s.addr()))
	for attempt := 1; attempt <= 3; attempt++ {
		// Make sure a kept-alive connection is there to be reused.
		wantClass(t, fetch(t, f, fmt.Sprintf("http://a.test/ok%d", attempt)), errclass.OK)
		res := fetch(t, f, "http://a.test/drop")
		wantClass(t, res, errclass.ConnReset)
		if !strings.Contains(res.Err, "not resent") {
			t.Errorf("attempt %d: err %q", attempt, res.Err)
		}
		if n := s.count("a.test/drop"); n != attempt {
			t.Fatalf("after %d fetches the server saw %d requests", attempt, n)
		}
	}
}

// TestNoReplayRobots: a robots.txt request on a reused connection that the
// server drops is not sent again either; the origin is unavailable.
func TestNoReplayRobots(t *testing.T) {
	s := newSite(t)
	drop := false
	s.handle("a.test/robots.txt", func(w http.ResponseWriter, r *http.Request) {
		if drop {
			c, _, _ := w.(http.Hijacker).Hijack()
			c.Close()
			return
		}
		fmt.Fprint(w, "User-agent: *\nAllow: /\n")
	})
	clock := newFakeClock()
	cfg := testConfig(s.addr())
	cfg.RobotsTTL = time.Minute
	f := newClockedFetcher(t, cfg, clock)
	wantClass(t, fetch(t, f, "http://a.test/1"), errclass.OK) // robots.txt + page on one connection
	drop = true
	clock.Advance(time.Minute) // robots.txt expired: fetched again on the kept-alive connection
	res := fetch(t, f, "http://a.test/2")
	wantClass(t, res, errclass.RobotsUnavailable)
	if n := s.count("a.test/robots.txt"); n != 2 {
		t.Errorf("robots.txt requested %d times, want 2 (once per expiry, never resent)", n)
	}
	if s.count("a.test/2") != 0 {
		t.Error("page requested without a robots.txt verdict")
	}
}

// Sitemaps: robots.txt's Sitemap lines on the host (others ignored),
// gzip, index files to depth 2, robots.txt rules and the host's delay for
// every sitemap request, URLs returned after the page links.
func TestSitemaps(t *testing.T) {
	s := newSite(t)
	s.robots("a.test", "User-agent: *\nDisallow: /private\nCrawl-delay: 2\n"+
		"Sitemap: http://a.test/index.xml\nSitemap: http://other.test/s.xml\nSitemap: /private/s.xml\n")
	xml := func(root, entry string, locs ...string) string {
		var b strings.Builder
		b.WriteString("<" + root + ">")
		for _, l := range locs {
			b.WriteString("<" + entry + "><loc>" + l + "</loc></" + entry + ">")
		}
		b.WriteString("</" + root + ">")
		return b.String()
	}
	serve := func(path, body string, gz bool) {
		s.handle("a.test"+path, func(w http.ResponseWriter, r *http.Request) {
			if gz {
				w.Header().Set("Content-Type", "application/gzip")
				zw := gzip.NewWriter(w)
				fmt.Fprint(zw, body)
				zw.Close()
				return
			}
			w.Header().Set("Content-Type", "application/xml")
			fmt.Fprint(w, body)
		})
	}
	serve("/index.xml", xml("sitemapindex", "sitemap", "/s1.xml.gz", "http://a.test/sub-index.xml", "http://other.test/s.xml", "/missing.xml"), false)
	serve("/s1.xml.gz", xml("urlset", "url", "http://a.test/p1", "http://a.test/p2#frag", "mailto:x@y"), true)
	serve("/sub-index.xml", xml("sitemapindex", "sitemap", "/s2.xml", "/deep-index.xml"), false)
	serve("/s2.xml", xml("urlset", "url", "http://a.test/p3"), false)
	serve("/deep-index.xml", xml("sitemapindex", "sitemap", "/s3.xml"), false)
	serve("/s3.xml", xml("urlset", "url", "http://a.test/too-deep"), false)
	s.handle("a.test/", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, `<a href="/p1">`) })

	clock := newFakeClock()
	cfg := testConfig(s.addr())
	cfg.MaxCrawlDelay = 10 * time.Second
	f := newClockedFetcher(t, cfg, clock)
	done := make(chan *crawl.Result, 1)
	go func() { done <- fetchReq(t, f, crawl.Request{URL: "http://a.test/", MaxLinks: 10, Sitemaps: true}) }()
	// robots.txt, then the page and 6 sitemap files (index, s1, sub-index,
	// missing, s2, deep-index), each 2 s after the previous request.
	for i := range 7 {
		if d := clock.nextTimer(t); d != 2*time.Second {
			t.Fatalf("request %d after robots.txt waited %v, want the Crawl-delay", i+1, d)
		}
		clock.Advance(2 * time.Second)
	}
	var res *crawl.Result
	select {
	case res = <-done:
	case d := <-clock.created:
		t.Fatalf("an unexpected request waited %v", d)
	}
	wantClass(t, res, errclass.OK)
	if !res.SitemapsRead {
		t.Error("SitemapsRead false after reading the sitemaps")
	}
	want := []string{"anchor http://a.test/p1", "sitemap http://a.test/p1", "sitemap http://a.test/p2", "sitemap http://a.test/p3"}
	if got := linkStrings(res.Links); !slices.Equal(got, want) {
		t.Errorf("links\n got %q\nwant %q", got, want)
	}
	if res.NextRequestAfter != 2*time.Second {
		t.Errorf("NextRequestAfter = %v, want 2s after the last sitemap request", res.NextRequestAfter)
	}
	for path, n := range map[string]int{"/index.xml": 1, "/s1.xml.gz": 1, "/sub-index.xml": 1, "/s2.xml": 1,
		"/deep-index.xml": 1, "/missing.xml": 1, "/s3.xml": 0, "/private/s.xml": 0, "/sitemap.xml": 0} {
		if got := s.count("a.test" + path); got != n {
			t.Errorf("%s requested %d times, want %d", path, got, n)
		}
	}
	if s.count("other.test/s.xml") != 0 || s.count("other.test/robots.txt") != 0 {
		t.Error("a sitemap on another host was requested")
	}
}

// Without Sitemap lines, /sitemap.xml is read; the per-fetch URL cap
// holds; a 503 stops the reading and backs the host off.
func TestSitemapFallbackAndCaps(t *testing.T) {
	s := newSite(t)
	var b bytes.Buffer
	b.WriteString("<urlset>")
	for i := range crawl.MaxSitemapURLs + 10 {
		fmt.Fprintf(&b, "<url><loc>http://a.test/%d</loc></url>", i)
	}
	b.WriteString("</urlset>")
	big := b.String()
	s.handle("a.test/sitemap.xml", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, big) })
	s.handle("b.test/sitemap.xml", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "3")
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	f := newFetcher(t, testConfig(s.addr()))
	res := fetchReq(t, f, crawl.Request{URL: "http://a.test/", Sitemaps: true})
	wantClass(t, res, errclass.OK)
	// sitemap.Parse stops each file at 50,000 entries, so the 10 beyond are
	// neither returned nor counted.
	if len(res.Links) != crawl.MaxSitemapURLs || res.Links[0].URL != "http://a.test/0" || res.Links[0].Kind != crawl.LinkSitemap {
		t.Errorf("%d sitemap links, dropped %d", len(res.Links), res.LinksDropped)
	}
	res = fetchReq(t, f, crawl.Request{URL: "http://b.test/", Sitemaps: true})
	wantClass(t, res, errclass.OK)
	if len(res.Links) != 0 || res.NextRequestAfter < 2*time.Second {
		t.Errorf("503 sitemap: %d links, NextRequestAfter %v", len(res.Links), res.NextRequestAfter)
	}
	// No sitemaps unless asked.
	before := s.count("a.test/sitemap.xml")
	if res := fetchReq(t, f, crawl.Request{URL: "http://a.test/again", MaxLinks: 5}); res.SitemapsRead {
		t.Error("SitemapsRead without Request.Sitemaps")
	}
	if s.count("a.test/sitemap.xml") != before {
		t.Error("sitemap read without Request.Sitemaps")
	}
	// A page whose outcome skips the sitemaps (a 5xx) says it did not
	// read them, so the master asks again with the host's next seed.
	s.handle("c.test/", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusInternalServerError) })
	if res := fetchReq(t, f, crawl.Request{URL: "http://c.test/", Sitemaps: true}); res.SitemapsRead || s.count("c.test/sitemap.xml") != 0 {
		t.Errorf("after a 500 page: SitemapsRead %v, sitemap requests %d; want false and 0", res.SitemapsRead, s.count("c.test/sitemap.xml"))
	}
}
