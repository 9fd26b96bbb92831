package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/crawlmaster/crawlmaster/master/frontier"
)

// Admitted counts what became of the links offered with accepted results.
type Admitted struct {
	Offered    int64 // distinct links (a URL found twice in one write counts once)
	Known      int64 // already in their crawl's frontier
	Shallower  int64 // of those, pending and now found at a smaller depth (moved up)
	New        int64 // entered the frontier
	OverBudget int64 // refused: their site had used its budget
}

var linkColumns = []string{"parent_token", "crawl_id", "url", "url_key", "host", "domain", "shard", "depth", "seed_host", "ord"}

const createLinkStagingSQL = `
CREATE TEMP TABLE IF NOT EXISTS link_staging (
    parent_token bigint, crawl_id integer, url text, url_key uuid, host text, domain text, shard smallint,
    depth smallint, seed_host text, ord integer
) ON COMMIT DELETE ROWS`

// admitSQL inserts the staged links of the accepted results ($1: their
// lease tokens; links of stale results stay in the staging table and are
// dropped at commit) in one set-based statement:
//
//   - a URL found several times in the write is offered once, at its
//     smallest depth;
//   - URLs already in their crawl's frontier are skipped: the unique key
//     (crawl_id, url_key) answers "seen?" for any frontier size, with no
//     seen-set in the master's memory;
//   - a known URL still pending at a greater depth takes the smaller one
//     (and the seed of that path). The claim's level barrier keeps a site's
//     deeper URLs waiting while any shallower one is pending or its site in
//     flight, so this can only happen before the URL is fetched: the
//     target of a redirect keeps its page's depth, and the page an anchor
//     on a sibling page already admitted one level deeper is fetched with
//     the right depth;
//   - each site admits at most its crawl's site_budget URLs in all
//     (sites.admitted, seeds included), shallowest first;
//   - a new URL's priority is its site's admission sequence number, so
//     the claim, which takes the lowest priorities first, goes round the
//     sites breadth-first instead of draining one site (seeds of
//     discovering crawls have priority 0).
//
// Writes are serialised (one writer), so the budget counters cannot race;
// ON CONFLICT only guards against a concurrent import of the same URL.
const admitSQL = `
WITH cand AS (
    SELECT DISTINCT ON (l.crawl_id, l.url_key) l.*
    FROM link_staging l
    WHERE l.parent_token = ANY($1::bigint[])
    ORDER BY l.crawl_id, l.url_key, l.depth, l.ord
), lowered AS (
    UPDATE frontier f SET depth = c.depth, seed_host = c.seed_host
    FROM cand c
    WHERE f.crawl_id = c.crawl_id AND f.url_key = c.url_key AND f.state = 'pending' AND f.depth > c.depth
    RETURNING 1
), fresh AS (
    SELECT c.*, row_number() OVER (PARTITION BY c.crawl_id, c.domain ORDER BY c.depth, c.ord) AS rn
    FROM cand c
    WHERE NOT EXISTS (SELECT 1 FROM frontier f WHERE f.crawl_id = c.crawl_id AND f.url_key = c.url_key)
), fit AS (
    SELECT fr.*, coalesce(s.admitted, 0) + fr.rn AS seq
    FROM fresh fr
    JOIN crawls k ON k.id = fr.crawl_id
    LEFT JOIN sites s ON s.crawl_id = fr.crawl_id AND s.site = fr.domain
    WHERE coalesce(s.admitted, 0) + fr.rn <= k.site_budget
), ins AS (
    INSERT INTO frontier (url, url_key, host, domain, shard, priority, crawl_id, depth, seed_host, source)
    SELECT url, url_key, host, domain, shard, seq, crawl_id, depth, seed_host, 'link' FROM fit
    ORDER BY seq
    ON CONFLICT (crawl_id, url_key) DO NOTHING
    RETURNING crawl_id, domain
), counted AS (
    INSERT INTO sites (crawl_id, site, admitted)
    SELECT crawl_id, domain, count(*) FROM ins GROUP BY crawl_id, domain
    ON CONFLICT (crawl_id, site) DO UPDATE SET admitted = sites.admitted + EXCLUDED.admitted
)
SELECT (SELECT count(*) FROM cand), (SELECT count(*) FROM fresh), (SELECT count(*) FROM ins), (SELECT count(*) FROM lowered)`

// admit stages the links of outs and admits those of the accepted
// outcomes (tokens) inside the result write's transaction, so a result
// and its links are stored together or not at all.
func admit(ctx context.Context, tx pgx.Tx, outs []frontier.Outcome, tokens []int64) (Admitted, error) {
	if _, err := tx.Exec(ctx, createLinkStagingSQL); err != nil {
		return Admitted{}, fmt.Errorf("create link staging table: %w", err)
	}
	want := make(map[int64]bool, len(tokens))
	for _, t := range tokens {
		want[t] = true
	}
	oi, li, ord := 0, 0, int32(0)
	row := make([]any, len(linkColumns))
	_, err := tx.CopyFrom(ctx, pgx.Identifier{"link_staging"}, linkColumns, pgx.CopyFromFunc(func() ([]any, error) {
		for oi < len(outs) && (li >= len(outs[oi].Links) || !want[outs[oi].Token]) {
			oi, li = oi+1, 0
		}
		if oi >= len(outs) {
			return nil, nil
		}
		o, l := &outs[oi], &outs[oi].Links[li]
		li++
		ord++
		row[0], row[1], row[2], row[3], row[4] = o.Token, crawlOrDefault(o.CrawlID), l.URL, l.Key, l.Host
		row[5], row[6], row[7], row[8], row[9] = l.Domain, l.Shard, l.Depth, l.SeedHost, ord
		return row, nil
	}))
	if err != nil {
		return Admitted{}, fmt.Errorf("copy links into staging: %w", err)
	}
	var a Admitted
	var fresh int64
	if err := tx.QueryRow(ctx, admitSQL, tokens).Scan(&a.Offered, &fresh, &a.New, &a.Shallower); err != nil {
		return Admitted{}, fmt.Errorf("admit links: %w", err)
	}
	a.Known, a.OverBudget = a.Offered-fresh, fresh-a.New
	return a, nil
}
