package websim

import (
	"bytes"
	"compress/gzip"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"
	"golang.org/x/net/html/charset"
)

// This file is a second, independent crawler: it speaks HTTP to a running
// Sim, reads robots.txt, HTML (with x/net/html's tokenizer) and sitemaps
// (with encoding/xml) as served, and resolves links with net/url and
// Canonical. It shares with the truth only the policy's scope and guard
// predicates. Its result must equal CrawlTruth: the truth is what the
// server serves.

// pageLinks extracts the links of a served page as a crawler does: <a> and
// <area> href, <frame> and <iframe> src, the first <base href>, rel
// nofollow skipped, meta robots and X-Robots-Tag read; targets resolved
// and canonicalised, non-http(s) dropped. Non-HTML yields nothing.
func pageLinks(pageURL string, header http.Header, body []byte) (links []string, noindex, nofollow bool) {
	directives := func(v string) {
		for _, tok := range strings.Split(v, ",") {
			switch strings.ToLower(strings.TrimSpace(tok)) {
			case "noindex":
				noindex = true
			case "nofollow":
				nofollow = true
			case "none":
				noindex, nofollow = true, true
			}
		}
	}
	for _, v := range header.Values("X-Robots-Tag") {
		directives(v)
	}
	ct := header.Get("Content-Type")
	if !strings.HasPrefix(ct, "text/html") {
		return nil, noindex, nofollow
	}
	rd, err := charset.NewReader(bytes.NewReader(body), ct)
	if err != nil {
		return nil, noindex, nofollow
	}
	page, _ := url.Parse(pageURL)
	base := page
	baseSet := false
	var raw []string
	z := html.NewTokenizer(rd)
	for {
		tt := z.Next()
		if tt == html.ErrorToken {
			break
		}
		if tt != html.StartTagToken && tt != html.SelfClosingTagToken {
			continue
		}
		tok := z.Token()
		attr := func(name string) (string, bool) {
			for _, a := range tok.Attr {
				if a.Key == name {
					return a.Val, true
				}
			}
			return "", false
		}
		switch tok.Data {
		case "base":
			if href, ok := attr("href"); ok && !baseSet {
				if b, err := page.Parse(href); err == nil {
					base, baseSet = b, true
				}
			}
		case "meta":
			if name, _ := attr("name"); strings.EqualFold(name, "robots") {
				c, _ := attr("content")
				directives(c)
			}
		case "a", "area":
			href, ok := attr("href")
			rel, _ := attr("rel")
			if ok && !slices.ContainsFunc(strings.Fields(rel), func(s string) bool { return strings.EqualFold(s, "nofollow") }) {
				raw = append(raw, href)
			}
		case "frame", "iframe":
			if src, ok := attr("src"); ok {
				raw = append(raw, src)
			}
		}
	}
	if nofollow {
		return nil, noindex, true
	}
	for _, h := range raw {
		if c, err := ResolveCanonical(base.String(), h); err == nil {
			links = append(links, c)
		}
	}
	return links, noindex, nofollow
}

// sitemapLocs parses a sitemap file (gzip by its magic bytes).
func sitemapLocs(body []byte) (locs []string, index bool, err error) {
	if len(body) > 2 && body[0] == 0x1f && body[1] == 0x8b {
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			return nil, false, err
		}
		if body, err = io.ReadAll(zr); err != nil {
			return nil, false, err
		}
	}
	var doc struct {
		XMLName  xml.Name
		URLs     []string `xml:"url>loc"`
		Sitemaps []string `xml:"sitemap>loc"`
	}
	if err := xml.Unmarshal(body, &doc); err != nil {
		return nil, false, err
	}
	if doc.XMLName.Local == "sitemapindex" {
		return doc.Sitemaps, true, nil
	}
	return doc.URLs, false, nil
}

// robotsFile is a parsed robots.txt for "*".
type robotsFile struct {
	unavailable bool
	disallow    []string
	sitemaps    []string
}

func (r *robotsFile) allows(path string) bool {
	for _, d := range r.disallow {
		if strings.HasPrefix(path, d) {
			return false
		}
	}
	return true
}

// httpCrawler crawls a Sim over HTTP, level by level.
type httpCrawler struct {
	t      *testing.T
	c      *http.Client
	pol    CrawlPolicy
	robots map[string]*robotsFile
	depth  map[string]int // -1 once fetched
	level  int
	cur    []string
	next   []string
	rows   []TruthURL
	maps   []SitemapFetch
}

func newHTTPCrawler(t *testing.T, c *http.Client, pol CrawlPolicy) *httpCrawler {
	return &httpCrawler{t: t, c: c, pol: pol, robots: map[string]*robotsFile{}, depth: map[string]int{}}
}

