package store_test

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/crawlmaster/crawlmaster/master/frontier"
	"github.com/crawlmaster/crawlmaster/master/store"
)

// The claim by site (frontier.Claim.PerSite > 1).

// siteRows inserts URLs http://<domain>/<name> into crawl c, each with the
// given depth and priority, in order.
type siteRow struct {
	domain, name string
	depth        int16
	priority     int32
}

func insertSiteRows(t *testing.T, s *store.Store, c frontier.Crawl, rows ...siteRow) {
	t.Helper()
	var urls []store.NewURL
	for _, r := range rows {
		urls = append(urls, store.NewURL{URL: "http://" + r.domain + "/" + r.name, Host: r.domain, Domain: r.domain, Priority: r.priority})
	}
	if _, err := s.Insert(t.Context(), c, urls, store.SourceEnqueue); err != nil {
		t.Fatal(err)
	}
	pool := s.Pool()
	for _, r := range rows {
		exec(t, pool, `UPDATE frontier SET depth = $1 WHERE crawl_id = $2 AND url = $3`, r.depth, c.ID, "http://"+r.domain+"/"+r.name)
	}
}

func claimBy(t *testing.T, s *store.Store, p frontier.Claim) []string {
	t.Helper()
	if p.Shards == nil {
		p.Shards = allShards
	}
	p.Lease, p.Assistant = time.Minute, "a1"
	tasks, err := s.Claim(t.Context(), p)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, tk := range tasks {
		out = append(out, tk.URL)
	}
	slices.Sort(out)
	return out
}

func urlsOf(domain string, names ...string) []string {
	var out []string
	for _, n := range names {
		out = append(out, "http://"+domain+"/"+n)
	}
	return out
}

// TestClaimBySiteTakesTheClaimedSitesLevel checks what the top-up takes:
// more URLs of the claimed sites only, of the claimed URL's crawl and
// depth only (never a deeper one while a shallower one is pending), due
// ones only, PerSite at most per site; and nothing of paused crawls or
// foreign shards, nor of a site that is in flight.
func TestClaimBySiteTakesTheClaimedSitesLevel(t *testing.T) {
	t.Parallel()
	s, pool := newStore(t)
	c := siteCrawl(t, s, "sites", 100)
	other := siteCrawl(t, s, "other", 100)
	var rows []siteRow
	for i := range 6 { // a.test: six at depth 1, three at depth 2
		rows = append(rows, siteRow{"a.test", fmt.Sprint(i), 1, int32(i + 1)})
	}
	for i := range 3 {
		rows = append(rows, siteRow{"a.test", fmt.Sprint("deep", i), 2, int32(i + 7)})
	}
	for i := range 3 { // b.test: three at depth 1, one of them not due
		rows = append(rows, siteRow{"b.test", fmt.Sprint(i), 1, int32(i + 1)})
	}
	for i := range 5 { // d.test: five at depth 1, not in our shards
		rows = append(rows, siteRow{"d.test", fmt.Sprint(i), 1, int32(i + 1)})
	}
	insertSiteRows(t, s, c, rows...)
	exec(t, pool, `UPDATE frontier SET next_fetch_at = now() + interval '1 hour' WHERE url = 'http://b.test/2'`)
	var crows []siteRow
	for i := range 5 { // c.test: in the other crawl, paused at first
		crows = append(crows, siteRow{"c.test", fmt.Sprint(i), 1, int32(i + 1)})
	}
	// a.test in the other crawl too: its own crawl's level, its own pause.
	crows = append(crows, siteRow{"a.test", "other", 1, 1})
	insertSiteRows(t, s, other, crows...)

	var mine []int16
	for sh := range int16(frontier.NumShards) {
		if sh != frontier.Shard("d.test") {
			mine = append(mine, sh)
		}
	}
	got := claimBy(t, s, frontier.Claim{Shards: mine, Limit: 100, PerSite: 4, Paused: []int32{other.ID}})
	want := append(urlsOf("a.test", "0", "1", "2", "3"), urlsOf("b.test", "0", "1")...)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("claimed %v, want %v: a.test's four best at depth 1, b.test's due ones", got, want)
	}
	// The sites are in flight: nothing more of them, whatever the claim.
	if got := claimBy(t, s, frontier.Claim{Shards: mine, Limit: 100, PerSite: 4, Paused: []int32{other.ID}}); len(got) != 0 {
		t.Fatalf("second claim took %v, want nothing (sites in flight, crawl paused, shard foreign)", got)
	}
	got = claimBy(t, s, frontier.Claim{Limit: 100, PerSite: 4})
	want = append(urlsOf("c.test", "0", "1", "2", "3"), urlsOf("d.test", "0", "1", "2", "3")...)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("claim with every shard, nothing paused = %v, want %v (a.test is in flight in any crawl)", got, want)
	}

	// a.test's four results: then its last two of depth 1, not depth 2.
	var tasks []frontier.Task
	for _, r := range frontierRows(t, pool) {
		if r.Domain == "a.test" && r.State == "leased" {
			tasks = append(tasks, frontier.Task{URLID: r.ID, Token: *r.LeaseToken, URL: r.URL, Domain: r.Domain, Attempts: 1})
		}
	}
	var outs []frontier.Outcome
	for _, tk := range tasks {
		o := outcome(tk, frontier.StateDone)
		o.CrawlID, o.Depth = c.ID, 1
		outs = append(outs, o)
	}
	mustPersist(t, s, outs...)
	got = claimBy(t, s, frontier.Claim{Limit: 100, PerSite: 4})
	want = append(urlsOf("a.test", "4", "5"), "http://a.test/other")
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("claim after a.test's first four = %v, want %v (the rest of depth 1 in each crawl)", got, want)
	}
	if n := count(t, pool, `SELECT count(*) FROM frontier WHERE url LIKE 'http://a.test/deep%' AND state = 'pending'`); n != 3 {
		t.Fatalf("%d of a.test's depth-2 URLs pending, want 3", n)
	}
}

