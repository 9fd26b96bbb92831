package store

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/crawlmaster/crawlmaster/master/export"
)

// ResultQuery selects stored fetches for the results stream and export.
type ResultQuery struct {
	// CrawlID limits the query to one crawl; 0 reads every crawl.
	CrawlID int32
	// After is the cursor to resume from (the zero Cursor: the start).
	After export.Cursor
	// Since, when set, leaves out fetches made before it.
	Since time.Time
	// Bodies also reads each fetch's stored body.
	Bodies bool
	// Limit is the most records returned; <= 0 means 1000.
	Limit int
}

// resultsAfterSQL reads results in cursor order from after ($1, $2),
// only those written by transactions older than every running one: a
// transaction still running (or yet to start) has an xid at or above
// pg_snapshot_xmin and so lands after any cursor handed out now. Its
// index is results_cursor_idx.
const resultsAfterSQL = `
SELECT r.xid::text, r.lease_token, coalesce(k.name, ''), r.url, r.final_url, r.depth, r.state, r.error_class,
    r.error_message, r.http_status, r.content_type, r.title, r.fetched_at, r.persisted_at,
    r.fetch_duration_us, r.redirects, r.links, r.content_hash, r.body_size, r.body_truncated,
    CASE WHEN $5 THEN (SELECT b.body FROM bodies b WHERE b.lease_token = r.lease_token) END,
    r.not_modified, r.unchanged, r.refers_to, r.request_head, r.response_head
FROM results r LEFT JOIN crawls k ON k.id = r.crawl_id
WHERE (r.xid, r.lease_token) > ($1::text::xid8, $2)
  AND r.xid < pg_snapshot_xmin(pg_current_snapshot())
  AND ($3 = 0 OR r.crawl_id = $3)
  AND ($4::timestamptz IS NULL OR r.fetched_at >= $4)
ORDER BY r.xid, r.lease_token
LIMIT $6`

// ResultsAfter returns the stored fetches after q.After, in cursor order
// ((xid, lease token)): only those whose writing transaction is older
// than every transaction still running, so a write that commits later can
// never land behind a cursor already handed out. An empty answer means
// nothing more is visible yet; call again later to follow a running crawl.
// Each record carries its own cursor. A long-running write transaction
// elsewhere in the cluster holds the horizon back until it ends.
func (s *Store) ResultsAfter(ctx context.Context, q ResultQuery) ([]export.Record, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = 1000
	}
	var since any
	if !q.Since.IsZero() {
		since = q.Since
	}
	rows, err := s.pool.Query(ctx, resultsAfterSQL, strconv.FormatUint(q.After.XID, 10), q.After.Token,
		q.CrawlID, since, q.Bodies, limit)
	if err != nil {
		return nil, fmt.Errorf("read results: %w", err)
	}
	out := make([]export.Record, 0, min(limit, 1000))
	var r export.Record
	var xid string
	var depth int16
	var status, redirects, links int32
	var durUS int64
	var refers *time.Time
	_, err = pgx.ForEachRow(rows, []any{&xid, &r.LeaseToken, &r.Crawl, &r.URL, &r.FinalURL, &depth, &r.State, &r.Class,
		&r.ErrorMessage, &status, &r.ContentType, &r.Title, &r.FetchedAt, &r.PersistedAt,
		&durUS, &redirects, &links, &r.ContentHash, &r.BodySize, &r.BodyTruncated,
		&r.Body, &r.NotModified, &r.Unchanged, &refers, &r.RequestHead, &r.ResponseHead}, func() error {
		x, err := strconv.ParseUint(xid, 10, 64)
		if err != nil {
			return fmt.Errorf("xid %q: %w", xid, err)
		}
		rec := r
		rec.Cursor = export.Cursor{XID: x, Token: r.LeaseToken}
		rec.Depth, rec.HTTPStatus, rec.Redirects, rec.Links = int(depth), int(status), int(redirects), int(links)
		rec.Duration = time.Duration(durUS) * time.Microsecond
		rec.RefersTo = time.Time{}
		if refers != nil {
			rec.RefersTo = *refers
		}
		out = append(out, rec)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read results: %w", err)
	}
	return out, nil
}
