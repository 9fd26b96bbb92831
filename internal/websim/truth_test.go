package websim

import (
	"bytes"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// plainSites returns a universe of n plain domains (home ok, robots.txt
// allow all) that are all sites of exactly pages pages with the features
// named (ParseSiteFeatures syntax).
func plainSites(t testing.TB, n, pages int, features string) *Sim {
	t.Helper()
	without, err := ParseSiteFeatures(features)
	if err != nil {
		t.Fatal(err)
	}
	return newSim(t, Config{Domains: n, Seed: 1, Sites: SiteConfig{Fraction: 1, PagesMean: float64(pages), Without: without}})
}

func mustTruth(t testing.TB, s *Sim, pol CrawlPolicy) *Truth {
	t.Helper()
	tr, err := s.CrawlTruth(pol)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// rowsOf renders truth rows as "depth url state class" lines for compact
// comparisons.
func rowsOf(tr *Truth) []string {
	var out []string
	for _, u := range tr.URLs {
		out = append(out, strconv.Itoa(u.Depth)+" "+u.URL+" "+string(u.Class))
	}
	return out
}

// serve answers one request in process.
func serve(s *Sim, u string) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	s.ServeHTTP(w, httptest.NewRequest("GET", u, nil))
	return w
}

// TestCrawlTruthDepthZero: at depth 0, following redirects inside the
// fetch, the truth of every seed is today's home-page expectation, sites
// or not; without following, each seed's chain of depth-0 URLs ends where
// the expectation does.
func TestCrawlTruthDepthZero(t *testing.T) {
	for _, sites := range []float64{0, 1} {
		cfg := cfgN(2000, 1)
		cfg.Sites.Fraction = sites
		s := newSim(t, cfg)
		pol := DefaultCrawlPolicy()
		pol.MaxDepth, pol.FollowRedirects = 0, true
		tr := mustTruth(t, s, pol)
		if len(tr.URLs) != 2000 {
			t.Fatalf("sites %v: %d rows, want one per seed", sites, len(tr.URLs))
		}
		for e := range s.All() {
			row, ok := tr.Get(e.URL)
			if !ok || row.Depth != 0 || row.State != e.State || row.Class != e.Class || row.HTTPStatus != e.HTTPStatus {
				t.Errorf("sites %v, rank %d (%s): truth %+v, expectation %+v", sites, e.Rank, s.Profile(e.Rank).Home, row, e)
			}
		}

		pol.FollowRedirects = false
		tr = mustTruth(t, s, pol)
		for e := range s.All() {
			u := e.URL
			row, _ := tr.Get(u)
			for hops := 0; row.HTTPStatus/100 == 3 && hops < 10; hops++ {
				next := s.fetchModel(u, false).redirect
				if next == u {
					break // a loop: fetched once
				}
				u = next
				var ok bool
				if row, ok = tr.Get(u); !ok || row.Depth != 0 {
					t.Fatalf("rank %d: redirect target %s missing at depth 0: %+v", e.Rank, u, row)
				}
			}
			switch {
			case e.Class == ClassTooManyRedirects:
				if row.Class != ClassOK || row.HTTPStatus/100 != 3 {
					t.Errorf("rank %d: loop ends in %+v", e.Rank, row)
				}
			case u != e.FinalURL || row.State != e.State || row.Class != e.Class:
				t.Errorf("rank %d: chain ends in %s %+v, expectation %+v", e.Rank, u, row, e)
			}
		}
	}
}

// TestSiteHandChecked: tiny sites whose truth is written out by hand.
func TestSiteHandChecked(t *testing.T) {
	s := plainSites(t, 3, 3, "none")
	d := s.Domain(1)
	body := serve(s, "http://"+d+"/").Body.String()
	for _, want := range []string{`<a href="/about">About</a>`, `<a href="/s0/p0.html">link</a>`, `<a href="/s0/p1.html">link</a>`,
		`<a href="/s0/p2.html">link</a>`, "<title>Home of " + d + "</title>"} {
		if !strings.Contains(body, want) {
			t.Errorf("home page lacks %q:\n%s", want, body)
		}
	}
	if strings.Count(body, "<a ") != 4 {
		t.Errorf("home page of a featureless 3-page site has %d links:\n%s", strings.Count(body, "<a "), body)
	}
	pol := DefaultCrawlPolicy()
	pol.Seeds = []int{1}
	got := rowsOf(mustTruth(t, s, pol))
	want := []string{
		"0 http://" + d + "/ ok",
		"1 http://" + d + "/about ok",
		"1 http://" + d + "/s0/p0.html ok",
		"1 http://" + d + "/s0/p1.html ok",
		"1 http://" + d + "/s0/p2.html ok",
	}
	if !slices.Equal(got, want) {
		t.Errorf("featureless site:\n got  %q\n want %q", got, want)
	}

	// With members, nofollow-only pages and sitemaps.
	s = plainSites(t, 3, 3, "members,nofollow,sitemaps")
	d = s.Domain(1)
	robots := serve(s, "http://"+d+"/robots.txt").Body.String()
	if !strings.Contains(robots, "User-agent: *\nDisallow: /members/\n") {
		t.Errorf("robots.txt:\n%s", robots)
	}
	pol.Sitemaps = true
	got = rowsOf(mustTruth(t, s, pol))
	want = []string{
		"0 http://" + d + "/ ok",
		"1 http://" + d + "/about ok",
		"1 http://" + d + "/members/ robots_disallowed",             // linked from the home page, not fetched
		"1 http://" + d + "/members/archive.html robots_disallowed", // listed in the sitemap
		"2 http://" + d + "/members/profile.html robots_disallowed", // linked from page 1
		"2 http://" + d + "/orphan/o0-child.html ok",                // linked from an orphan
		"1 http://" + d + "/orphan/o0.html ok",                      // listed in the sitemap only
		"2 http://" + d + "/orphan/o1-child.html ok",
		"1 http://" + d + "/orphan/o1.html ok",
		"2 http://" + d + "/orphan/o2-child.html ok",
		"1 http://" + d + "/orphan/o2.html ok",
		"1 http://" + d + "/s0/p0.html ok",
		"1 http://" + d + "/s0/p1.html ok",
		"1 http://" + d + "/s0/p2.html ok",
	} // and no /hidden/ page: linked with rel=nofollow only
	if !slices.Equal(got, want) {
		t.Errorf("site with members, nofollow, sitemaps (%s):\n got  %q\n want %q", s.profile(1).sitemap, got, want)
	}
}

// TestSiteFeatureProperties checks each feature's URLs in the truth of one
// site with every feature.
func TestSiteFeatureProperties(t *testing.T) {
	s := plainSites(t, 50, 20, "all")
	r := 1
	d := s.Domain(r)
	g := s.siteGen(ptr(s.profile(r)), d)
	u := func(path string) string { return "http://" + d + path }
	pol := DefaultCrawlPolicy()
	pol.Seeds = []int{r}
	tr := mustTruth(t, s, pol)
	expect := func(tr *Truth, url string, depth int, class Class) {
		t.Helper()
		row, ok := tr.Get(url)
		switch {
		case depth < 0 && ok:
			t.Errorf("%s: in the truth (%+v), want absent", url, row)
		case depth >= 0 && !ok:
			t.Errorf("%s: absent, want depth %d %s", url, depth, class)
		case depth >= 0 && (row.Depth != depth || row.Class != class):
			t.Errorf("%s: %+v, want depth %d %s", url, row, depth, class)
		}
	}
	expect(tr, u("/big/links.html"), 1, ClassOK)
	expect(tr, u(edgeIn), 2, ClassOK) // link number 1,000
	expect(tr, u(edgeOut), -1, "")    // link number 1,001: beyond max_links
	for _, m := range metaPages {
		noindex, nofollow := (&sresp{meta: [2]string{m.name, m.content}, xrobot: m.header}).robotsDirectives()
		row, _ := tr.Get(u(m.path))
		if row.NoIndex != noindex {
			t.Errorf("%s: noindex %v, want %v", m.path, row.NoIndex, noindex)
		}
		if nofollow {
			expect(tr, u(metaChild(m.path)), -1, "")
		} else {
			expect(tr, u(metaChild(m.path)), 2, ClassOK)
		}
	}
	expect(tr, u("/meta/otherbot-child.html"), 2, ClassOK) // another crawler's meta tag
	expect(tr, u("/hidden/h0.html"), -1, "")
	expect(tr, u("/hidden/h1.html"), -1, "")
	expect(tr, u(membersDir), 1, ClassRobotsDisallowed)
	expect(tr, u("/members/secret.html"), 1, ClassRobotsDisallowed) // via /go/members
	expect(tr, u("/members/login.html"), -1, "")                    // only on the unfetched /members/
	expect(tr, u(loopPath(1)), 1, ClassOK)
	expect(tr, u(loopPath(2)), 2, ClassOK)
	expect(tr, u(loopPath(3)), -1, "") // en three times
	expect(tr, u(deepPath(1)), 1, ClassOK)
	expect(tr, u(deepPath(2)), 2, ClassOK)
	expect(tr, u(deepPath(3)), -1, "") // 22 segments
	expect(tr, u(growPrefix+g.growToken(0)), 1, ClassOK)
	expect(tr, u(growPrefix+g.growToken(1)), 2, ClassOK)
	expect(tr, u(growPrefix+g.growToken(2)), -1, "") // 2,5xx bytes
	for k := range shopItems {
		expect(tr, u(shopItem(k)), 2, ClassOK)
	}
	expect(tr, u("/search?page=1&q="+g.word()), 1, ClassOK)
	expect(tr, u("/search?page=3&q="+g.word()), 3, ClassOK)
	expect(tr, u("/based/t1.html"), 2, ClassOK)
	expect(tr, u("/based/sub/t2.html"), 2, ClassOK)
	expect(tr, u("/embed/video.html"), 2, ClassOK)
	expect(tr, u("/embed/area.html"), 2, ClassOK)
	expect(tr, u("/frames/left.html"), 2, ClassOK)
	expect(tr, u("/frames/right.html"), 2, ClassOK)
	expect(tr, u("/files/report.pdf"), 1, ClassOK)
	expect(tr, u("/data/feed.json"), 1, ClassOK)
	expect(tr, u(removed), 1, ClassHTTP4xx)
	expect(tr, u(missing), 2, ClassHTTP4xx)
	expect(tr, u("/go/loop"), 1, ClassOK)
	expect(tr, "http://www."+d+"/s0/p0.html", 1, ClassOK) // www alias: 301 to the domain, in domain scope
	y, m := s.calendarStart(r)
	cal := 0
	for _, row := range tr.URLs {
		if strings.Contains(row.URL, calPrefix) {
			cal++
		}
	}
	if cal != 5 {
		t.Errorf("%d calendar months at depth 3 from %d-%d, want 5", cal, y, m)
	}
	for _, row := range tr.URLs {
		c, err := Canonical(row.URL)
		if err != nil || c != row.URL {
			t.Errorf("truth URL %s is not canonical (%s, %v)", row.URL, c, err)
		}
		if hostOf(row.URL) != d && hostOf(row.URL) != "www."+d {
			t.Errorf("domain scope admitted %s", row.URL)
		}
		for _, junk := range []string{"/wrong/", "commented", "scripted", "/static/", "logo.png", "json-only", "pdf-only", "/orphan/"} {
			if strings.Contains(row.URL, junk) {
				t.Errorf("truth holds %s", row.URL)
			}
		}
	}

	// Changing one knob changes what it should.
	pol.MaxLinks = bigLinks
	expect(mustTruth(t, s, pol), u(edgeOut), 2, ClassOK)
	pol.MaxLinks = DefaultCrawlPolicy().MaxLinks
	pol.Scope = ScopeHost
	trh := mustTruth(t, s, pol)
	expect(trh, "http://www."+d+"/s0/p0.html", -1, "")
	pol.Scope = ScopeAny
	tra := mustTruth(t, s, pol)
	expect(tra, "http://"+s.Domain(g.otherRank(0))+"/", 1, ClassOK)
	expect(tra, "http://nowhere-"+strconv.Itoa(r)+".invalid/x.html", 1, ClassDNSNotFound)
	expect(tra, "https://secure-"+strconv.Itoa(r)+".invalid/login", 1, ClassDNSNotFound)
	if len(tra.URLs) <= len(tr.URLs) {
		t.Errorf("scope any: %d URLs, domain: %d", len(tra.URLs), len(tr.URLs))
	}
	pol.Scope, pol.MaxURLLength, pol.MaxDepth = ScopeDomain, 0, 10
	trl := mustTruth(t, s, pol)
	expect(trl, u(growPrefix+g.growToken(3)), 4, ClassOK)
	if l := len(u(growPrefix + g.growToken(4))); l <= HardURLLimit {
		t.Errorf("the longest /grow/ URL has %d bytes, want more than %d", l, HardURLLimit)
	}
	expect(trl, u(growPrefix+g.growToken(4)), -1, "")
}

func ptr[T any](v T) *T { return &v }

// TestTrapsTerminate: under the guards, no trap grows with the depth;
// without them the server's own bounds end them; the calendar, which no
// guard catches, grows linearly with the depth and is cut by the budget.
func TestTrapsTerminate(t *testing.T) {
	s := plainSites(t, 3, 2, "repeat,deep,longurl,sessions,calendar")
	count := func(tr *Truth, prefix string) int {
		n := 0
		for _, u := range tr.URLs {
			if strings.Contains(u.URL, prefix) {
				n++
			}
		}
		return n
	}
	pol := DefaultCrawlPolicy()
	pol.Seeds = []int{1}
	for _, depth := range []int{10, 300} {
		pol.MaxDepth = depth
		tr := mustTruth(t, s, pol)
		for prefix, want := range map[string]int{loopPrefix: 2, deepPrefix: 2, growPrefix: 2, shopDir: 5, calPrefix: 2*depth - 1} {
			if got := count(tr, prefix); got != want {
				t.Errorf("guards on, depth %d: %d URLs under %s, want %d", depth, got, prefix, want)
			}
		}
	}
	pol.MaxURLLength, pol.MaxPathSegments, pol.MaxRepeatedSegments, pol.MaxDepth = 0, 0, 0, 100
	tr := mustTruth(t, s, pol)
	for prefix, want := range map[string]int{loopPrefix: loopMax, deepPrefix: deepMax, growPrefix: growSteps, shopDir: 5} {
		if got := count(tr, prefix); got != want {
			t.Errorf("guards off: %d URLs under %s, want %d", got, prefix, want)
		}
	}
	pol.SiteBudget = 50
	tr = mustTruth(t, s, pol)
	if tr.Exact() || len(tr.OverBudget) != 1 || tr.OverBudget[0].Site != s.Domain(1) || tr.OverBudget[0].URLs != len(tr.URLs) {
		t.Errorf("budget 50: over budget %v (%d URLs)", tr.OverBudget, len(tr.URLs))
	}
}

// TestCrawlTruthWrite: the streamed CSV (one seed at a time for host and
// domain scope) holds exactly CrawlTruth's rows and reads back.
func TestCrawlTruthWrite(t *testing.T) {
	cfg := crossCheckConfig(40)
	s := newSim(t, cfg)
	for _, scope := range []Scope{ScopeHost, ScopeDomain, ScopeAny} {
		pol := DefaultCrawlPolicy()
		pol.Scope, pol.Sitemaps, pol.MaxDepth = scope, true, 2
		tr := mustTruth(t, s, pol)
		var b bytes.Buffer
		if err := s.WriteCrawlTruth(&b, pol); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(b.String(), "url,depth,state,class,http_status,noindex\n") {
			t.Fatalf("header: %q", b.String()[:60])
		}
		rows, err := ReadCrawlTruth(&b)
		if err != nil {
			t.Fatal(err)
		}
		slices.SortFunc(rows, func(a, b TruthURL) int { return strings.Compare(a.URL, b.URL) })
		if !slices.Equal(rows, tr.URLs) {
			t.Errorf("scope %s: written %d rows, CrawlTruth %d", scope, len(rows), len(tr.URLs))
		}
		if len(tr.NotRequested())+len(tr.Fetched()) != len(tr.URLs) || len(tr.NotRequested()) == 0 {
			t.Errorf("scope %s: %d fetched, %d not requested of %d", scope, len(tr.Fetched()), len(tr.NotRequested()), len(tr.URLs))
		}
	}
}

func TestReadCrawlTruthErrors(t *testing.T) {
	const head = "url,depth,state,class,http_status,noindex\n"
	cases := []struct{ in, want string }{
		{"", "missing header"},
		{"url,depth\n", "line 1"},
		{head + "http://a.test/,x,done,ok,200,false\n", "line 2: depth"},
		{head + "http://a.test/,1,done,ok,2000,false\n", "line 2: http_status"},
		{head + "http://a.test/,1,done,ok,200,maybe\n", "line 2: noindex"},
		{head + "a.test/,1,done,ok,200,false\n", "line 2: url"},
		{head + "http://a.test/,1,finished,ok,200,false\n", "line 2: state"},
		{head + "http://a.test/,1,done,fine,200,false\n" + "x", "line 2: class"},
		{head + "http://a.test/,1,done,ok,200,false\nhttp://a.test/x,1\n", "line 3"},
	}
	for _, c := range cases {
		if _, err := ReadCrawlTruth(strings.NewReader(c.in)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ReadCrawlTruth(%q): %v, want %q", c.in, err, c.want)
		}
	}
	rows, err := ReadCrawlTruth(strings.NewReader(head + "http://a.test/,0,failed,robots_disallowed,0,false\n"))
	if err != nil || len(rows) != 1 || rows[0].Requested() {
		t.Errorf("good row: %+v, %v", rows, err)
	}
}

func TestParseCrawlPolicy(t *testing.T) {
	p, err := ParseCrawlPolicy("scope=host,depth=5,budget=7,max_links=9,max_url_length=100,max_path_segments=4,max_repeated_segments=3,sitemaps=true,seeds=3")
	want := CrawlPolicy{Seeds: []int{1, 2, 3}, Scope: ScopeHost, MaxDepth: 5, SiteBudget: 7, MaxLinks: 9, MaxURLLength: 100,
		MaxPathSegments: 4, MaxRepeatedSegments: 3, Sitemaps: true}
	if err != nil || p.String() != want.String() || !slices.Equal(p.Seeds, want.Seeds) {
		t.Fatalf("ParseCrawlPolicy: %+v, %v", p, err)
	}
	again, err := ParseCrawlPolicy(strings.Replace(p.String(), ",seeds=3", "", 1))
	if err != nil || again.String() != strings.Replace(p.String(), ",seeds=3", "", 1) {
		t.Errorf("String does not round-trip: %s -> %s (%v)", p, again, err)
	}
	if p, _ := ParseCrawlPolicy("depth=0"); !p.FollowRedirects {
		t.Error("depth 0 should follow redirects by default")
	}
	if p, _ := ParseCrawlPolicy(""); p.String() != DefaultCrawlPolicy().String() {
		t.Errorf("empty spec: %s", p)
	}
	for _, bad := range []string{"scope=planet", "depth=-1", "depth=x", "nope=1", "sitemaps=maybe", "depth"} {
		if _, err := ParseCrawlPolicy(bad); err == nil {
			t.Errorf("ParseCrawlPolicy(%q) accepted", bad)
		}
	}
	s := newSim(t, cfgN(5, 1))
	if _, err := s.CrawlTruth(CrawlPolicy{Scope: ScopeAny, Seeds: []int{6}}); err == nil {
		t.Error("a seed beyond Domains accepted")
	}
}

// TestSitesKeepPlainDomains: turning sites on changes neither any
// expectation nor a byte served by a domain that is not a site.
func TestSitesKeepPlainDomains(t *testing.T) {
	plain := newSim(t, cfgN(2000, 1))
	cfg := cfgN(2000, 1)
	cfg.Sites.Fraction = 0.5
	sites := newSim(t, cfg)
	nSites, checked := 0, 0
	for r := 1; r <= 2000; r++ {
		if plain.Expect(r) != sites.Expect(r) {
			t.Fatalf("rank %d: expectation changed by sites", r)
		}
		p := sites.Profile(r)
		if p.Site {
			nSites++
			continue
		}
		if p.Home == HomeHang || p.Home == HomeHuge || p.Home == HomeUnknownHost || p.Robots == RobotsHang ||
			p.Robots == RobotsSlow || p.Home == HomeFlaky {
			continue
		}
		for _, path := range []string{"/", "/robots.txt", "/about", "/sitemap.xml", "/s0/p0.html"} {
			a, b := serve(plain, "http://"+p.Domain+path), serve(sites, "http://"+p.Domain+path)
			if a.Code != b.Code || a.Body.String() != b.Body.String() {
				t.Fatalf("rank %d %s: %d %q with sites, %d %q without", r, path, b.Code, b.Body.String(), a.Code, a.Body.String())
			}
			checked++
		}
	}
	if nSites < 600 || nSites > 1000 || checked == 0 {
		t.Errorf("%d sites of 2000 at fraction 0.5 (eligible ~80%%), %d responses compared", nSites, checked)
	}
}

// TestSiteDeterminism: the same configuration gives the same graph and
// truth; another seed another one.
func TestSiteDeterminism(t *testing.T) {
	truthCSV := func(seed int64) string {
		cfg := crossCheckConfig(30)
		cfg.Seed = seed
		s := newSim(t, cfg)
		var b bytes.Buffer
		pol := DefaultCrawlPolicy()
		pol.Sitemaps = true
		if err := s.WriteCrawlTruth(&b, pol); err != nil {
			t.Fatal(err)
		}
		for _, r := range s.Sites()[:3] {
			for _, path := range []string{"/", "/s0/p0.html", "/links.html", bigPage, "/robots.txt", sitemapXML} {
				b.WriteString(serve(s, "http://"+s.Domain(r)+path).Body.String())
			}
		}
		return b.String()
	}
	a, b, c := truthCSV(5), truthCSV(5), truthCSV(6)
	if a != b {
		t.Fatal("the same seed gave different graphs")
	}
	if a == c {
		t.Fatal("different seeds gave the same graph")
	}
}
