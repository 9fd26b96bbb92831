package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/crawlmaster/crawlmaster/master/frontier"
)

// NewURL is a normalised URL ready for the frontier, as a seed.
type NewURL struct {
	URL      string
	Host     string
	Domain   string // its site: frontier.Shard is computed from it
	Priority int32
}

// ImportSource names where imported URLs came from (stored in frontier.source).
type ImportSource string

// Import sources.
const (
	SourceTranco  ImportSource = "tranco"
	SourceEnqueue ImportSource = "enqueue"
	SourceAPI     ImportSource = "api" // CrawlManager.SubmitURLs
)

// ImportChunk is how many rows Import sends per transaction: big enough to
// amortise the round trips, small enough that a failure loses little work
// and memory stays flat.
const ImportChunk = 20000

// Insert adds urls to crawl's frontier as pending seeds (depth 0),
// skipping any URL the crawl already has (whatever its state), in one
// transaction. It returns how many rows were new. Callers stream large
// inputs through it in chunks of ImportChunk. For a crawl that discovers
// links, the seeds count against their sites' budgets and get priority 0,
// so every site starts before any site's discovered URLs (which are
// ordered by their site's admission sequence); for the default crawl the
// priority given (the Tranco rank) orders the claim.
func (s *Store) Insert(ctx context.Context, crawl frontier.Crawl, urls []NewURL, src ImportSource) (int64, error) {
	if len(urls) == 0 {
		return 0, nil
	}
	var inserted int64
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := stageImport(ctx, tx, urls); err != nil {
			return err
		}
		// ORDER BY keeps the heap roughly in claim order, which makes the
		// claim's index scan touch fewer pages.
		if !crawl.Discovers() {
			tag, err := tx.Exec(ctx, `
INSERT INTO frontier (url, url_key, host, domain, shard, priority, source, crawl_id)
SELECT url, url_key, host, domain, shard, priority, $1, $2 FROM import_staging ORDER BY priority
ON CONFLICT (crawl_id, url_key) DO NOTHING`, string(src), crawl.ID)
			if err != nil {
				return fmt.Errorf("insert into frontier: %w", err)
			}
			inserted = tag.RowsAffected()
			return nil
		}
		err := tx.QueryRow(ctx, `
WITH ins AS (
    INSERT INTO frontier (url, url_key, host, domain, shard, priority, source, crawl_id)
    SELECT url, url_key, host, domain, shard, 0, $1, $2 FROM import_staging ORDER BY priority
    ON CONFLICT (crawl_id, url_key) DO NOTHING
    RETURNING domain
), counted AS (
    INSERT INTO sites (crawl_id, site, admitted)
    SELECT $2, domain, count(*) FROM ins GROUP BY domain
    ON CONFLICT (crawl_id, site) DO UPDATE SET admitted = sites.admitted + EXCLUDED.admitted
)
SELECT count(*) FROM ins`, string(src), crawl.ID).Scan(&inserted)
		if err != nil {
			return fmt.Errorf("insert into frontier: %w", err)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("import %d urls: %w", len(urls), err)
	}
	return inserted, nil
}

// stageImport copies urls into the transaction's import_staging table.
func stageImport(ctx context.Context, tx pgx.Tx, urls []NewURL) error {
	if _, err := tx.Exec(ctx, `CREATE TEMP TABLE IF NOT EXISTS import_staging (
		url text, url_key uuid, host text, domain text, shard smallint, priority integer) ON COMMIT DELETE ROWS`); err != nil {
		return fmt.Errorf("create import staging: %w", err)
	}
	i := 0
	row := make([]any, 6)
	_, err := tx.CopyFrom(ctx, pgx.Identifier{"import_staging"},
		[]string{"url", "url_key", "host", "domain", "shard", "priority"},
		pgx.CopyFromFunc(func() ([]any, error) {
			if i >= len(urls) {
				return nil, nil
			}
			u := &urls[i]
			i++
			row[0], row[1], row[2], row[3], row[4], row[5] = u.URL, frontier.Key(u.URL), u.Host, u.Domain, frontier.Shard(u.Domain), u.Priority
			return row, nil
		}))
	if err != nil {
		return fmt.Errorf("copy into import staging: %w", err)
	}
	return nil
}

// insertSeedsSQL is Insert's statement for either kind of crawl ($3:
// whether it discovers links), returning the keys of the rows that were
// new.
const insertSeedsSQL = `
WITH ins AS (
    INSERT INTO frontier (url, url_key, host, domain, shard, priority, source, crawl_id)
    SELECT url, url_key, host, domain, shard, CASE WHEN $3 THEN 0 ELSE priority END, $1, $2
    FROM import_staging ORDER BY priority
    ON CONFLICT (crawl_id, url_key) DO NOTHING
    RETURNING url_key, domain
), counted AS (
    INSERT INTO sites (crawl_id, site, admitted)
    SELECT $2, domain, count(*) FROM ins WHERE $3 GROUP BY domain
    ON CONFLICT (crawl_id, site) DO UPDATE SET admitted = sites.admitted + EXCLUDED.admitted
)
SELECT url_key FROM ins`

// InsertSeeds is Insert reporting, for each of urls, whether it was new
// to the crawl (in one transaction: all of them are stored, or none). A
// URL given twice is new at most once, at its first occurrence. For the
// API's per-URL answers; imports use Insert.
func (s *Store) InsertSeeds(ctx context.Context, crawl frontier.Crawl, urls []NewURL, src ImportSource) ([]bool, error) {
	isNew := make([]bool, len(urls))
	if len(urls) == 0 {
		return isNew, nil
	}
	fresh := map[[16]byte]bool{}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := stageImport(ctx, tx, urls); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, insertSeedsSQL, string(src), crawl.ID, crawl.Discovers())
		if err != nil {
			return fmt.Errorf("insert into frontier: %w", err)
		}
		var key [16]byte
		_, err = pgx.ForEachRow(rows, []any{&key}, func() error {
			fresh[key] = true
			return nil
		})
		if err != nil {
			return fmt.Errorf("insert into frontier: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("insert %d seeds: %w", len(urls), err)
	}
	for i, u := range urls {
		k := frontier.Key(u.URL)
		isNew[i] = fresh[k]
		delete(fresh, k) // a repeat of the URL is not new
	}
	return isNew, nil
}
