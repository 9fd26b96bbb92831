package admit

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/crawlmaster/crawlmaster/crawl/netguard"
	"github.com/crawlmaster/crawlmaster/crawl/urlnorm"
	"github.com/crawlmaster/crawlmaster/master/frontier"
)

func policy(t testing.TB, edit func(*frontier.Crawl)) *Policy {
	t.Helper()
	c := frontier.Crawl{Name: "t", Scope: frontier.ScopeDomain, MaxDepth: 3, SiteBudget: 100, MaxLinks: 100,
		MaxURLLength: 2048, MaxPathSegments: 20, MaxRepeatedSegments: 2}
	if edit != nil {
		edit(&c)
	}
	p, err := Compile(c)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLinks(t *testing.T) {
	long := "http://a.example.com/" + strings.Repeat("x", 2100)
	cases := []struct {
		name   string
		edit   func(*frontier.Crawl)
		parent Parent
		link   Link
		want   string // the admitted URL, or "refused:<reason>"
		depth  int16
	}{
		{"anchor on the seed's site", nil, Parent{1, "a.example.com"}, Link{"HTTP://A.Example.com:80/x/./y#f", Anchor}, "http://a.example.com/x/y", 2},
		{"subdomain is in domain scope", nil, Parent{0, "a.example.com"}, Link{"http://www.example.com/", Anchor}, "http://www.example.com/", 1},
		{"frame counts like an anchor", nil, Parent{0, "example.com"}, Link{"http://example.com/f", Frame}, "http://example.com/f", 1},
		{"redirect keeps the depth", nil, Parent{3, "example.com"}, Link{"http://example.com/moved", Redirect}, "http://example.com/moved", 3},
		{"a seed's redirect target is a seed", func(c *frontier.Crawl) { c.Scope = frontier.ScopeHost }, Parent{0, "example.com"}, Link{"http://www.example.com/", Redirect}, "http://www.example.com/", 0},
		{"a deeper redirect is scope-checked", func(c *frontier.Crawl) { c.Scope = frontier.ScopeHost }, Parent{1, "example.com"}, Link{"http://www.example.com/", Redirect}, "refused:scope", 0},
		{"sitemap URLs are depth 1", nil, Parent{0, "example.com"}, Link{"http://example.com/s", Sitemap}, "http://example.com/s", 1},
		{"too deep", nil, Parent{3, "example.com"}, Link{"http://example.com/d", Anchor}, "refused:depth", 0},
		{"other site out of domain scope", nil, Parent{0, "example.com"}, Link{"http://other.org/", Anchor}, "refused:scope", 0},
		{"a.co.uk and b.co.uk are two sites", nil, Parent{0, "a.co.uk"}, Link{"http://b.co.uk/", Anchor}, "refused:scope", 0},
		{"host scope refuses a subdomain", func(c *frontier.Crawl) { c.Scope = frontier.ScopeHost }, Parent{0, "example.com"}, Link{"http://www.example.com/", Anchor}, "refused:scope", 0},
		{"host scope keeps the seed's host", func(c *frontier.Crawl) { c.Scope = frontier.ScopeHost }, Parent{1, "example.com"}, Link{"http://example.com/p", Anchor}, "http://example.com/p", 2},
		{"any scope", func(c *frontier.Crawl) { c.Scope = frontier.ScopeAny }, Parent{0, "example.com"}, Link{"http://other.org/", Anchor}, "http://other.org/", 1},
		{"not http", nil, Parent{0, "example.com"}, Link{"mailto:x@example.com", Anchor}, "refused:invalid", 0},
		{"javascript", nil, Parent{0, "example.com"}, Link{"javascript:void(0)", Anchor}, "refused:invalid", 0},
		{"url length guard", nil, Parent{0, "a.example.com"}, Link{long, Anchor}, "refused:url_length", 0},
		{"path segment guard", nil, Parent{0, "example.com"}, Link{"http://example.com" + pathOf(21), Anchor}, "refused:path_segments", 0},
		{"twenty segments pass", nil, Parent{0, "example.com"}, Link{"http://example.com" + pathOf(20), Anchor}, "http://example.com" + pathOf(20), 1},
		{"repeated segment guard", nil, Parent{0, "example.com"}, Link{"http://example.com/a/b/a/c/a/", Anchor}, "refused:repeated_segments", 0},
		{"a segment twice passes", nil, Parent{0, "example.com"}, Link{"http://example.com/a/b/a/", Anchor}, "http://example.com/a/b/a/", 1},
		{"deny", func(c *frontier.Crawl) { c.Deny = []string{`/private/`} }, Parent{0, "example.com"}, Link{"http://example.com/private/x", Anchor}, "refused:pattern", 0},
		{"allow misses", func(c *frontier.Crawl) { c.Allow = []string{`/docs/`} }, Parent{0, "example.com"}, Link{"http://example.com/blog/x", Anchor}, "refused:pattern", 0},
		{"allow matches", func(c *frontier.Crawl) { c.Allow = []string{`/docs/`} }, Parent{0, "example.com"}, Link{"http://example.com/docs/x", Anchor}, "http://example.com/docs/x", 1},
		{"session id dropped", nil, Parent{0, "example.com"}, Link{"http://example.com/p?b=1&sid=99&a=2", Anchor}, "http://example.com/p?a=2&b=1", 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var refused Refused
			got := policy(t, c.edit).Links(c.parent, []Link{c.link}, &refused)
			if r, ok := strings.CutPrefix(c.want, "refused:"); ok {
				if len(got) != 0 || refused[reasonByName(t, r)] != 1 {
					t.Fatalf("admitted %v, refused %v; want refused for %s", got, refused, r)
				}
				return
			}
			wantSeed := c.parent.SeedHost
			if c.link.Kind == Redirect && c.parent.Depth == 0 && len(got) == 1 {
				wantSeed = got[0].Host
			}
			if len(got) != 1 || got[0].URL != c.want || got[0].Depth != c.depth || got[0].SeedHost != wantSeed {
				t.Fatalf("got %+v (refused %v), want %s at depth %d", got, refused, c.want, c.depth)
			}
			l := got[0]
			if l.Key != frontier.Key(l.URL) || l.Domain != urlnorm.Site(l.Host) || l.Shard != frontier.Shard(l.Domain) {
				t.Fatalf("derived fields inconsistent: %+v", l)
			}
		})
	}
}

