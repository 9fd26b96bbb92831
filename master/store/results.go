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
	// Limit is the most results scanned (of every crawl; those q selects
	// are returned); <= 0 means 1000.
	Limit int
}

// scanResultsSQL reads the keys of up to $3 results after ($1, $2) in
// cursor order, only those written by transactions older than every
// transaction still running: a transaction still running (or yet to
// start) has an xid at or above pg_snapshot_xmin and so lands after any
// cursor handed out now. Its index is results_cursor_idx. Every crawl's
// rows are scanned (the crawl and time filters are applied to the page),
// so a reader of a quiet crawl moves past the busy crawls' rows instead of
// scanning them again at every poll.
const scanResultsSQL = `
SELECT xid::text, lease_token, crawl_id, fetched_at FROM results
WHERE (xid, lease_token) > ($1::text::xid8, $2)
  AND xid < pg_snapshot_xmin(pg_current_snapshot())
ORDER BY xid, lease_token
LIMIT $3`

// readResultsSQL reads the records of the results $1, in cursor order.
const readResultsSQL = `
SELECT r.lease_token, coalesce(k.name, ''), r.url, r.final_url, r.depth, r.state, r.error_class,
    r.error_message, r.http_status, r.content_type, r.title, r.fetched_at, r.persisted_at,
    r.fetch_duration_us, r.redirects, r.links, r.content_hash, r.body_size, r.body_truncated,
    CASE WHEN $2 THEN (SELECT b.body FROM bodies b WHERE b.lease_token = r.lease_token) END,
    r.not_modified, r.unchanged, r.refers_to, r.request_head, r.response_head
FROM results r LEFT JOIN crawls k ON k.id = r.crawl_id
WHERE r.lease_token = ANY($1::bigint[])
ORDER BY r.xid, r.lease_token`

// ResultPage is one page of the results stream.
type ResultPage struct {
	// Records are the page's fetches that the query selects (crawl,
	// since), in cursor order, each with its cursor.
	Records []export.Record
	// Next is where the next page starts: the last result scanned,
	// selected or not (q.After when nothing was).
	Next export.Cursor
	// More: the page was full; more may be visible at once.
	More bool
}

// ResultsAfter scans the next q.Limit stored fetches after q.After in
// cursor order ((xid, lease token)) and returns those q selects. Only
// fetches whose writing transaction is older than every transaction still
// running are visible, so a write that commits later can never land
// behind a cursor already handed out. A page that is not More means
// nothing more is visible yet; ask again later (after Next) to follow a
// running crawl. A long-running write transaction elsewhere in the
// cluster holds the horizon back until it ends.
func (s *Store) ResultsAfter(ctx context.Context, q ResultQuery) (ResultPage, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = 1000
	}
	page := ResultPage{Next: q.After}
	rows, err := s.pool.Query(ctx, scanResultsSQL, strconv.FormatUint(q.After.XID, 10), q.After.Token, limit)
	if err != nil {
		return page, fmt.Errorf("scan results: %w", err)
	}
	var xid string
	var tok int64
	var crawl int32
	var at time.Time
	var want []int64
	cursors := map[int64]export.Cursor{}
	n := 0
	_, err = pgx.ForEachRow(rows, []any{&xid, &tok, &crawl, &at}, func() error {
		x, err := strconv.ParseUint(xid, 10, 64)
		if err != nil {
			return fmt.Errorf("xid %q: %w", xid, err)
		}
		n++
		page.Next = export.Cursor{XID: x, Token: tok}
		if (q.CrawlID == 0 || crawl == q.CrawlID) && (q.Since.IsZero() || !at.Before(q.Since)) {
			want = append(want, tok)
			cursors[tok] = page.Next
		}
		return nil
	})
	if err != nil {
		return ResultPage{Next: q.After}, fmt.Errorf("scan results: %w", err)
	}
	page.More = n == limit
	if len(want) == 0 {
		return page, nil
	}
	if page.Records, err = s.readRecords(ctx, want, q.Bodies, cursors); err != nil {
		return ResultPage{Next: q.After}, err
	}
	return page, nil
}

// readRecords reads the records of tokens, in cursor order. A result
// deleted since it was scanned (retention) is left out.
func (s *Store) readRecords(ctx context.Context, tokens []int64, bodies bool, cursors map[int64]export.Cursor) ([]export.Record, error) {
	rows, err := s.pool.Query(ctx, readResultsSQL, tokens, bodies)
	if err != nil {
		return nil, fmt.Errorf("read results: %w", err)
	}
	out := make([]export.Record, 0, len(tokens))
	var r export.Record
	var depth int16
	var status, redirects, links int32
	var durUS int64
	var refers *time.Time
	_, err = pgx.ForEachRow(rows, []any{&r.LeaseToken, &r.Crawl, &r.URL, &r.FinalURL, &depth, &r.State, &r.Class,
		&r.ErrorMessage, &status, &r.ContentType, &r.Title, &r.FetchedAt, &r.PersistedAt,
		&durUS, &redirects, &links, &r.ContentHash, &r.BodySize, &r.BodyTruncated,
		&r.Body, &r.NotModified, &r.Unchanged, &refers, &r.RequestHead, &r.ResponseHead}, func() error {
		rec := r
		rec.Cursor = cursors[r.LeaseToken]
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
