package store_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/crawlmaster/crawlmaster/crawl/urlnorm"
	"github.com/crawlmaster/crawlmaster/master/frontier"
	"github.com/crawlmaster/crawlmaster/master/store"
)

// siteCrawl creates a discovering crawl with the given budget.
func siteCrawl(t *testing.T, s *store.Store, name string, budget int) frontier.Crawl {
	t.Helper()
	c := frontier.NewCrawl(name)
	c.SiteBudget = budget
	created, err := s.CreateCrawl(t.Context(), c)
	if err != nil {
		t.Fatal(err)
	}
	return created
}

// link builds an admission candidate as package admit would.
func link(u string, depth int16, seed string) frontier.Link {
	host, err := urlnorm.Host(u)
	if err != nil {
		panic(err)
	}
	site := urlnorm.Site(host)
	return frontier.Link{URL: u, Key: frontier.Key(u), Host: host, Domain: site, Shard: frontier.Shard(site), Depth: depth, SeedHost: seed}
}

func seedURL(u string) store.NewURL {
	host, _ := urlnorm.Host(u)
	return store.NewURL{URL: u, Host: host, Domain: urlnorm.Site(host)}
}

func claimCrawl(t *testing.T, s *store.Store, limit int, paused ...int32) []frontier.Task {
	t.Helper()
	tasks, err := s.Claim(t.Context(), frontier.Claim{Shards: allShards, Limit: limit, Lease: time.Minute, Assistant: "a1", Paused: paused})
	if err != nil {
		t.Fatal(err)
	}
	return tasks
}

