package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/crawlmaster/crawlmaster/master/frontier"
)

// NewURL is a normalised URL ready for the frontier.
type NewURL struct {
	URL      string
	Host     string
	Domain   string
	Priority int32
}

// ImportSource names where imported URLs came from (stored in frontier.source).
type ImportSource string

// Import sources.
const (
	SourceTranco  ImportSource = "tranco"
	SourceEnqueue ImportSource = "enqueue"
)

// ImportChunk is how many rows Import sends per transaction: big enough to
// amortise the round trips, small enough that a failure loses little work
// and memory stays flat.
const ImportChunk = 20000

// Insert adds urls to the frontier as pending, skipping any URL already
// present (whatever its state), in one transaction. It returns how many rows
// were new. Callers stream large inputs through it in chunks of
// ImportChunk.
func (s *Store) Insert(ctx context.Context, urls []NewURL, src ImportSource) (int64, error) {
	if len(urls) == 0 {
		return 0, nil
	}
	var inserted int64
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `CREATE TEMP TABLE IF NOT EXISTS import_staging (
			url text, host text, domain text, shard smallint, priority integer) ON COMMIT DELETE ROWS`); err != nil {
			return fmt.Errorf("create import staging: %w", err)
		}
		i := 0
		row := make([]any, 5)
		_, err := tx.CopyFrom(ctx, pgx.Identifier{"import_staging"},
			[]string{"url", "host", "domain", "shard", "priority"},
			pgx.CopyFromFunc(func() ([]any, error) {
				if i >= len(urls) {
					return nil, nil
				}
				u := &urls[i]
				i++
				row[0], row[1], row[2], row[3], row[4] = u.URL, u.Host, u.Domain, frontier.Shard(u.Domain), u.Priority
				return row, nil
			}))
		if err != nil {
			return fmt.Errorf("copy into import staging: %w", err)
		}
		// ORDER BY keeps the heap roughly in priority order, which makes the
		// claim's index scan touch fewer pages.
		tag, err := tx.Exec(ctx, `
INSERT INTO frontier (url, host, domain, shard, priority, source)
SELECT url, host, domain, shard, priority, $1 FROM import_staging ORDER BY priority
ON CONFLICT (url) DO NOTHING`, string(src))
		if err != nil {
			return fmt.Errorf("insert into frontier: %w", err)
		}
		inserted = tag.RowsAffected()
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("import %d urls: %w", len(urls), err)
	}
	return inserted, nil
}