func pathOf(n int) string {
	var b strings.Builder
	for i := range n {
		b.WriteString("/s")
		b.WriteString(strings.Repeat("x", i%3+1))
		b.WriteByte(byte('a' + i%26))
	}
	return b.String()
}

func reasonByName(t *testing.T, name string) Reason {
	for _, r := range Reasons() {
		if r.String() == name {
			return r
		}
	}
	t.Fatalf("no reason %q", name)
	return 0
}

// TestScopeIsTheSeeds checks scope is relative to the seed a page descends
// from: a link from seed A's site to the site of seed B (same crawl) is
// out of domain scope, and stays so however deep the page is.
func TestScopeIsTheSeeds(t *testing.T) {
	p := policy(t, nil)
	var refused Refused
	got := p.Links(Parent{2, "seed-a.test"}, []Link{
		{"http://www.seed-a.test/1", Anchor},
		{"http://seed-b.test/", Anchor},
		{"http://x.seed-b.test/2", Anchor},
	}, &refused)
	if len(got) != 1 || got[0].URL != "http://www.seed-a.test/1" || refused[Scope] != 2 {
		t.Fatalf("admitted %v, refused %v; want only seed A's site", got, refused)
	}
}

func TestLinksOfferedOnce(t *testing.T) {
	var refused Refused
	got := policy(t, nil).Links(Parent{0, "example.com"}, []Link{
		{"http://example.com/a", Anchor}, {"HTTP://EXAMPLE.COM/a#top", Anchor}, {"http://example.com/./a", Frame},
		{"http://example.com/b?y=1&x=2", Anchor}, {"http://example.com/b?x=2&y=1", Anchor},
	}, &refused)
	if len(got) != 2 || got[0].URL != "http://example.com/a" || got[1].URL != "http://example.com/b?x=2&y=1" {
		t.Fatalf("got %v, want each URL once in first-seen order", got)
	}
}

