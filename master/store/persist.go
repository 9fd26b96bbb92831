package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/crawlmaster/crawlmaster/master/frontier"
)

var stagingColumns = []string{
	"url_id", "lease_token", "state", "next_fetch_at",
	"url", "final_url", "http_status", "content_type", "body_size", "body_truncated",
	"fetch_duration_us", "title", "content_hash", "error_class", "error_message",
	"robots", "redirects", "attempts", "assistant", "fetched_at", "body",
	"crawl_id", "depth", "noindex", "links",
	"request_head", "response_head", "not_modified", "unchanged", "refers_to",
	"etag", "last_modified", "last_hash", "last_ok_at", "revisit_at", "rv_interval", "rv_span", "rv_changes", "rv_visits", "changed_at",
}

// createStagingSQL makes the per-connection staging table. It is emptied at
// every commit, so a pooled connection reuses it without catalog churn.
const createStagingSQL = `
CREATE TEMP TABLE IF NOT EXISTS persist_staging (
    url_id bigint, lease_token bigint, state text, next_fetch_at timestamptz,
    url text, final_url text, http_status integer, content_type text, body_size bigint, body_truncated boolean,
    fetch_duration_us bigint, title text, content_hash bytea, error_class text, error_message text,
    robots text, redirects integer, attempts integer, assistant text, fetched_at timestamptz,
    -- Compressed here already: INSERT … SELECT copies a compressed datum
    -- as it is, so the staging column decides the stored compression.
    body bytea COMPRESSION lz4,
    crawl_id integer, depth smallint, noindex boolean, links integer,
    request_head bytea, response_head bytea, not_modified boolean, unchanged boolean, refers_to timestamptz,
    etag text, last_modified text, last_hash bytea, last_ok_at timestamptz, revisit_at timestamptz,
    rv_interval real, rv_span real, rv_changes real, rv_visits real, changed_at timestamptz
) ON COMMIT DELETE ROWS`

// applySQL moves staged outcomes into results, bodies and the frontier, but
// only for rows whose lease token is still current and still leased: the
// fencing rule. Everything else in the staging table is a stale result and
// is dropped. The statement's row count is the number accepted.
//
// The inserts need no ON CONFLICT, whose speculative insertion is costly
// (BENCHMARKS.md, item 4): a token has a results row only once its
// frontier row left 'leased' in this same statement, FOR UPDATE makes a
// concurrent write of the same token re-check that and drop it, and
// Persist stages each token once.
const applySQL = `
WITH acc AS (
    SELECT s.* FROM persist_staging s
    JOIN frontier f ON f.id = s.url_id AND f.lease_token = s.lease_token AND f.state = 'leased'
    FOR UPDATE OF f
), ins AS (
    INSERT INTO results (lease_token, url_id, url, final_url, state, http_status, content_type, body_size,
        body_truncated, fetch_duration_us, title, content_hash, error_class, error_message, robots,
        redirects, attempts, assistant, fetched_at, crawl_id, depth, noindex, links,
        request_head, response_head, not_modified, unchanged, refers_to)
    SELECT lease_token, url_id, url, final_url, state, http_status, content_type, body_size,
        body_truncated, fetch_duration_us, title, content_hash, error_class, error_message, robots,
        redirects, attempts, assistant, fetched_at, crawl_id, depth, noindex, links,
        request_head, response_head, not_modified, unchanged, refers_to
    FROM acc WHERE state <> 'pending'
), bod AS (
    -- Every accepted final outcome gets its results row in this statement.
    -- No join with ins: with the planner's one-row CTE estimates that join
    -- is a nested loop comparing every pair (quadratic; BENCHMARKS.md,
    -- item 3).
    INSERT INTO bodies (lease_token, body)
    SELECT lease_token, body FROM acc
    WHERE state = 'done' AND body IS NOT NULL AND length(body) > 0
)
UPDATE frontier f
SET state = a.state,
    lease_expires_at = NULL,
    next_fetch_at = CASE WHEN a.state = 'pending' THEN a.next_fetch_at ELSE f.next_fetch_at END,
    last_class = a.error_class,
    last_error = nullif(a.error_message, ''),
    attempts = a.attempts,
    -- The revisit state: decided in Go (package revisit) from the row's
    -- previous state, which the claim read under this same lease; a
    -- retry (pending) keeps the row's.
    etag = CASE WHEN a.state = 'pending' THEN f.etag ELSE a.etag END,
    last_modified = CASE WHEN a.state = 'pending' THEN f.last_modified ELSE a.last_modified END,
    last_hash = CASE WHEN a.state = 'pending' THEN f.last_hash ELSE a.last_hash END,
    last_ok_at = CASE WHEN a.state = 'pending' THEN f.last_ok_at ELSE a.last_ok_at END,
    revisit_at = CASE WHEN a.state = 'pending' THEN f.revisit_at ELSE a.revisit_at END,
    rv_interval = CASE WHEN a.state = 'pending' THEN f.rv_interval ELSE a.rv_interval END,
    rv_span = CASE WHEN a.state = 'pending' THEN f.rv_span ELSE a.rv_span END,
    rv_changes = CASE WHEN a.state = 'pending' THEN f.rv_changes ELSE a.rv_changes END,
    rv_visits = CASE WHEN a.state = 'pending' THEN f.rv_visits ELSE a.rv_visits END,
    changed_at = CASE WHEN a.state = 'pending' THEN f.changed_at ELSE a.changed_at END,
    updated_at = now()
FROM acc a
WHERE f.id = a.url_id
RETURNING a.state, a.lease_token, a.links > 0`

