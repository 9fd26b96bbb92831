package store_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/crawlmaster/crawlmaster/master/frontier"
	"github.com/crawlmaster/crawlmaster/master/store"
)

// Regression: stored bodies are lz4-compressed (the staging column decides,
// since INSERT … SELECT copies a compressed datum as it is).
func TestBodiesAreLZ4(t *testing.T) {
	t.Parallel()
	s, pool := newStore(t)
	insert(t, s, mkURLs("lz4", 1))
	tasks := claim(t, s, 1, time.Minute)
	o := outcome(tasks[0], frontier.StateDone)
	o.Body = []byte(strings.Repeat("<p>The quick brown fox jumps over the lazy dog.</p>\n", 400))
	if acc := persist(t, s, o); acc.Total() != 1 {
		t.Fatalf("accepted %v", acc)
	}
	var comp *string
	if err := pool.QueryRow(t.Context(), `SELECT pg_column_compression(body) FROM bodies WHERE lease_token = $1`, o.Token).Scan(&comp); err != nil {
		t.Fatal(err)
	}
	if comp == nil || *comp != "lz4" {
		t.Fatalf("pg_column_compression(body) = %v, want lz4", comp)
	}
}

// Regression: concurrent claims never lease two URLs of one domain.
func TestConcurrentClaimsNeverLeaseADomainTwice(t *testing.T) {
	t.Parallel()
	s, pool := newStore(t)
	var urls []store.NewURL
	for d := range 200 {
		dom := fmt.Sprintf("d%d.example", d)
		for i := range 2 {
			urls = append(urls, store.NewURL{URL: fmt.Sprintf("https://%s/%d", dom, i), Host: dom, Domain: dom, Priority: int32(d)})
		}
	}
	insert(t, s, urls)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for {
				tasks, err := s.Claim(t.Context(), frontier.Claim{Shards: allShards, Limit: 1, Lease: time.Minute})
				if err != nil {
					t.Error(err)
					return
				}
				if len(tasks) == 0 {
					return
				}
			}
		})
	}
	wg.Wait()
	if n := count(t, pool, `SELECT count(*) FROM (SELECT domain FROM frontier WHERE state = 'leased' GROUP BY domain HAVING count(*) > 1) x`); n != 0 {
		t.Fatalf("%d of 200 domains have two URLs leased", n)
	}
	if n := count(t, pool, `SELECT count(*) FROM frontier WHERE state = 'leased'`); n != 200 {
		t.Fatalf("%d URLs leased, want one per domain (200)", n)
	}
}

// Regression: the claim's "domain already in flight" probe is an index
// lookup on frontier_inflight_domain_idx. With the probe spelled
// state = 'leased', statistics taken while nothing was leased let the
// planner use another partial index on that predicate and filter every
// lease by domain, per candidate row (545 ms for a 2,400-row claim).
func TestClaimProbesTheInFlightDomainIndex(t *testing.T) {
	t.Parallel()
	s, pool := newStore(t)
	insert(t, s, mkURLs("plan", 4000))
	if err := s.Analyze(t.Context()); err != nil { // nothing leased yet
		t.Fatal(err)
	}
	claim(t, s, 1500, time.Minute)
	mask := make([]bool, frontier.NumShards)
	for i := range mask {
		mask[i] = true
	}
	args := []any{mask, 1000, []int32{}, []int32{}, time.Minute, "a"}
	// The claim by site (PerSite > 1) selects with the same rules.
	for _, q := range []struct {
		name, sql string
		args      int
	}{{"claimSQL", store.ClaimSQL, 6}, {"claimSitesSQL", store.ClaimSitesSQL, 4}} {
		plan := explain(t, pool, q.sql, args[:q.args]...)
		var probes, levels []planNode
		plan.walk(func(n planNode) {
			switch n.Alias {
			case "l":
				probes = append(probes, n)
			case "p":
				levels = append(levels, n)
			}
		})
		if len(probes) != 1 || probes[0].IndexName != "frontier_inflight_domain_idx" || !strings.Contains(probes[0].IndexCond, "domain") || probes[0].Filter != "" {
			t.Fatalf("%s: in-flight probe is %+v, want one index lookup by domain on frontier_inflight_domain_idx\n%+v", q.name, probes, plan)
		}
		// The level barrier's probe (site crawls) is one index lookup too.
		if len(levels) != 1 || levels[0].IndexName != "frontier_site_level_idx" || !strings.Contains(levels[0].IndexCond, "depth") {
			t.Fatalf("%s: level probe is %+v, want one index lookup on frontier_site_level_idx\n%+v", q.name, levels, plan)
		}
	}
}

// The claim by site's lease statement probes frontier_site_level_idx once
// per site (a lateral index scan, not a scan of the frontier) and updates
// by primary key.
func TestClaimSitesProbesTheSiteLevelIndex(t *testing.T) {
	t.Parallel()
	s, pool := newStore(t)
	var urls []store.NewURL
	for d := range 400 {
		dom := fmt.Sprintf("lvl%d.example", d)
		for i := range 20 {
			urls = append(urls, store.NewURL{URL: fmt.Sprintf("https://%s/%d", dom, i), Host: dom, Domain: dom, Priority: int32(i)})
		}
	}
	insert(t, s, urls)
	if err := s.Analyze(t.Context()); err != nil {
		t.Fatal(err)
	}
	var crawls []int32
	var domains []string
	var depths []int16
	for d := range 200 {
		crawls, domains, depths = append(crawls, 1), append(domains, fmt.Sprintf("lvl%d.example", d)), append(depths, 0)
	}
	plan := explain(t, pool, store.LeaseSitesSQL, crawls, domains, depths, 16, time.Minute, "a", 1000)
	var site, outer []planNode
	plan.walk(func(n planNode) {
		switch n.Alias {
		case "c":
			site = append(site, n)
		case "f":
			if n.NodeType != "ModifyTable" {
				outer = append(outer, n)
			}
		}
	})
	if len(site) != 1 || site[0].IndexName != "frontier_site_level_idx" || !strings.Contains(site[0].IndexCond, "depth") {
		t.Fatalf("site probe is %+v, want one index lookup on frontier_site_level_idx\n%+v", site, plan)
	}
	if len(outer) != 1 || outer[0].IndexName != "frontier_pkey" {
		t.Fatalf("update is %+v, want a primary key probe\n%+v", outer, plan)
	}
}

// explain returns the plan of sql with args.
func explain(t *testing.T, pool *pgxpool.Pool, sql string, args ...any) planNode {
	t.Helper()
	var plan []byte
	if err := pool.QueryRow(t.Context(), `EXPLAIN (FORMAT JSON) `+sql, args...).Scan(&plan); err != nil {
		t.Fatal(err)
	}
	var doc []struct{ Plan planNode }
	if err := json.Unmarshal(plan, &doc); err != nil || len(doc) != 1 {
		t.Fatalf("EXPLAIN output: %v\n%s", err, plan)
	}
	return doc[0].Plan
}

// planNode is the part of an EXPLAIN (FORMAT JSON) node the plan tests read.
type planNode struct {
	NodeType  string     `json:"Node Type"`
	Alias     string     `json:"Alias"`
	IndexName string     `json:"Index Name"`
	IndexCond string     `json:"Index Cond"`
	Filter    string     `json:"Filter"`
	Plans     []planNode `json:"Plans"`
}

func (n planNode) walk(f func(planNode)) {
	f(n)
	for _, c := range n.Plans {
		c.walk(f)
	}
}