func TestValidate(t *testing.T) {
	c := frontier.Crawl{Name: "Bad Name", Scope: "site", Allow: []string{"("}, MaxDepth: -1, SiteBudget: 0,
		MaxURLLength: 10, MaxPathSegments: 20, MaxRepeatedSegments: 2}
	err := Validate(c)
	if err == nil {
		t.Fatal("a bad policy validated")
	}
	for _, want := range []string{`--name "Bad Name"`, `--scope "site"`, `--allow "("`, "--max-depth -1", "--site-budget 0", "--max-url-length 10"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
	if err := Validate(policy(t, nil).Crawl); err != nil {
		t.Errorf("a good policy: %v", err)
	}
}

func FuzzLinks(f *testing.F) {
	for _, s := range []string{"http://example.com/a", "/rel", "http://x.example.com/a/a/a/", "http://other.org/?sid=1", "http://[::1]/", "http://example.com/" + strings.Repeat("a/", 30)} {
		f.Add(s, uint8(1), int16(0))
	}
	p := policy(f, nil)
	f.Fuzz(func(t *testing.T, raw string, kind uint8, depth int16) {
		if depth < 0 || depth > 5 {
			return
		}
		var refused Refused
		k := Kind(kind%4 + 1)
		for _, l := range p.Links(Parent{depth, "example.com"}, []Link{{raw, k}}, &refused) {
			if n, err := urlnorm.Normalize(l.URL); err != nil || n != l.URL {
				t.Fatalf("admitted %q is not normalised (%q, %v)", l.URL, n, err)
			}
			newSeed := k == Redirect && depth == 0
			if int(l.Depth) > p.Crawl.MaxDepth || len(l.URL) > p.Crawl.MaxURLLength || (!newSeed && urlnorm.Site(l.Host) != "example.com") {
				t.Fatalf("admitted %+v breaks the policy", l)
			}
		}
	})
}

// With a guard, links to hosts the assistants would refuse to fetch (IP
// literals of special-purpose ranges, localhost) are refused at admission
// and counted, unless fetch.allowed_networks lists them; in any scope.
func TestGuardRefusesBlockedHosts(t *testing.T) {
	links := []Link{
		{"http://127.0.0.1/admin", Anchor},
		{"http://[::1]:8080/", Anchor},
		{"http://10.1.2.3/", Frame},
		{"http://169.254.169.254/latest/meta-data/", Anchor},
		{"http://localhost/", Anchor},
		{"http://db.localhost/", Redirect},
		{"http://93.184.216.34/", Anchor}, // a public address
		{"http://example.org/", Anchor},
	}
	c := frontier.NewCrawl("guarded")
	c.Scope, c.MaxDepth = frontier.ScopeAny, 3
	p, err := Compile(c)
	if err != nil {
		t.Fatal(err)
	}
	p.Guard = netguard.New(nil)
	var refused Refused
	got := p.Links(Parent{0, "example.com"}, links, &refused)
	if len(got) != 2 || got[0].URL != "http://93.184.216.34/" || got[1].URL != "http://example.org/" || refused[BlockedAddress] != 6 {
		t.Fatalf("admitted %v, refused %v; want only the public hosts, 6 blocked_address", got, refused)
	}
	// fetch.allowed_networks lifts it for what it lists.
	p.Guard = netguard.New([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")})
	refused = Refused{}
	got = p.Links(Parent{0, "example.com"}, links, &refused)
	if len(got) != 3 || got[0].URL != "http://10.1.2.3/" || refused[BlockedAddress] != 5 {
		t.Fatalf("with 10.0.0.0/8 allowed: admitted %v, refused %v", got, refused)
	}
	// Without a guard (the tests of other packages), nothing is refused for it.
	p.Guard = nil
	refused = Refused{}
	if got = p.Links(Parent{0, "example.com"}, links, &refused); len(got) != len(links) {
		t.Fatalf("without a guard: admitted %v, refused %v", got, refused)
	}
}

// The revisit, schedule and retention settings are validated with the
// rest, each error naming its flag.
func TestValidateFreshness(t *testing.T) {
	good := policy(t, nil).Crawl
	for _, tc := range []struct {
		edit func(*frontier.Crawl)
		want string // "" valid
	}{
		{func(c *frontier.Crawl) { c.Revisit = frontier.DefaultRevisit(frontier.RevisitAdaptive) }, ""},
		{func(c *frontier.Crawl) { c.Revisit.Mode = "sometimes" }, `--revisit "sometimes"`},
		{func(c *frontier.Crawl) {
			c.Revisit = frontier.DefaultRevisit(frontier.RevisitAdaptive)
			c.Revisit.Min = 2 * time.Hour
			c.Revisit.Max = time.Hour
		}, "--revisit-min 2h0m0s, --revisit-max 1h0m0s"},
		{func(c *frontier.Crawl) {
			c.Revisit = frontier.DefaultRevisit(frontier.RevisitFixed)
			c.Revisit.Dead = -time.Second
		}, "--revisit-dead -1s"},
		{func(c *frontier.Crawl) { c.Schedule.Every = 10 * time.Minute }, ""},
		{func(c *frontier.Crawl) { c.Schedule.Every = time.Millisecond }, "--every 1ms"},
		{func(c *frontier.Crawl) { c.Schedule.Cron = "*/10 * * * *" }, ""},
		{func(c *frontier.Crawl) { c.Schedule.Cron = "every ten minutes" }, `--cron "every ten minutes"`},
		{func(c *frontier.Crawl) { c.Schedule.Cron, c.Schedule.Every = "0 3 * * *", time.Hour }, "give one schedule"},
		{func(c *frontier.Crawl) { c.Schedule.Overlap = "queue" }, `--overlap "queue"`},
		{func(c *frontier.Crawl) { c.Retention = time.Millisecond }, "--retention 1ms"},
	} {
		c := good
		tc.edit(&c)
		err := Validate(c)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%+v %+v: %v", c.Revisit, c.Schedule, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%+v %+v: error %v, want one naming %s", c.Revisit, c.Schedule, err, tc.want)
		}
	}
}
