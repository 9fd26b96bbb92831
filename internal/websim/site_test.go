package websim

import (
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/publicsuffix"
)

func TestCanonical(t *testing.T) {
	cases := []struct{ in, want string }{
		{"http://w1-a.test/s0/p1.html", "http://w1-a.test/s0/p1.html"},
		{"HTTP://W1-A.TEST:80/s0/p1.html", "http://w1-a.test/s0/p1.html"},
		{"http://w1-a.test./", "http://w1-a.test/"},
		{"http://w1-a.test../x", "http://w1-a.test/x"},
		{"http://w1-a.test", "http://w1-a.test/"},
		{"https://x.invalid:443/login", "https://x.invalid/login"},
		{"http://x.test:8080/", "http://x.test:8080/"},
		{"http://w1-a.test/s0/p1.html#section-2", "http://w1-a.test/s0/p1.html"},
		{"http://w1-a.test/z/../s0/./p1.html", "http://w1-a.test/s0/p1.html"},
		{"http://w1-a.test/a/b/../../..", "http://w1-a.test/"},
		{"http://w1-a.test/cal/2026/11/../12/", "http://w1-a.test/cal/2026/12/"},
		{"http://w1-a.test/s0/p1.html;jsessionid=ABC123", "http://w1-a.test/s0/p1.html"},
		{"http://w1-a.test/shop/;JSESSIONID=abc?x=1", "http://w1-a.test/shop/?x=1"},
		{"http://w1-a.test/a;jsessionid=1;v=2/b", "http://w1-a.test/a;v=2/b"},
		{"http://w1-a.test/search?q=maple&page=2", "http://w1-a.test/search?page=2&q=maple"},
		{"http://w1-a.test/search?sid=0a&q=maple&PHPSESSID=1&page=2&SessionId=x", "http://w1-a.test/search?page=2&q=maple"},
		{"http://w1-a.test/x?b=2&a=1&b=1&&", "http://w1-a.test/x?a=1&b=2&b=1"},
		{"http://w1-a.test/x?sid=1", "http://w1-a.test/x"},
		{"http://w1-a.test/x?", "http://w1-a.test/x"},
		{"http://w1-a.test/x?aspsessionid=1&cfid=2&cftoken=3&jsessionid=4&y", "http://w1-a.test/x?y"},
	}
	for _, c := range cases {
		got, err := Canonical(c.in)
		if err != nil || got != c.want {
			t.Errorf("Canonical(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
		if again, _ := Canonical(got); again != got {
			t.Errorf("Canonical not idempotent on %q: %q", got, again)
		}
	}
	for _, bad := range []string{"", "/relative", "mailto:a@b", "ftp://x.test/", "javascript:void(0)", "http://", "http:///x", "%zz", "http://./"} {
		if got, err := Canonical(bad); err == nil {
			t.Errorf("Canonical(%q) = %q, want an error", bad, got)
		}
	}
	resolved := []struct{ base, href, want string }{
		{"http://w1-a.test/s0/p1.html", "../s1/p12.html", "http://w1-a.test/s1/p12.html"},
		{"http://w1-a.test/s0/p1.html", "./", "http://w1-a.test/s0/"},
		{"http://w1-a.test/s0/p1.html", "", "http://w1-a.test/s0/p1.html"},
		{"http://w1-a.test/s0/p1.html", "#top", "http://w1-a.test/s0/p1.html"},
		{"http://w1-a.test/s0/p1.html", "//W1-A.test:80/x", "http://w1-a.test/x"},
		{"http://w1-a.test/shop/item1.html", "./?sid=77", "http://w1-a.test/shop/"},
		{"http://w1-a.test/loop/en/", "en/", "http://w1-a.test/loop/en/en/"},
		{"http://w1-a.test/based/", "../s0/p0.html", "http://w1-a.test/s0/p0.html"},
	}
	for _, c := range resolved {
		if got, err := ResolveCanonical(c.base, c.href); err != nil || got != c.want {
			t.Errorf("ResolveCanonical(%q, %q) = %q, %v; want %q", c.base, c.href, got, err, c.want)
		}
	}
}

func FuzzCanonical(f *testing.F) {
	for _, s := range []string{"http://W1-A.TEST:80/a/./b/../c;jsessionid=1?b=2&a=1&sid=3#f", "https://x.invalid:443", "http://a.test/%41?%62=1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		c, err := Canonical(in)
		if err != nil {
			return
		}
		again, err := Canonical(c)
		if err != nil || again != c {
			t.Fatalf("Canonical(%q) = %q, then %q, %v", in, c, again, err)
		}
	})
}

// TestRegistrableDomain: websim's own rule agrees with the Public Suffix
// List for every kind of host websim serves or links.
func TestRegistrableDomain(t *testing.T) {
	s := newSim(t, cfgN(2000, 1))
	hosts := []string{"nowhere-5.invalid", "secure-7.invalid"}
	for r := 1; r <= 200; r++ {
		d := s.Domain(r)
		hosts = append(hosts, d, "www."+d)
	}
	for _, h := range hosts {
		want, err := publicsuffix.EffectiveTLDPlusOne(h)
		if err != nil || registrableDomain(h) != want {
			t.Errorf("registrableDomain(%q) = %q, publicsuffix %q (%v)", h, registrableDomain(h), want, err)
		}
	}
}

func TestGuards(t *testing.T) {
	p := DefaultCrawlPolicy()
	cases := []struct {
		url    string
		refuse bool
	}{
		{"http://a.test/loop/en/en/", false},
		{"http://a.test/loop/en/en/en/", true},
		{"http://a.test/x/a/y/a/z/a", true}, // not consecutive: still three times
		{"http://a.test/" + strings.Repeat("s/", 0) + strings.Repeat("d/", 1), false},
		{"http://a.test/1/2/3/4/5/6/7/8/9/10/11/12/13/14/15/16/17/18/19/20/", false},
		{"http://a.test/1/2/3/4/5/6/7/8/9/10/11/12/13/14/15/16/17/18/19/20/21", true},
		{"http://a.test/" + strings.Repeat("x", 2048-len("http://a.test/")), false},
		{"http://a.test/" + strings.Repeat("x", 2049-len("http://a.test/")), true},
	}
	for _, c := range cases {
		if got := p.refuses(c.url); got != c.refuse {
			t.Errorf("refuses(%.60q) = %v, want %v", c.url, got, c.refuse)
		}
	}
	off := CrawlPolicy{}
	if off.refuses("http://a.test/a/a/a/a/" + strings.Repeat("x", 3000)) {
		t.Error("no guards, yet refused")
	}
	if !off.refuses("http://a.test/" + strings.Repeat("x", HardURLLimit)) {
		t.Error("the hard limit does not hold without guards")
	}
}

func TestParseSiteFlags(t *testing.T) {
	var c SiteConfig
	for spec, want := range map[string]SiteConfig{
		"all": {Fraction: 1}, "none": {}, "0": {}, "0.25": {Fraction: 0.25}, "30%": {Fraction: 0.3}, "500": {Count: 500}, "1.0": {Fraction: 1},
	} {
		if err := ParseSites(spec, &c); err != nil || c.Fraction != want.Fraction || c.Count != want.Count {
			t.Errorf("ParseSites(%q) = %+v, %v", spec, c, err)
		}
	}
	for _, bad := range []string{"x", "-1", "1.5", "200%", ""} {
		if err := ParseSites(bad, &c); err == nil {
			t.Errorf("ParseSites(%q) accepted", bad)
		}
	}
	c = DefaultSiteConfig()
	if err := ParseSitePages("20", &c); err != nil || c.PagesMean != 20 || c.PagesSigma != 1 {
		t.Errorf("ParseSitePages(20): %+v %v", c, err)
	}
	if err := ParseSitePages("mean=50,sigma=0,max=70", &c); err != nil || c.PagesMean != 50 || c.PagesSigma != 0 || c.PagesMax != 70 {
		t.Errorf("ParseSitePages: %+v %v", c, err)
	}
	for _, bad := range []string{"mean=x", "sigma=a", "max=1.5", "avg=3", "lots"} {
		if err := ParseSitePages(bad, &c); err == nil {
			t.Errorf("ParseSitePages(%q) accepted", bad)
		}
	}
	for spec, want := range map[string]SiteFeatures{
		"all": 0, "": 0, "none": allFeatures,
		"calendar,bigpage": allFeatures &^ (FeatureCalendar | FeatureBigPage),
		"-calendar,-junk":  FeatureCalendar | FeatureJunk,
	} {
		if got, err := ParseSiteFeatures(spec); err != nil || got != want {
			t.Errorf("ParseSiteFeatures(%q) = %s, %v; want without %s", spec, got, err, want)
		}
	}
	for _, bad := range []string{"calendars", "calendar,-junk", "-"} {
		if _, err := ParseSiteFeatures(bad); err == nil {
			t.Errorf("ParseSiteFeatures(%q) accepted", bad)
		}
	}
	if names := SiteFeatureNames(); len(names) != numFeatures || allFeatures.String() != strings.Join(names, ",") {
		t.Errorf("feature names %v", names)
	}
}

func TestSiteConfigValidation(t *testing.T) {
	bad := []SiteConfig{
		{Fraction: 1.5}, {Fraction: -0.1}, {Count: -1}, {Fraction: 0.5, Count: 3}, {Fraction: 1, PagesMean: 0.5},
		{Fraction: 1, PagesSigma: -1}, {Fraction: 1, PagesMax: MaxSitePages + 1}, {Fraction: 1, CrawlDelay: -1},
		{Fraction: 1, Without: 1 << 30}, {Fraction: math.NaN()},
	}
	for _, sc := range bad {
		if _, err := New(Config{Domains: 10, Sites: sc}); err == nil {
			t.Errorf("New accepted sites %+v", sc)
		}
	}
	if _, err := New(Config{Domains: 10, TimelineSize: -1}); err == nil {
		t.Error("New accepted a negative TimelineSize")
	}
	s := newSim(t, Config{Domains: 10, Sites: SiteConfig{Fraction: 1}})
	if c := s.Config().Sites; c.PagesMean != DefaultSitePagesMean || c.PagesMax != DefaultSitePagesMax || c.PagesSigma != 0 {
		t.Errorf("defaults: %+v", c)
	}
}

// TestSiteSelection: the fraction, the count and the eligibility rule.
func TestSiteSelection(t *testing.T) {
	cfg := cfgN(5000, 2)
	cfg.Sites.Fraction = 1
	s := newSim(t, cfg)
	for r := 1; r <= 5000; r++ {
		p := s.Profile(r)
		if p.Site != siteEligible(p.Home) {
			t.Fatalf("rank %d (%s): site %v with fraction 1", r, p.Home, p.Site)
		}
	}
	cfg.Sites = SiteConfig{Count: 100}
	s = newSim(t, cfg)
	sites := s.Sites()
	if len(sites) != 100 {
		t.Fatalf("count 100: %d sites", len(sites))
	}
	for r := 1; r <= sites[99]; r++ {
		if p := s.Profile(r); p.Site != siteEligible(p.Home) {
			t.Fatalf("count mode: rank %d (%s) site %v", r, p.Home, p.Site)
		}
	}
	cfg.Sites = SiteConfig{Fraction: 0.3}
	s = newSim(t, cfg)
	eligible := 0
	for r := 1; r <= 5000; r++ {
		if h, _ := s.kinds(r); siteEligible(h) {
			eligible++
		}
	}
	if got, want := float64(len(s.Sites())), 0.3*float64(eligible); math.Abs(got-want) > 4*math.Sqrt(want) {
		t.Errorf("fraction 0.3: %v sites of %d eligible", got, eligible)
	}
	if _, ok := s.Site(0); ok {
		t.Error("Site(0) ok")
	}
}

// TestSitePages: the page count follows the configured distribution.
func TestSitePages(t *testing.T) {
	cfg := Config{Domains: 20000, Seed: 1, Sites: SiteConfig{Fraction: 1, PagesMean: 50, PagesSigma: 1, PagesMax: 100000}}
	s := newSim(t, cfg)
	var sum float64
	var counts []int
	for r := 1; r <= 20000; r++ {
		info, _ := s.Site(r)
		sum += float64(info.Pages)
		counts = append(counts, info.Pages)
	}
	slices.Sort(counts)
	mean, median := sum/20000, counts[10000]
	if mean < 46 || mean > 54 || median < 27 || median > 34 || counts[19999] < 400 {
		t.Errorf("pages: mean %.1f (want ~50), median %d (want ~30), max %d (want a long tail)", mean, median, counts[19999])
	}
	cfg.Sites.PagesMax = 120
	s = newSim(t, cfg)
	for r := 1; r <= 20000; r++ {
		if info, _ := s.Site(r); info.Pages < 1 || info.Pages > 120 {
			t.Fatalf("rank %d: %d pages, max 120", r, info.Pages)
		}
	}
	cfg.Sites.PagesSigma = 0
	s = newSim(t, cfg)
	for r := 1; r <= 100; r++ {
		if info, _ := s.Site(r); info.Pages != 50 {
			t.Fatalf("sigma 0: rank %d has %d pages", r, info.Pages)
		}
	}
}

// TestSiteRobots: a site's robots.txt, its Crawl-delay knob, and the
// robots kinds that keep their own body.
func TestSiteRobots(t *testing.T) {
	cfg := testConfig(2000)
	cfg.Sites = SiteConfig{Fraction: 1, PagesMean: 5, CrawlDelay: 1500 * time.Millisecond}
	s := newSim(t, cfg)
	seen := map[RobotsKind]bool{}
	for _, r := range s.Sites() {
		p := s.profile(r)
		if seen[p.robots] || p.robots == RobotsHang {
			continue
		}
		seen[p.robots] = true
		d := p.domain()
		w := serve(s, "http://"+d+"/robots.txt")
		body := w.Body.String()
		switch p.robots {
		case RobotsAllowAll, RobotsDisallowSome, RobotsCrawlDelay, RobotsSlow:
			if !strings.Contains(body, "User-agent: *\nDisallow: /members/\n") || !strings.Contains(body, "Crawl-delay: 1.5\n") ||
				!strings.HasPrefix(body, "User-agent: examplebot\nDisallow: /\n") {
				t.Errorf("%s robots.txt:\n%s", p.robots, body)
			}
			if (p.robots == RobotsDisallowSome) != strings.Contains(body, "Disallow: /private/\n") {
				t.Errorf("%s robots.txt:\n%s", p.robots, body)
			}
			g := s.siteGen(&p, d)
			sm := g.robotsSitemap()
			if (sm != "") != strings.Contains(body, "\nSitemap: "+sm+"\n") {
				t.Errorf("%s robots.txt (sitemap %q):\n%s", p.robots, sm, body)
			}
			if s.CrawlDelay(d) != 1500*time.Millisecond || s.CrawlDelay("WWW."+d+":80") != 1500*time.Millisecond {
				t.Errorf("%s: CrawlDelay %v", p.robots, s.CrawlDelay(d))
			}
		case RobotsDisallowAll:
			if body != string(robotsDisallowAll) || s.CrawlDelay(d) != 0 {
				t.Errorf("disallow_all: %q, delay %v", body, s.CrawlDelay(d))
			}
		case RobotsNotFound, RobotsServerError:
			if w.Code < 400 || s.CrawlDelay(d) != 0 {
				t.Errorf("%s: status %d, delay %v", p.robots, w.Code, s.CrawlDelay(d))
			}
		}
	}
	if !seen[RobotsSlow] || !seen[RobotsNotFound] {
		t.Errorf("kinds seen: %v", seen)
	}
	if s.CrawlDelay("nobody.test") != 0 {
		t.Error("delay for an unknown host")
	}
	// Without the knob only the crawl_delay kind advertises one.
	plain := newSim(t, cfgN(2000, 1))
	for r := 1; r <= 2000; r++ {
		p := plain.Profile(r)
		if want := p.Robots == RobotsCrawlDelay; (plain.CrawlDelay(p.Domain) == time.Second) != want {
			t.Fatalf("rank %d (%s): CrawlDelay %v", r, p.Robots, plain.CrawlDelay(p.Domain))
		}
	}
}

// TestSiteRequestCounting: site pages are counted by path and query as
// received; regular pages by their compact key, listed all the same.
func TestSiteRequestCounting(t *testing.T) {
	s := startSim(t, Config{Domains: 3, Seed: 1, Sites: SiteConfig{Fraction: 1, PagesMean: 5}})
	c := testClient(t, s.Addr(), 5*time.Second)
	d := s.Domain(1)
	w := words[s.profile(1).word]
	for _, u := range []string{"/s0/p1.html", "/s0/p1.html", "/s0/p1.html?sid=1", "/search?page=1&q=" + w,
		"/search?q=" + w + "&page=1", "/s0/p1.html;jsessionid=X", "/s0/p9.html"} {
		mustGet(t, c, "http://"+d+u)
	}
	mustGet(t, c, "http://www."+d+"/s0/p1.html")
	want := []RequestCount{
		{d, "/s0/p1.html", 2}, {d, "/s0/p1.html;jsessionid=X", 1}, {d, "/s0/p1.html?sid=1", 1}, {d, "/s0/p9.html", 1},
		{d, "/search?page=1&q=" + w, 1}, {d, "/search?q=" + w + "&page=1", 1}, {"www." + d, "/s0/p1.html", 1},
	}
	if got := s.RequestCounts(); !slices.Equal(got, want) {
		t.Errorf("RequestCounts:\n got  %v\n want %v", got, want)
	}
	for _, rc := range want {
		if n := s.Requests(rc.Host, rc.Path); n != rc.Count {
			t.Errorf("Requests(%s, %s) = %d, want %d", rc.Host, rc.Path, n, rc.Count)
		}
	}
	// Every form is served as its canonical page.
	for _, u := range []string{"/s0/p1.html?sid=1", "/s0/p1.html;jsessionid=X", "/search?q=" + w + "&page=1&PHPSESSID=z"} {
		if resp, body := mustGet(t, c, "http://"+d+u); resp.StatusCode != 200 || !strings.Contains(string(body), "<title>") {
			t.Errorf("%s: %d", u, resp.StatusCode)
		}
	}
	if resp, _ := mustGet(t, c, "http://"+d+"/s0/p1.html?x=1"); resp.StatusCode != 404 {
		t.Errorf("an unknown parameter: %d", resp.StatusCode)
	}
	if resp, _ := mustGet(t, c, "http://www."+d+"/s0/p1.html?sid=2&a=1"); resp.StatusCode != 301 ||
		resp.Header.Get("Location") != "http://"+d+"/s0/p1.html?a=1" {
		t.Errorf("www alias: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
}

// TestSiteLatency: site pages wait out the latency model like every path.
func TestSiteLatency(t *testing.T) {
	cfg := Config{Domains: 3, Seed: 1, LatencyMedian: 30 * time.Millisecond, Sites: SiteConfig{Fraction: 1, PagesMean: 5}}
	s := startSim(t, cfg)
	c := testClient(t, s.Addr(), 5*time.Second)
	for _, path := range []string{"/s0/p1.html", "/links.html", "/sitemap.xml?x"} {
		start := time.Now()
		mustGet(t, c, "http://"+s.Domain(1)+path)
		if el := time.Since(start); el < 30*time.Millisecond {
			t.Errorf("%s answered after %v, want >= 30ms", path, el)
		}
	}
}