func TestCrawlsCreateReadPause(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	ctx := t.Context()
	def, err := s.Crawl(ctx, "default")
	if err != nil || def.ID != frontier.DefaultCrawlID || def.Discovers() {
		t.Fatalf("default crawl %+v, %v: want id 1, no discovery", def, err)
	}
	c := frontier.NewCrawl("docs")
	c.Allow, c.Deny, c.Sitemaps = []string{`^https://`}, []string{`/login`}, true
	created, err := s.CreateCrawl(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	c.ID = created.ID
	got, err := s.Crawl(ctx, "docs")
	if err != nil || got.ID <= 1 || got.Name != "docs" || got.MaxDepth != c.MaxDepth || got.Scope != c.Scope ||
		len(got.Allow) != 1 || got.Deny[0] != "/login" || !got.Sitemaps || got.Paused {
		t.Fatalf("read back %+v, %v; want %+v", got, err, c)
	}
	if _, err := s.CreateCrawl(ctx, c); !errors.Is(err, store.ErrCrawlExists) {
		t.Errorf("second create: %v, want ErrCrawlExists", err)
	}
	if _, err := s.Crawl(ctx, "nope"); !errors.Is(err, store.ErrNoCrawl) {
		t.Errorf("unknown crawl: %v, want ErrNoCrawl", err)
	}
	if err := s.SetPaused(ctx, "docs", true); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Crawl(ctx, "docs"); !got.Paused {
		t.Error("pause did not stick")
	}
	if err := s.SetPaused(ctx, "nope", true); !errors.Is(err, store.ErrNoCrawl) {
		t.Errorf("pause of an unknown crawl: %v", err)
	}
	all, err := s.Crawls(ctx)
	if err != nil || len(all) != 2 || all[0].Name != "default" || all[1].Name != "docs" {
		t.Fatalf("Crawls = %v, %v", all, err)
	}
}

// TestAdmission persists a page with links and checks: links of the
// accepted result enter the frontier once each at their depth and seed,
// known URLs are skipped, the site budget holds (seeds included), priorities
// number each site's admissions, and links of a stale result admit nothing.
func TestAdmission(t *testing.T) {
	t.Parallel()
	s, pool := newStore(t)
	ctx := t.Context()
	c := siteCrawl(t, s, "sites", 4)
	if n, err := s.Insert(ctx, c, []store.NewURL{seedURL("http://a.test/"), seedURL("http://b.test/")}, store.SourceEnqueue); err != nil || n != 2 {
		t.Fatalf("Insert seeds = %d, %v", n, err)
	}
	if n := count(t, pool, `SELECT count(*) FROM frontier WHERE crawl_id = $1 AND priority = 0 AND depth = 0 AND seed_host IS NULL`, c.ID); n != 2 {
		t.Fatalf("%d seeds with priority 0, depth 0, no seed host; want 2", n)
	}
	tasks := claimCrawl(t, s, 10)
	if len(tasks) != 2 || tasks[0].CrawlID != c.ID || tasks[0].Depth != 0 || tasks[0].SeedHost != "a.test" {
		t.Fatalf("claimed %+v: want both seeds with their crawl, depth 0 and own host as seed", tasks)
	}
	a, b := tasks[0], tasks[1]
	oa := outcome(a, frontier.StateDone)
	oa.CrawlID, oa.Links = c.ID, []frontier.Link{
		link("http://a.test/1", 1, "a.test"), link("http://a.test/2", 1, "a.test"),
		link("http://a.test/1", 1, "a.test"), // twice on the page
		link("http://www.a.test/3", 1, "a.test"),
		link("http://a.test/4", 1, "a.test"), // over the budget: seed + 3 admitted already
		link("http://a.test/", 1, "a.test"),  // the seed itself: known
	}
	// b's result is stale: its lease is released before the write.
	if _, err := s.Release(ctx, []int64{b.Token}, false); err != nil {
		t.Fatal(err)
	}
	ob := outcome(b, frontier.StateDone)
	ob.CrawlID, ob.Links = c.ID, []frontier.Link{link("http://b.test/x", 1, "b.test")}
	w, err := s.Persist(ctx, []frontier.Outcome{oa, ob})
	if err != nil {
		t.Fatal(err)
	}
	if w.Accepted.Total() != 1 || w.Admitted != (store.Admitted{Offered: 5, Known: 1, New: 3, OverBudget: 1}) {
		t.Fatalf("wrote %+v: want a's result, 5 distinct links offered, 1 known, 3 new, 1 over budget", w)
	}
	rows := map[string]frontierRow{}
	for _, r := range frontierRows(t, pool) {
		rows[r.URL] = r
	}
	if _, ok := rows["http://b.test/x"]; ok {
		t.Error("a stale result's link was admitted")
	}
	if _, ok := rows["http://a.test/4"]; ok {
		t.Error("a link over the site budget was admitted")
	}
	for i, u := range []string{"http://a.test/1", "http://a.test/2", "http://www.a.test/3"} {
		r, ok := rows[u]
		if !ok {
			t.Fatalf("%s not admitted", u)
		}
		if r.State != "pending" || r.Domain != "a.test" || r.Priority != int32(i+2) {
			t.Errorf("%s: %+v; want pending on site a.test with priority %d (the site's admission number)", u, r, i+2)
		}
	}
	var depth int16
	var seed string
	if err := pool.QueryRow(ctx, `SELECT depth, seed_host FROM frontier WHERE url = 'http://www.a.test/3'`).Scan(&depth, &seed); err != nil || depth != 1 || seed != "a.test" {
		t.Errorf("www.a.test/3: depth %d, seed %q, %v; want 1, a.test", depth, seed, err)
	}
	if n := count(t, pool, `SELECT admitted FROM sites WHERE crawl_id = $1 AND site = 'a.test'`, c.ID); n != 4 {
		t.Errorf("site a.test admitted %d, want 4 (the budget)", n)
	}
	// A later page repeating the links admits nothing new.
	next := claimCrawl(t, s, 10)
	var again frontier.Task
	for _, tk := range next {
		if tk.URL == "http://a.test/1" {
			again = tk
		}
	}
	o := outcome(again, frontier.StateDone)
	o.CrawlID, o.Links = c.ID, []frontier.Link{link("http://a.test/2", 2, "a.test")}
	if w := mustPersist(t, s, o); w.Admitted.Known != 1 || w.Admitted.New != 0 {
		t.Errorf("a repeated link: %+v, want known", w.Admitted)
	}
}

func mustPersist(t *testing.T, s *store.Store, outs ...frontier.Outcome) store.Written {
	t.Helper()
	w, err := s.Persist(t.Context(), outs)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// TestClaimLevelBarrier checks a site's URL at depth d waits while any URL
// of its crawl and site is pending at a smaller depth (retries not yet
// due included), that other sites and crawls are not held up, and that
// paused crawls are not claimed.
func TestClaimLevelBarrier(t *testing.T) {
	t.Parallel()
	s, pool := newStore(t)
	ctx := t.Context()
	c := siteCrawl(t, s, "levels", 100)
	if _, err := s.Insert(ctx, c, []store.NewURL{seedURL("http://a.test/"), seedURL("http://b.test/")}, store.SourceEnqueue); err != nil {
		t.Fatal(err)
	}
	seeds := claimCrawl(t, s, 10)
	byURL := map[string]frontier.Task{}
	for _, tk := range seeds {
		byURL[tk.URL] = tk
	}
	oa := outcome(byURL["http://a.test/"], frontier.StateDone)
	oa.CrawlID, oa.Links = c.ID, []frontier.Link{link("http://a.test/1", 1, "a.test"), link("http://a.test/2", 1, "a.test")}
	ob := outcome(byURL["http://b.test/"], frontier.StateDone)
	ob.CrawlID, ob.Links = c.ID, []frontier.Link{link("http://b.test/1", 1, "b.test")}
	mustPersist(t, s, oa, ob)
	// a.test/1 is fetched and links deeper; a.test/2 fails transiently and
	// waits for its retry.
	one := claimCrawl(t, s, 10)
	for _, tk := range one {
		switch tk.URL {
		case "http://a.test/1":
			o := outcome(tk, frontier.StateDone)
			o.CrawlID, o.Depth, o.Links = c.ID, 1, []frontier.Link{link("http://a.test/deep", 2, "a.test")}
			mustPersist(t, s, o)
		case "http://a.test/2":
			o := outcome(tk, frontier.StatePending)
			o.NextFetchAt = time.Now().Add(time.Hour)
			mustPersist(t, s, o)
		case "http://b.test/1":
			o := outcome(tk, frontier.StateDone)
			o.CrawlID, o.Depth, o.Links = c.ID, 1, []frontier.Link{link("http://b.test/deep", 2, "b.test")}
			mustPersist(t, s, o)
		}
	}
	if len(one) != 3 {
		t.Fatalf("claimed %d of the depth-1 URLs, want 3", len(one))
	}
	got := claimCrawl(t, s, 10)
	if len(got) != 1 || got[0].URL != "http://b.test/deep" || got[0].Depth != 2 {
		t.Fatalf("claimed %+v; want only b.test/deep: a.test/deep waits for a.test/2 (depth 1, pending)", got)
	}
	if n := count(t, pool, `SELECT count(*) FROM frontier WHERE url = 'http://a.test/deep' AND state = 'pending'`); n != 1 {
		t.Error("a.test/deep is not pending")
	}
	// A paused crawl gives nothing.
	exec(t, pool, `UPDATE frontier SET next_fetch_at = now() WHERE url = 'http://a.test/2'`)
	if got := claimCrawl(t, s, 10, c.ID); len(got) != 0 {
		t.Fatalf("claimed %v from a paused crawl", got)
	}
	if got := claimCrawl(t, s, 10); len(got) != 1 || got[0].URL != "http://a.test/2" {
		t.Fatalf("claimed %+v, want a.test/2 (its retry is due; the deeper URL still waits for it)", got)
	}
}

// TestLongURLs checks a URL far over PostgreSQL's btree entry limit (~2.7
// KB, the old unique index on url) is stored, and that one failing row no
// longer loses its chunk.
func TestLongURLs(t *testing.T) {
	t.Parallel()
	s, pool := newStore(t)
	long := "http://long.test/" + strings.Repeat("p", urlnorm.MaxLength-len("http://long.test/"))
	if n, err := s.Insert(t.Context(), defaultCrawl, []store.NewURL{seedURL(long), seedURL("http://short.test/")}, store.SourceEnqueue); err != nil || n != 2 {
		t.Fatalf("Insert of an 8 KiB URL = %d, %v", n, err)
	}
	if n := count(t, pool, `SELECT count(*) FROM frontier WHERE length(url) = $1`, urlnorm.MaxLength); n != 1 {
		t.Fatal("the long URL is not stored whole")
	}
}

// TestKeyMatchesSQL checks the Go key and the SQL expression migration
// 0005 used for existing rows agree, so an upgraded frontier is unique on
// the same keys new URLs get.
func TestKeyMatchesSQL(t *testing.T) {
	t.Parallel()
	_, pool := newStore(t)
	for _, u := range []string{"http://a.test/", "https://xn--bcher-kva.example/ü?q=%20", strings.Repeat("x", 5000)} {
		var k [16]byte
		if err := pool.QueryRow(t.Context(), `SELECT encode(substr(sha256(convert_to($1, 'UTF8')), 1, 16), 'hex')::uuid`, u).Scan(&k); err != nil {
			t.Fatal(err)
		}
		if k != frontier.Key(u) {
			t.Errorf("%.40q: SQL key %x, Go key %x", u, k, frontier.Key(u))
		}
	}
}

// TestAnyScopeLevels checks a crawl of scope any is claimed one level at a
// time crawl-wide: depth-1 URLs wait while any seed is unfetched, whatever
// its site, and AdvanceLevels moves the level on only then.
func TestAnyScopeLevels(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	ctx := t.Context()
	c := frontier.NewCrawl("anywhere")
	c.Scope = frontier.ScopeAny
	c, err := s.CreateCrawl(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Insert(ctx, c, []store.NewURL{seedURL("http://a.test/"), seedURL("http://b.test/")}, store.SourceEnqueue); err != nil {
		t.Fatal(err)
	}
	claimAny := func() []frontier.Task {
		tasks, err := s.Claim(ctx, frontier.Claim{Shards: allShards, Limit: 10, Lease: time.Minute, Assistant: "a1", AnyScope: []int32{c.ID}})
		if err != nil {
			t.Fatal(err)
		}
		return tasks
	}
	seeds := claimAny()
	if len(seeds) != 2 {
		t.Fatalf("claimed %d seeds", len(seeds))
	}
	a, b := seeds[0], seeds[1]
	o := outcome(a, frontier.StateDone)
	o.CrawlID, o.Links = c.ID, []frontier.Link{link("http://c.test/x", 1, "a.test")}
	mustPersist(t, s, o)
	if got := claimAny(); len(got) != 0 {
		t.Fatalf("claimed %v while seed b.test is still leased: depth 1 must wait for level 0", got)
	}
	if n, err := s.AdvanceLevels(ctx, []int32{c.ID}); err != nil || n != 0 {
		t.Fatalf("AdvanceLevels with a seed in flight = %d, %v; want 0", n, err)
	}
	mustPersist(t, s, outcome(b, frontier.StateDone))
	if n, err := s.AdvanceLevels(ctx, []int32{c.ID}); err != nil || n != 1 {
		t.Fatalf("AdvanceLevels after level 0 = %d, %v; want 1", n, err)
	}
	if got := claimAny(); len(got) != 1 || got[0].URL != "http://c.test/x" {
		t.Fatalf("claimed %v after the level moved, want c.test/x", got)
	}
}
