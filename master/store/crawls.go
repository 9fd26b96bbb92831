package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/crawlmaster/crawlmaster/master/frontier"
)

// Errors about crawls.
var (
	// ErrNoCrawl: no crawl has the name given.
	ErrNoCrawl = errors.New("no such crawl")
	// ErrCrawlExists: a crawl of that name exists already.
	ErrCrawlExists = errors.New("a crawl of that name exists already")
)

const crawlColumns = `id, name, scope, allow_re, deny_re, max_depth, site_budget, max_links,
	max_url_length, max_path_segments, max_repeated_segments, sitemaps, paused,
	revisit, revisit_done, revisit_failed, revisit_dead, revisit_min, revisit_max,
	coalesce(every, '0'), coalesce(cron, ''), overlap, coalesce(retention, '0'), rounds, next_round_at`

func scanCrawl(row pgx.Row) (frontier.Crawl, error) {
	var c frontier.Crawl
	var maxDepth, budget, links, urlLen, segs, reps int32
	var rounds int32
	var next *time.Time
	rv := &c.Revisit
	err := row.Scan(&c.ID, &c.Name, &c.Scope, &c.Allow, &c.Deny, &maxDepth, &budget, &links,
		&urlLen, &segs, &reps, &c.Sitemaps, &c.Paused,
		&rv.Mode, &rv.Done, &rv.Failed, &rv.Dead, &rv.Min, &rv.Max,
		&c.Schedule.Every, &c.Schedule.Cron, &c.Schedule.Overlap, &c.Retention, &rounds, &next)
	c.Rounds = int(rounds)
	if next != nil {
		c.NextRound = *next
	}
	c.MaxDepth, c.SiteBudget, c.MaxLinks = int(maxDepth), int(budget), int(links)
	c.MaxURLLength, c.MaxPathSegments, c.MaxRepeatedSegments = int(urlLen), int(segs), int(reps)
	return c, err
}

// CreateCrawl stores a new crawl (its ID is assigned) and returns it. The
// caller validates the policy (package admit); the table's checks are the
// last line. ErrCrawlExists when the name is taken.
func (s *Store) CreateCrawl(ctx context.Context, c frontier.Crawl) (frontier.Crawl, error) {
	if c.Allow == nil {
		c.Allow = []string{}
	}
	if c.Deny == nil {
		c.Deny = []string{}
	}
	rv := withRevisitDefaults(c.Revisit)
	if c.Schedule.Overlap == "" {
		c.Schedule.Overlap = frontier.OverlapSkip
	}
	row := s.pool.QueryRow(ctx, `
INSERT INTO crawls (name, scope, allow_re, deny_re, max_depth, site_budget, max_links,
    max_url_length, max_path_segments, max_repeated_segments, sitemaps, paused,
    revisit, revisit_done, revisit_failed, revisit_dead, revisit_min, revisit_max, every, overlap, retention, cron)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18,
    nullif($19::interval, '0'), $20, nullif($21::interval, '0'), nullif($22, ''))
RETURNING `+crawlColumns,
		c.Name, c.Scope, c.Allow, c.Deny, c.MaxDepth, c.SiteBudget, c.MaxLinks,
		c.MaxURLLength, c.MaxPathSegments, c.MaxRepeatedSegments, c.Sitemaps, c.Paused,
		rv.Mode, rv.Done, rv.Failed, rv.Dead, rv.Min, rv.Max, c.Schedule.Every, c.Schedule.Overlap, c.Retention, c.Schedule.Cron)
	out, err := scanCrawl(row)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		return frontier.Crawl{}, fmt.Errorf("crawl %q: %w", c.Name, ErrCrawlExists)
	}
	if err != nil {
		return frontier.Crawl{}, fmt.Errorf("create crawl %q: %w", c.Name, err)
	}
	return out, nil
}

// withRevisitDefaults gives a revisit policy left entirely unset (a crawl
// built without frontier.NewCrawl) frontier.DefaultRevisit's intervals.
func withRevisitDefaults(r frontier.Revisit) frontier.Revisit {
	d := frontier.DefaultRevisit(r.Mode)
	if r.Mode == "" {
		d.Mode = frontier.RevisitNone
	}
	if r.Done == 0 && r.Failed == 0 && r.Dead == 0 && r.Min == 0 && r.Max == 0 {
		return d // nothing set; explicit zero intervals ("never") come with bounds
	}
	r.Mode = d.Mode
	return r
}

