package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/crawlmaster/crawlmaster/master/frontier"
)

// Claims by site (frontier.Claim.PerSite > 1).
//
// A new URL's priority is its site's admission sequence number and
// claimSQL skips sites with a lease, so "the best Limit URLs" are a thin
// slice across many sites: about one URL from each when there are as many
// sites as Limit. The site then stays leased until its batch's results
// are written, so in a site crawl each site got one or two URLs per claim
// cycle and was fetched in dozens of short bursts, its slot idle between
// them. A claim by site takes the same sites in the same order (the best
// priority each offers), but hands over up to PerSite URLs of each, so one
// batch can take a site's level whole.
//
// It runs in two statements under the claim's advisory lock:
//
//  1. claimSitesSQL: claimSQL's selection (same rules, same plan), which
//     only locks its rows and returns their crawl, site and depth, best
//     priority first;
//  2. leaseSitesSQL: for each distinct (crawl, site, depth) of those rows,
//     in that order, up to PerSite pending, due URLs of that same crawl,
//     site and depth, best priority first, and Limit in all.
//
// Every rule of claimSQL still holds for the URLs of step 2 without being
// re-checked. The same site has the same shard (ours: stored shard is the
// site's hash) and the same crawl the same pause state. The same depth is
// the depth at which the site's row passed the level barrier (and an
// "any" crawl's level) in this transaction: nothing of the site is pending
// at a smaller depth, and nothing can be admitted there before the claim
// commits, since only a result of the site's own (unleased) URLs could.
// The site had no lease, and now has only this claim's: it is still never
// in flight twice. Step 1's row of the site is itself among the URLs step
// 2 takes first (it is the site's best due row at that depth; SKIP LOCKED
// does not skip this transaction's own locks). Rows step 1 locked beyond
// the cut (sites after Limit was reached) stay pending; their locks end
// at commit.
//
// Limit still counts URLs, top-up included, so the feeder's bound on its
// ready queue (claimSize: at most four targets' worth queued) is exact.
// Counting the selection's LIMIT in sites instead would multiply a claim
// by up to PerSite; cutting it to Limit/PerSite sites would make claims
// of one-URL sites (a broad crawl) PerSite times smaller. Within Limit,
// the first sites get their PerSite URLs and the next claim continues with
// the sites after them.
//
// Cost: one lateral index probe of frontier_site_level_idx (crawl_id,
// domain, depth) WHERE state = 'pending' per site taken (EXPLAIN: Nested
// Loop over the Function Scan of unnest, Index Scan using
// frontier_site_level_idx, LockRows, Limit; an Incremental Sort on the
// site order, so probes stop once Limit URLs are found), and one more
// round trip. In a broad crawl of one-URL sites every probe finds just the
// site's row of step 1.
const claimSitesSQL = `SELECT c.crawl_id, c.domain, c.depth` + claimFromSQL

// leaseSitesSQL: $1..$3 the site levels in claim order, $4 PerSite, $5
// lease duration, $6 assistant, $7 Limit.
const leaseSitesSQL = leaseSQL + ` f.id = ANY(ARRAY(
    SELECT x.id
    FROM unnest($1::integer[], $2::text[], $3::smallint[]) WITH ORDINALITY AS s(crawl_id, domain, depth, ord)
    CROSS JOIN LATERAL (
        SELECT c.id, c.priority FROM frontier c
        WHERE c.crawl_id = s.crawl_id AND c.domain = s.domain AND c.depth = s.depth
          AND c.state = 'pending' AND c.next_fetch_at <= now()
        ORDER BY c.priority, c.id
        LIMIT $4
        FOR UPDATE OF c SKIP LOCKED) x
    ORDER BY s.ord, x.priority, x.id
    LIMIT $7))
RETURNING ` + taskColumns

// siteLevel is one claimed site's level: what a claim by site takes.
type siteLevel struct {
	crawl  int32
	domain string
	depth  int16
}

// claimSites is Claim with p.PerSite > 1, inside its transaction; args
// are claimSQL's.
func claimSites(ctx context.Context, tx pgx.Tx, p frontier.Claim, args []any, tasks []frontier.Task) ([]frontier.Task, error) {
	rows, err := tx.Query(ctx, claimSitesSQL, args[:4]...)
	if err != nil {
		return nil, err
	}
	seen := map[siteLevel]bool{}
	var crawls []int32
	var domains []string
	var depths []int16
	var l siteLevel
	_, err = pgx.ForEachRow(rows, []any{&l.crawl, &l.domain, &l.depth}, func() error {
		if !seen[l] {
			seen[l] = true
			crawls, domains, depths = append(crawls, l.crawl), append(domains, l.domain), append(depths, l.depth)
		}
		return nil
	})
	if err != nil || len(crawls) == 0 {
		return tasks, err
	}
	rows, err = tx.Query(ctx, leaseSitesSQL, crawls, domains, depths, p.PerSite, p.Lease, p.Assistant, p.Limit)
	if err != nil {
		return nil, err
	}
	return scanTasks(rows, tasks)
}

func deref[T any](p *T) T {
	var z T
	if p == nil {
		return z
	}
	return *p
}

// scanTasks appends the tasks of a claim's RETURNING rows (taskColumns).
func scanTasks(rows pgx.Rows, tasks []frontier.Task) ([]frontier.Task, error) {
	var t frontier.Task
	var attempts int32
	var okAt, changedAt *time.Time
	var etag, lastMod *string
	var hash []byte
	var interval, span, changes, visits *float64
	_, err := pgx.ForEachRow(rows, []any{&t.URLID, &t.Token, &t.URL, &t.Domain, &t.Shard, &attempts, &t.CrawlID, &t.Depth, &t.SeedHost,
		&okAt, &etag, &lastMod, &hash, &interval, &span, &changes, &visits, &changedAt}, func() error {
		t.Attempts = int(attempts)
		t.Revisit = nil
		if okAt != nil || interval != nil {
			t.Revisit = &frontier.RevisitState{ETag: deref(etag), LastModified: deref(lastMod), Hash: hash,
				Interval: deref(interval), Span: deref(span), Changes: deref(changes), Visits: deref(visits)}
			if okAt != nil {
				t.Revisit.OKAt = *okAt
			}
			if changedAt != nil {
				t.Revisit.ChangedAt = *changedAt
			}
		}
		tasks = append(tasks, t)
		return nil
	})
	return tasks, err
}