// TestClaimBySiteLimit checks Limit counts URLs, top-up included: the
// sites come in the order of their best priority, each with up to
// PerSite URLs, until Limit is reached; the rest stays pending untouched.
// Sites of one URL give one each (a broad crawl's claim is no smaller).
func TestClaimBySiteLimit(t *testing.T) {
	t.Parallel()
	s, pool := newStore(t)
	var urls []store.NewURL
	for d := range 10 {
		dom := fmt.Sprintf("s%d.example", d)
		for i := range 10 {
			urls = append(urls, store.NewURL{URL: fmt.Sprintf("https://%s/%d", dom, i), Host: dom, Domain: dom, Priority: int32(i + 1)})
		}
	}
	for d := range 30 {
		dom := fmt.Sprintf("one%d.example", d)
		urls = append(urls, store.NewURL{URL: "https://" + dom + "/", Host: dom, Domain: dom, Priority: int32(100 + d)})
	}
	insert(t, s, urls)
	got := claimBy(t, s, frontier.Claim{Limit: 12, PerSite: 5})
	want := []string{"https://s0.example/0", "https://s0.example/1", "https://s0.example/2", "https://s0.example/3", "https://s0.example/4",
		"https://s1.example/0", "https://s1.example/1", "https://s1.example/2", "https://s1.example/3", "https://s1.example/4",
		"https://s2.example/0", "https://s2.example/1"}
	if !slices.Equal(got, want) {
		t.Fatalf("claimed %v, want %v", got, want)
	}
	if n := count(t, pool, `SELECT count(*) FROM frontier WHERE state = 'pending' AND (attempts <> 0 OR assistant IS NOT NULL OR lease_token IS NOT NULL)`); n != 0 {
		t.Errorf("%d unclaimed rows were modified", n)
	}
	// Seven sites of ten URLs left, each gives five; then the one-URL sites.
	if got := claimBy(t, s, frontier.Claim{Limit: 35, PerSite: 5}); len(got) != 35 || got[0] != "https://s3.example/0" {
		t.Fatalf("claimed %d (%v), want 35 of s3..s9", len(got), got)
	}
	got = claimBy(t, s, frontier.Claim{Limit: 20, PerSite: 5})
	if len(got) != 20 {
		t.Fatalf("claimed %d of the one-URL sites, want 20", len(got))
	}
	for _, u := range got {
		var d int
		if _, err := fmt.Sscanf(u, "https://one%d.example/", &d); err != nil || d >= 20 {
			t.Errorf("claimed %s, want the 20 one-URL sites of best priority", u)
		}
	}
	if n := count(t, pool, `SELECT count(*) FROM frontier WHERE state = 'leased'`); n != 12+35+20 {
		t.Errorf("%d leased, want %d", n, 12+35+20)
	}
}

// TestClaimBySiteConcurrent runs claims by site from many goroutines: no
// site is ever leased to two claims, and each claim leases up to PerSite
// URLs of a site (Limit is a multiple of it here: a site cut by Limit
// would get fewer).
func TestClaimBySiteConcurrent(t *testing.T) {
	t.Parallel()
	s, pool := newStore(t)
	var urls []store.NewURL
	for d := range 100 {
		dom := fmt.Sprintf("conc%d.example", d)
		for i := range 10 {
			urls = append(urls, store.NewURL{URL: fmt.Sprintf("https://%s/%d", dom, i), Host: dom, Domain: dom, Priority: int32(i + 1)})
		}
	}
	insert(t, s, urls)
	const workers = 8
	var wg sync.WaitGroup
	var mu sync.Mutex
	owner := map[string]int{} // domain: the claim that leased it
	claims := 0
	start := make(chan struct{})
	for range workers {
		wg.Go(func() {
			<-start
			for {
				tasks, err := s.Claim(t.Context(), frontier.Claim{Shards: allShards, Limit: 12, PerSite: 4, Lease: time.Minute, Assistant: "w"})
				if err != nil {
					t.Error(err)
					return
				}
				if len(tasks) == 0 {
					return
				}
				mu.Lock()
				claims++
				for _, tk := range tasks {
					if prev, ok := owner[tk.Domain]; ok && prev != claims {
						t.Errorf("%s leased by claims %d and %d", tk.Domain, prev, claims)
					}
					owner[tk.Domain] = claims
				}
				mu.Unlock()
			}
		})
	}
	close(start)
	wg.Wait()
	if len(owner) != 100 {
		t.Errorf("%d sites claimed, want 100", len(owner))
	}
	if n := count(t, pool, `SELECT count(*) FROM (SELECT domain FROM frontier WHERE state = 'leased' GROUP BY domain HAVING count(*) <> 4) x`); n != 0 {
		t.Errorf("%d sites without exactly PerSite (4) URLs leased", n)
	}
}