// Accepted counts a batch's accepted outcomes by the state they moved to.
type Accepted map[frontier.State]int64

// Total is the number of accepted outcomes.
func (a Accepted) Total() int64 {
	var n int64
	for _, c := range a {
		n += c
	}
	return n
}

// Written is what one Persist call stored.
type Written struct {
	Accepted Accepted // outcomes stored, by the state their URL moved to
	Admitted Admitted // links of those outcomes offered to the frontier
}

// Persist writes a batch of outcomes in one transaction: COPY into the
// staging table, then one fenced statement, then the links of the
// accepted outcomes (Admit). It returns what it stored; the other
// outcomes carried stale lease tokens and were dropped with their links.
// On error nothing was written and the caller may retry the same batch:
// results are keyed by lease token, so a retry never duplicates a row.
func (s *Store) Persist(ctx context.Context, outs []frontier.Outcome) (w Written, err error) {
	if len(outs) == 0 {
		return Written{Accepted: Accepted{}}, nil
	}
	outs = uniqueTokens(outs)
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, createStagingSQL); err != nil {
			return fmt.Errorf("create staging table: %w", err)
		}
		i := 0
		row := make([]any, len(stagingColumns))
		_, err := tx.CopyFrom(ctx, pgx.Identifier{"persist_staging"}, stagingColumns, pgx.CopyFromFunc(func() ([]any, error) {
			if i >= len(outs) {
				return nil, nil
			}
			o := &outs[i]
			i++
			var next any
			if o.State == frontier.StatePending {
				next = o.NextFetchAt
			}
			var body any
			if o.State == frontier.StateDone && len(o.Body) > 0 && !o.NoIndex {
				body = o.Body
			}
			row[0], row[1], row[2], row[3] = o.URLID, o.Token, string(o.State), next
			row[4], row[5], row[6], row[7], row[8], row[9] = o.URL, o.FinalURL, o.HTTPStatus, o.ContentType, o.BodySize, o.BodyTruncated
			row[10], row[11], row[12], row[13], row[14] = o.FetchDuration.Microseconds(), o.Title, o.ContentHash, string(o.Class), o.Error
			row[15], row[16], row[17], row[18], row[19], row[20] = o.Robots, o.Redirects, o.Attempts, o.Assistant, o.FetchedAt, body
			row[21], row[22], row[23], row[24] = crawlOrDefault(o.CrawlID), o.Depth, o.NoIndex, int32(len(o.Links))
			row[25], row[26], row[27], row[28], row[29] = nilIfEmpty(o.RequestHead), nilIfEmpty(o.ResponseHead), o.NotModified, o.Unchanged, timeOrNil(o.RefersTo)
			for k := 30; k < len(row); k++ {
				row[k] = nil
			}
			if r := o.Revisit; r != nil {
				row[30], row[31], row[32], row[33] = strOrNil(r.ETag), strOrNil(r.LastModified), nilIfEmpty(r.Hash), timeOrNil(r.OKAt)
				row[35], row[36], row[37], row[38] = float32OrNil(r.Interval), float32OrNil(r.Span), float32OrNil(r.Changes), float32OrNil(r.Visits)
				row[39] = timeOrNil(r.ChangedAt)
			}
			row[34] = timeOrNil(o.RevisitAt)
			return row, nil
		}))
		if err != nil {
			return fmt.Errorf("copy into staging: %w", err)
		}
		rows, err := tx.Query(ctx, applySQL)
		if err != nil {
			return fmt.Errorf("apply staged results: %w", err)
		}
		w = Written{Accepted: Accepted{}}
		var st string
		var tok int64
		var hasLinks bool
		var withLinks []int64 // accepted outcomes that bring links
		_, err = pgx.ForEachRow(rows, []any{&st, &tok, &hasLinks}, func() error {
			w.Accepted[frontier.State(st)]++
			if hasLinks {
				withLinks = append(withLinks, tok)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("apply staged results: %w", err)
		}
		if len(withLinks) > 0 {
			w.Admitted, err = admit(ctx, tx, outs, withLinks)
		}
		return err
	})
	if err != nil {
		return Written{}, fmt.Errorf("persist %d results: %w", len(outs), err)
	}
	return w, nil
}

func nilIfEmpty(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}

func strOrNil(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func timeOrNil(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

func float32OrNil(f float64) any {
	if f == 0 {
		return nil
	}
	return float32(f)
}

// crawlOrDefault is the crawl of an outcome that names none (tests, and
// callers that predate named crawls).
func crawlOrDefault(id int32) int32 {
	if id == 0 {
		return frontier.DefaultCrawlID
	}
	return id
}

// uniqueTokens drops outcomes whose lease token came earlier in outs (a
// result delivered twice): the first one stands, as it would have if the
// two had come in separate batches. outs is not modified.
func uniqueTokens(outs []frontier.Outcome) []frontier.Outcome {
	seen := make(map[int64]struct{}, len(outs))
	for i, o := range outs {
		if _, dup := seen[o.Token]; dup {
			out := append([]frontier.Outcome(nil), outs[:i]...)
			for _, o := range outs[i:] {
				if _, dup := seen[o.Token]; !dup {
					seen[o.Token] = struct{}{}
					out = append(out, o)
				}
			}
			return out
		}
		seen[o.Token] = struct{}{}
	}
	return outs
}