type response struct {
	status int
	header http.Header
	body   []byte
	err    error
}

func (h *httpCrawler) get(u string) response {
	for attempt := 1; ; attempt++ {
		resp, err := h.c.Get(u)
		var r response
		if err != nil {
			r.err = err
		} else {
			r.status, r.header = resp.StatusCode, resp.Header
			r.body, r.err = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		var dns *net.DNSError
		transient := r.err != nil || r.status >= 500 || r.status == 429
		if !transient || errors.As(r.err, &dns) || attempt == 3 {
			return r
		}
	}
}

func (h *httpCrawler) robotsOf(host string) *robotsFile {
	if r, ok := h.robots[host]; ok {
		return r
	}
	rf := &robotsFile{}
	resp := h.get("http://" + host + "/robots.txt")
	switch {
	case resp.err != nil || resp.status >= 500:
		rf.unavailable = true
	case resp.status >= 400:
	default:
		star := false
		for line := range strings.SplitSeq(string(resp.body), "\n") {
			k, v, ok := strings.Cut(line, ":")
			if !ok {
				continue
			}
			k, v = strings.ToLower(strings.TrimSpace(k)), strings.TrimSpace(v)
			switch k {
			case "user-agent":
				star = v == "*"
			case "disallow":
				if star && v != "" {
					rf.disallow = append(rf.disallow, v)
				}
			case "sitemap":
				rf.sitemaps = append(rf.sitemaps, v)
			}
		}
	}
	h.robots[host] = rf
	return rf
}

func (h *httpCrawler) offer(u string, d int) {
	if old, ok := h.depth[u]; ok && (old < 0 || old <= d) {
		return
	}
	h.depth[u] = d
	if d == h.level {
		h.cur = append(h.cur, u)
	} else {
		h.next = append(h.next, u)
	}
}

func (h *httpCrawler) admit(from, to string, d int) {
	if d <= h.pol.MaxDepth && h.pol.inScope(from, to) && !h.pol.refuses(to) {
		h.offer(to, d)
	}
}

func (h *httpCrawler) crawl(seeds []string) {
	isSeed := map[string]bool{}
	for _, s := range seeds {
		isSeed[s] = true
		h.offer(s, 0)
	}
	for ; len(h.cur) > 0; h.level++ {
		for i := 0; i < len(h.cur); i++ {
			u := h.cur[i]
			if h.depth[u] != h.level {
				continue
			}
			h.depth[u] = -1
			h.fetch(u, h.level, isSeed[u])
		}
		h.cur, h.next = h.next, nil
	}
	slices.SortFunc(h.rows, func(a, b TruthURL) int { return strings.Compare(a.URL, b.URL) })
	slices.SortFunc(h.maps, func(a, b SitemapFetch) int { return strings.Compare(a.URL, b.URL) })
}

func (h *httpCrawler) fetch(u string, d int, seed bool) {
	row := TruthURL{URL: u, Depth: d}
	defer func() { h.rows = append(h.rows, row) }()
	pu, _ := url.Parse(u)
	if !strings.HasSuffix(pu.Hostname(), ".test") {
		row.State, row.Class = StateFailed, ClassDNSNotFound
		return
	}
	rf := h.robotsOf(pu.Host)
	if rf.unavailable {
		row.State, row.Class = StateDead, ClassRobotsUnavailable
		return
	}
	if seed && h.pol.Sitemaps {
		defer func() {
			if row.Class == ClassOK || row.Class == ClassHTTP4xx || row.Class == ClassRobotsDisallowed {
				h.sitemaps(u, pu.Host, rf)
			}
		}()
	}
	if !rf.allows(pu.Path) {
		row.State, row.Class = StateFailed, ClassRobotsDisallowed
		return
	}
	resp := h.get(u)
	row.HTTPStatus = resp.status
	switch {
	case resp.err != nil:
		row.State, row.Class = StateDead, ClassTimeout
	case resp.status == 429:
		row.State, row.Class = StateDead, ClassHTTP429
	case resp.status >= 500:
		row.State, row.Class = StateDead, ClassHTTP5xx
	case resp.status >= 400:
		row.State, row.Class = StateFailed, ClassHTTP4xx
	case resp.status >= 300:
		row.State, row.Class = StateDone, ClassOK
		target, err := ResolveCanonical(u, resp.header.Get("Location"))
		if err != nil {
			h.t.Errorf("%s: Location %q: %v", u, resp.header.Get("Location"), err)
			return
		}
		if d == 0 {
			if !h.pol.refuses(target) {
				h.offer(target, 0)
			}
		} else {
			h.admit(u, target, d)
		}
	default:
		row.State, row.Class = StateDone, ClassOK
		links, noindex, _ := pageLinks(u, resp.header, resp.body)
		row.NoIndex = noindex
		for k, l := range links {
			if k >= h.pol.MaxLinks {
				break
			}
			h.admit(u, l, d+1)
		}
	}
}

// sitemaps reads a seed host's sitemaps (robots.txt's on the same host, or
// /sitemap.xml), indexes to depth 2, and admits the entries at depth 1.
func (h *httpCrawler) sitemaps(seed, host string, rf *robotsFile) {
	var files []string
	for _, sm := range rf.sitemaps {
		if u, err := url.Parse(sm); err == nil && u.Host == host {
			files = append(files, sm)
		}
	}
	if files == nil {
		files = []string{"http://" + host + "/sitemap.xml"}
	}
	for level := 0; level < 2 && len(files) > 0; level++ {
		var children []string
		for _, f := range files {
			fu, _ := url.Parse(f)
			if !rf.allows(fu.Path) {
				continue
			}
			resp := h.get(f)
			fetch := SitemapFetch{URL: f, HTTPStatus: resp.status}
			if resp.status == 200 {
				locs, index, err := sitemapLocs(resp.body)
				if err != nil {
					h.t.Errorf("sitemap %s: %v", f, err)
				}
				fetch.URLs = len(locs)
				for _, loc := range locs {
					c, err := Canonical(strings.TrimSpace(loc))
					if err != nil {
						h.t.Errorf("sitemap %s: entry %q: %v", f, loc, err)
						continue
					}
					if index {
						children = append(children, c)
					} else {
						h.admit(seed, c, 1)
					}
				}
			}
			h.maps = append(h.maps, fetch)
		}
		files = children
	}
}

// crossCheckConfig is a small universe with sites and a mix of home and
// robots kinds, without hangs (they would only make the test slow).
func crossCheckConfig(domains int) Config {
	cfg := Config{Domains: domains, Seed: 3, RobotsSlowDelay: 20 * time.Millisecond}
	cfg.Fractions = Fractions{
		Redirect: 0.08, RedirectLoop: 0.03, RedirectDisallowed: 0.03, NotFound: 0.03, Gone: 0.02,
		ServerError: 0.02, Flaky: 0.03, TooManyRequests: 0.02, JSON: 0.02, PNG: 0.02,
		BrokenHTML: 0.06, Latin1: 0.06, EUCKR: 0.06, UnknownHost: 0.04,
		RobotsDisallowAll: 0.04, RobotsDisallowSome: 0.12, RobotsCrawlDelay: 0.08, RobotsNotFound: 0.15,
		RobotsServerError: 0.02, RobotsSlow: 0.03,
	}
	cfg.CoverageWindow = -1
	cfg.Sites = SiteConfig{Fraction: 0.8, PagesMean: 9, PagesSigma: 0.8, PagesMax: 40}
	return cfg
}

func diffTruth(t *testing.T, name string, got []TruthURL, want []TruthURL) {
	t.Helper()
	g := map[string]TruthURL{}
	for _, u := range got {
		g[u.URL] = u
	}
	bad := 0
	for _, w := range want {
		if gu, ok := g[w.URL]; !ok {
			t.Errorf("%s: truth has %+v, the HTTP crawl does not", name, w)
			bad++
		} else if gu != w {
			t.Errorf("%s: HTTP crawl %+v, truth %+v", name, gu, w)
			bad++
		}
		delete(g, w.URL)
		if bad > 20 {
			t.Fatalf("%s: too many differences", name)
		}
	}
	for _, u := range g {
		t.Errorf("%s: HTTP crawl has %+v, the truth does not", name, u)
	}
}

// TestCrawlTruthMatchesHTTPCrawl: an independent crawler over HTTP finds
// exactly CrawlTruth, for several policies, and websim's counters saw each
// requested URL once.
func TestCrawlTruthMatchesHTTPCrawl(t *testing.T) {
	n := 60
	if testing.Short() {
		n = 24
	}
	policies := []CrawlPolicy{
		DefaultCrawlPolicy(),
		func() CrawlPolicy { p := DefaultCrawlPolicy(); p.Sitemaps = true; p.MaxDepth = 4; return p }(),
		func() CrawlPolicy {
			p := DefaultCrawlPolicy()
			p.Scope = ScopeHost
			p.MaxDepth = 2
			p.MaxLinks = 12
			return p
		}(),
		func() CrawlPolicy {
			p := DefaultCrawlPolicy()
			p.Scope, p.MaxDepth, p.Sitemaps, p.MaxRepeatedSegments, p.MaxURLLength = ScopeAny, 2, true, 3, 4000
			return p
		}(),
	}
	if testing.Short() {
		policies = policies[1:3]
	}
	for i, pol := range policies {
		t.Run(fmt.Sprintf("policy%d", i), func(t *testing.T) {
			cfg := crossCheckConfig(n)
			s := startSim(t, cfg)
			truth, err := s.CrawlTruth(pol)
			if err != nil {
				t.Fatal(err)
			}
			var seeds []string
			for r := 1; r <= n; r++ {
				seeds = append(seeds, "http://"+s.Domain(r)+"/")
			}
			h := newHTTPCrawler(t, testClient(t, s.Addr(), 5*time.Second), pol)
			h.crawl(seeds)
			diffTruth(t, pol.String(), h.rows, truth.URLs)
			if !slices.Equal(h.maps, truth.Sitemaps) {
				t.Errorf("sitemaps read:\n got  %v\n want %v", h.maps, truth.Sitemaps)
			}
			if hits := s.DisallowedHits(); len(hits) != 0 {
				t.Errorf("disallowed hits: %v", hits)
			}
			if m := s.MisdirectedRequests(); m != 0 {
				t.Errorf("%d misdirected requests", m)
			}
			// Each requested URL was requested once (transient failures
			// once per attempt, the flaky home page twice).
			for _, u := range truth.URLs {
				_, host, path, query, _ := splitCanonical(u.URL)
				if query != "" {
					path += "?" + query
				}
				got := s.Requests(host, path)
				want := int64(0)
				if u.Requested() {
					want = 1
					if u.State == StateDead {
						want = 3
					}
				}
				if p, ok := s.Rank(host); ok && path == "/" && s.Profile(p).Home == HomeFlaky && u.Requested() {
					want = 2
				}
				if got != want {
					t.Errorf("%s (%s %s): %d requests, want %d", u.URL, u.State, u.Class, got, want)
				}
			}
			t.Logf("%s: %d URLs (%d requested), %d sitemaps, %d requests", pol, len(truth.URLs), len(truth.Fetched()),
				len(truth.Sitemaps), s.TotalRequests())
		})
	}
}

// TestServedLinksMatchGraph: every HTML page of a few sites, served over
// HTTP and read by the tokenizer, has exactly the graph's links in order.
func TestServedLinksMatchGraph(t *testing.T) {
	n, minPages := 30, 300
	if testing.Short() {
		n, minPages = 12, 100
	}
	cfg := crossCheckConfig(n)
	s := startSim(t, cfg)
	c := testClient(t, s.Addr(), 5*time.Second)
	pol := DefaultCrawlPolicy()
	pol.Scope, pol.MaxDepth, pol.Sitemaps, pol.MaxLinks = ScopeAny, 3, true, 5000
	pol.MaxURLLength, pol.MaxPathSegments, pol.MaxRepeatedSegments = 0, 0, 0
	truth, err := s.CrawlTruth(pol)
	if err != nil {
		t.Fatal(err)
	}
	pages := 0
	for _, u := range truth.Fetched() {
		if u.Class != ClassOK || u.HTTPStatus != 200 || !strings.HasSuffix(hostOf(u.URL), ".test") {
			continue
		}
		resp, body := mustGet(t, c, u.URL)
		if resp.StatusCode == http.StatusServiceUnavailable { // the flaky home page
			resp, body = mustGet(t, c, u.URL)
		}
		got, noindex, nofollow := pageLinks(u.URL, resp.Header, body)
		m := s.fetchModel(u.URL, false)
		want := m.links
		if nofollow {
			want = nil
		}
		if !slices.Equal(got, want) || noindex != u.NoIndex {
			t.Errorf("%s: served links (noindex %v)\n %q\nthe graph says (noindex %v)\n %q", u.URL, noindex, got, u.NoIndex, want)
		}
		// Below 70 link elements (nofollow, non-http and junk included),
		// how a crawler counts links toward max_links cannot matter.
		if n := bytes.Count(body, []byte("<a ")) + bytes.Count(body, []byte("<area ")) + bytes.Count(body, []byte("<iframe ")) +
			bytes.Count(body, []byte("<frame ")) + bytes.Count(body, []byte("<A ")); n >= 70 && !strings.HasSuffix(u.URL, bigPage) {
			t.Errorf("%s: %d link elements", u.URL, n)
		}
		pages++
	}
	if pages < minPages {
		t.Fatalf("only %d pages checked", pages)
	}
	t.Logf("%d pages checked", pages)
}