// Crawls returns every crawl, oldest first.
func (s *Store) Crawls(ctx context.Context) ([]frontier.Crawl, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+crawlColumns+` FROM crawls ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("list crawls: %w", err)
	}
	defer rows.Close()
	var out []frontier.Crawl
	for rows.Next() {
		c, err := scanCrawl(rows)
		if err != nil {
			return nil, fmt.Errorf("list crawls: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list crawls: %w", err)
	}
	return out, nil
}

// Crawl returns the crawl called name, or ErrNoCrawl.
func (s *Store) Crawl(ctx context.Context, name string) (frontier.Crawl, error) {
	c, err := scanCrawl(s.pool.QueryRow(ctx, `SELECT `+crawlColumns+` FROM crawls WHERE name = $1`, name))
	if errors.Is(err, pgx.ErrNoRows) {
		return frontier.Crawl{}, fmt.Errorf("crawl %q: %w", name, ErrNoCrawl)
	}
	if err != nil {
		return frontier.Crawl{}, fmt.Errorf("read crawl %q: %w", name, err)
	}
	return c, nil
}

// SetPaused pauses or resumes the crawl called name: a leading master
// stops claiming a paused crawl's URLs within a few seconds (its batches
// in flight finish). ErrNoCrawl when there is none.
func (s *Store) SetPaused(ctx context.Context, name string, paused bool) error {
	tag, err := s.pool.Exec(ctx, `UPDATE crawls SET paused = $2 WHERE name = $1`, name, paused)
	if err != nil {
		return fmt.Errorf("pause crawl %q: %w", name, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("crawl %q: %w", name, ErrNoCrawl)
	}
	return nil
}

// CrawlCounts is a crawl's frontier by state and depth.
type CrawlCounts struct {
	CrawlID int32
	// ByDepth[d][state] counts URLs at depth d.
	ByDepth map[int16]map[frontier.State]int64
	// NewSince counts URLs that entered the frontier since the time asked
	// (discovered or enqueued); FetchedSince counts results written since.
	NewSince, FetchedSince int64
}

// Total counts the crawl's URLs in state s (all states when s is "").
func (c CrawlCounts) Total(s frontier.State) int64 {
	var n int64
	for _, byState := range c.ByDepth {
		for st, k := range byState {
			if s == "" || st == s {
				n += k
			}
		}
	}
	return n
}

// Discovered counts the crawl's URLs found by links (depth > 0).
func (c CrawlCounts) Discovered() int64 {
	var n int64
	for d, byState := range c.ByDepth {
		if d > 0 {
			for _, k := range byState {
				n += k
			}
		}
	}
	return n
}

// CrawlCounts counts every crawl's frontier by state and depth, and what
// entered it and was fetched since since. It scans the frontier: for
// `master status` and `master crawl`, not for a loop.
func (s *Store) CrawlCounts(ctx context.Context, since time.Time) (map[int32]*CrawlCounts, error) {
	out := map[int32]*CrawlCounts{}
	get := func(id int32) *CrawlCounts {
		c, ok := out[id]
		if !ok {
			c = &CrawlCounts{CrawlID: id, ByDepth: map[int16]map[frontier.State]int64{}}
			out[id] = c
		}
		return c
	}
	rows, err := s.pool.Query(ctx, `
SELECT crawl_id, depth, state, count(*), count(*) FILTER (WHERE created_at > $1)
FROM frontier GROUP BY crawl_id, depth, state`, since)
	if err != nil {
		return nil, fmt.Errorf("count crawls: %w", err)
	}
	var id int32
	var depth int16
	var state string
	var n, fresh int64
	_, err = pgx.ForEachRow(rows, []any{&id, &depth, &state, &n, &fresh}, func() error {
		c := get(id)
		if c.ByDepth[depth] == nil {
			c.ByDepth[depth] = map[frontier.State]int64{}
		}
		c.ByDepth[depth][frontier.State(state)] = n
		c.NewSince += fresh
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("count crawls: %w", err)
	}
	rows, err = s.pool.Query(ctx, `SELECT crawl_id, count(*) FROM results WHERE persisted_at > $1 GROUP BY crawl_id`, since)
	if err != nil {
		return nil, fmt.Errorf("count recent results: %w", err)
	}
	_, err = pgx.ForEachRow(rows, []any{&id, &n}, func() error {
		get(id).FetchedSince = n
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("count recent results: %w", err)
	}
	return out, nil
}

// AdvanceLevels raises the level of each crawl of scope "any" in ids by
// one, up to its max depth, once none of its URLs at or above the level is
// pending or leased: every page up to the level has then been fetched and
// its links admitted, so the depths of the URLs one level down are final.
// It returns how many crawls moved on.
func (s *Store) AdvanceLevels(ctx context.Context, ids []int32) (int64, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	tag, err := s.pool.Exec(ctx, `
UPDATE crawls k SET level = level + 1
WHERE k.id = ANY($1::integer[]) AND k.scope = 'any' AND k.level < k.max_depth
  AND NOT EXISTS (SELECT 1 FROM frontier f WHERE f.crawl_id = k.id AND f.state = 'pending' AND f.depth <= k.level)
  AND NOT EXISTS (SELECT 1 FROM frontier f WHERE f.lease_expires_at IS NOT NULL AND f.crawl_id = k.id AND f.depth <= k.level)`, ids)
	if err != nil {
		return 0, fmt.Errorf("advance crawl levels: %w", err)
	}
	return tag.RowsAffected(), nil
}
