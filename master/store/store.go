package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/crawlmaster/crawlmaster/master/frontier"
)

// Store is the master's handle on PostgreSQL. It is safe for concurrent use.
type Store struct {
	pool *pgxpool.Pool
}

// New wraps an open pool. The caller closes the pool after the Store's last
// use.
func New(pool *pgxpool.Pool) *Store { return &Store{pool: pool} }

// Open connects to url, checks the connection and returns a Store and its
// pool (which the caller closes).
func Open(ctx context.Context, url string, maxConns int32) (*Store, *pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrBadURL, err)
	}
	if maxConns > 0 {
		cfg.MaxConns = maxConns
	}
	cfg.ConnConfig.RuntimeParams["application_name"] = "crawlmaster"
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("connect to database: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, nil, fmt.Errorf("connect to database %s:%d/%s: %w", cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.Database, err)
	}
	return New(pool), pool, nil
}

// Pool returns the underlying pool.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// claimSQL leases up to $2 due pending URLs of the given shards, best
// priority first, skipping rows other transactions hold, crawls that are
// paused ($3) and sites that already have a leased URL (so a site is
// never in flight twice). The lease token and expiry are written in the
// same statement: a claimed row is never seen without its lease.
//
// The level barrier makes depth exact: a URL at depth d > 0 is claimed
// only when no URL of its crawl and site is still pending at a smaller
// depth. With the in-flight rule, every page of depth < d of the site has
// then been fetched and its links admitted (a site's results and links
// are written in the transaction that ends their leases), so no shorter
// path to the URL can still turn up: each page is fetched once, at its
// shortest link distance from the seed, whatever order batches finish in.
// Seeds (depth 0) skip the probe. In crawls of scope "any" ($4) a link
// can lead to any site, so the barrier is the crawl's: only URLs up to the
// crawl's level are claimed, and AdvanceLevels raises the level once
// nothing shallower is pending or leased.
//
// Its shapes matter for speed (BENCHMARKS.md, "What profiling showed",
// items 1, 5 and 11): OFFSET 0 keeps the planner from flattening the NOT
// EXISTS into an anti-join that compares every candidate with every
// leased row (quadratic in the leases), so it stays an index probe per
// candidate; the
// probe tests lease_expires_at IS NOT NULL rather than state = 'leased'
// (the same rows, by the table's CHECK) so that only
// frontier_inflight_domain_idx can serve it: with state = 'leased' the
// planner sometimes picked another partial index on that predicate and
// filtered every lease by domain, per candidate (migration 0003); and
// id = ANY(ARRAY(...)) makes the outer update probe the primary key instead
// of hash-joining a scan of the whole frontier. The owned shards come as a
// NumShards-long boolean mask indexed by shard, not as "shard = ANY(list)":
// the planner estimated the selectivity of every list element against the
// column's statistics on each claim, a cost paid per claim for nothing.
const claimSQL = leaseSQL + ` f.id = ANY(ARRAY(
    SELECT c.id` + claimFromSQL + `))
RETURNING ` + taskColumns

// leaseSQL leases the rows its WHERE (appended) selects: a new fencing
// token, the lease's expiry ($5, an interval) and holder ($6). Shared by
// claimSQL and leaseSitesSQL (topup.go).
const leaseSQL = `
UPDATE frontier f
SET state = 'leased',
    lease_token = nextval('lease_token_seq'),
    lease_expires_at = now() + $5::interval,
    assistant = $6,
    updated_at = now()
WHERE`

// claimFromSQL is the selection of claimSQL, shared with claimSitesSQL
// (topup.go). $1: owned shards mask, $2: limit, $3: paused crawls, $4:
// crawls of scope any.
const claimFromSQL = `
    FROM frontier c
    WHERE c.state = 'pending'
      AND c.next_fetch_at <= now()
      AND ($1::boolean[])[c.shard + 1]
      AND c.crawl_id <> ALL($3::integer[])
      AND NOT EXISTS (SELECT 1 FROM frontier l WHERE l.domain = c.domain AND l.lease_expires_at IS NOT NULL OFFSET 0)
      AND (c.depth = 0 OR NOT EXISTS (SELECT 1 FROM frontier p
          WHERE p.crawl_id = c.crawl_id AND p.domain = c.domain AND p.state = 'pending' AND p.depth < c.depth OFFSET 0))
      AND (c.depth = 0 OR c.crawl_id <> ALL($4::integer[])
          OR c.depth <= (SELECT k.level FROM crawls k WHERE k.id = c.crawl_id))
    ORDER BY c.priority, c.id
    LIMIT $2
    FOR UPDATE OF c SKIP LOCKED`

// taskColumns are the columns a claim returns, as scanTasks reads them.
const taskColumns = `f.id, f.lease_token, f.url, f.domain, f.shard, f.attempts + 1, f.crawl_id, f.depth, coalesce(f.seed_host, f.host),
    f.last_ok_at, f.etag, f.last_modified, f.last_hash, f.rv_interval, f.rv_span, f.rv_changes, f.rv_visits, f.changed_at`

// claimLockKey serialises claims. The "domain not already leased" check
// reads the statement's snapshot, so two claims running at once could each
// lease a different URL of one domain; under this transaction lock each
// claim's snapshot is taken after the previous claim committed.
const claimLockKey int64 = 0x63726177_636c6169

// Claim leases up to p.Limit pending URLs. It returns fewer (possibly none)
// when fewer are due. Concurrent claims are serialised in the database, so
// a domain is never leased twice. With p.PerSite > 1 it takes up to
// PerSite URLs of each site it claims (claimSites).
func (s *Store) Claim(ctx context.Context, p frontier.Claim) ([]frontier.Task, error) {
	if p.Limit <= 0 || len(p.Shards) == 0 {
		return nil, nil
	}
	mask := make([]bool, frontier.NumShards)
	for _, sh := range p.Shards {
		if sh < 0 || int(sh) >= frontier.NumShards {
			return nil, fmt.Errorf("claim: shard %d out of range [0, %d)", sh, frontier.NumShards)
		}
		mask[sh] = true
	}
	tasks := make([]frontier.Task, 0, p.Limit)
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, claimLockKey); err != nil {
			return err
		}
		paused := p.Paused
		if paused == nil {
			paused = []int32{}
		}
		anyScope := p.AnyScope
		if anyScope == nil {
			anyScope = []int32{}
		}
		args := []any{mask, p.Limit, paused, anyScope, p.Lease, p.Assistant}
		var err error
		if p.PerSite > 1 {
			tasks, err = claimSites(ctx, tx, p, args, tasks)
			return err
		}
		rows, err := tx.Query(ctx, claimSQL, args...)
		if err != nil {
			return err
		}
		tasks, err = scanTasks(rows, tasks)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("claim: %w", err)
	}
	return tasks, nil
}

// Release returns leased URLs to pending at once, e.g. when their batch's
// stream broke or the master is shutting down. With charge true the release
// counts an attempt (the URL's page was requested and its result is lost:
// a page that kills assistants must not loop forever); otherwise attempts
// are left as they are. Tokens that are no longer current are ignored. It
// returns how many rows it released.
func (s *Store) Release(ctx context.Context, tokens []int64, charge bool) (int64, error) {
	if len(tokens) == 0 {
		return 0, nil
	}
	tag, err := s.pool.Exec(ctx, `
UPDATE frontier
SET state = 'pending', lease_expires_at = NULL, updated_at = now(),
    attempts = CASE WHEN $2 THEN attempts + 1 ELSE attempts END
WHERE lease_token = ANY($1::bigint[]) AND state = 'leased'`, tokens, charge)
	if err != nil {
		return 0, fmt.Errorf("release %d leases: %w", len(tokens), err)
	}
	return tag.RowsAffected(), nil
}

// ReleaseUnheld returns to pending, uncharged, the leases made for
// assistant whose tokens are not in held: a claim whose commit reached
// the database but whose reply was lost leaves such leases behind, which
// nothing else would end before they expire. Tokens no longer current
// are ignored, as by Release.
func (s *Store) ReleaseUnheld(ctx context.Context, assistant string, held []int64) (int64, error) {
	if held == nil {
		held = []int64{} // NULL would make "<> ALL" match nothing
	}
	tag, err := s.pool.Exec(ctx, `
UPDATE frontier
SET state = 'pending', lease_expires_at = NULL, updated_at = now()
WHERE lease_expires_at IS NOT NULL AND state = 'leased' AND assistant = $1
  AND lease_token <> ALL($2::bigint[])`, assistant, held)
	if err != nil {
		return 0, fmt.Errorf("release leases of %s the master does not hold: %w", assistant, err)
	}
	return tag.RowsAffected(), nil
}

// Renew extends the leases of tokens the master still holds, so a batch
// that is slow (politeness delays, timeouts) is not rescued under it.
func (s *Store) Renew(ctx context.Context, tokens []int64, lease time.Duration) (int64, error) {
	if len(tokens) == 0 {
		return 0, nil
	}
	tag, err := s.pool.Exec(ctx, `
UPDATE frontier SET lease_expires_at = now() + $2::interval
WHERE lease_token = ANY($1::bigint[]) AND state = 'leased'`, tokens, lease)
	if err != nil {
		return 0, fmt.Errorf("renew %d leases: %w", len(tokens), err)
	}
	return tag.RowsAffected(), nil
}

// RescueExpired returns every lease past its expiry to pending, charging
// no attempt: nothing says the URL was requested. It returns how many it
// rescued.
func (s *Store) RescueExpired(ctx context.Context) (int64, error) {
	tag, err := s.pool.Exec(ctx, `
UPDATE frontier SET state = 'pending', lease_expires_at = NULL, updated_at = now()
WHERE state = 'leased' AND lease_expires_at < now()`)
	if err != nil {
		return 0, fmt.Errorf("rescue expired leases: %w", err)
	}
	return tag.RowsAffected(), nil
}

// ReleaseAll returns every leased URL to pending, charging no attempt. The
// leader calls it once at start: any lease then belongs to a previous
// incarnation, whose results can no longer arrive.
func (s *Store) ReleaseAll(ctx context.Context) (int64, error) {
	tag, err := s.pool.Exec(ctx, `
UPDATE frontier SET state = 'pending', lease_expires_at = NULL, updated_at = now()
WHERE state = 'leased'`)
	if err != nil {
		return 0, fmt.Errorf("release leases of a previous master: %w", err)
	}
	return tag.RowsAffected(), nil
}

// Analyze refreshes the planner's statistics of the frontier. Imports call
// it at their end and a master when it starts leading: the claim's plan
// depends on knowing how many URLs are pending (with stale statistics after
// a large import, the planner sorts every pending row on each claim).
func (s *Store) Analyze(ctx context.Context) error {
	if _, err := s.pool.Exec(ctx, `ANALYZE frontier`); err != nil {
		return fmt.Errorf("analyze frontier: %w", err)
	}
	return nil
}

// Stats summarises the frontier.
type Stats struct {
	Counts map[frontier.State]int64
	// OldestDue is the next_fetch_at of the longest-waiting due pending URL;
	// zero when none is due.
	OldestDue time.Time
}

// Total is the number of frontier rows.
func (st Stats) Total() int64 {
	var n int64
	for _, c := range st.Counts {
		n += c
	}
	return n
}

// Final is the number of rows in a final state.
func (st Stats) Final() int64 {
	return st.Counts[frontier.StateDone] + st.Counts[frontier.StateFailed] + st.Counts[frontier.StateDead]
}

// Stats counts frontier rows by state in one scan.
func (s *Store) Stats(ctx context.Context) (Stats, error) {
	st := Stats{Counts: map[frontier.State]int64{}}
	rows, err := s.pool.Query(ctx, `
SELECT state, count(*), min(next_fetch_at) FILTER (WHERE state = 'pending' AND next_fetch_at <= now())
FROM frontier GROUP BY state`)
	if err != nil {
		return st, fmt.Errorf("frontier stats: %w", err)
	}
	var state string
	var n int64
	var oldest *time.Time
	_, err = pgx.ForEachRow(rows, []any{&state, &n, &oldest}, func() error {
		st.Counts[frontier.State(state)] = n
		if oldest != nil {
			st.OldestDue = *oldest
		}
		return nil
	})
	if err != nil {
		return st, fmt.Errorf("frontier stats: %w", err)
	}
	return st, nil
}

// RecentResults counts results persisted since the given time.
func (s *Store) RecentResults(ctx context.Context, since time.Time) (int64, error) {
	var n int64
	err := s.pool.QueryRow(ctx, `SELECT count(*) FROM results WHERE persisted_at > $1`, since).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count recent results: %w", err)
	}
	return n, nil
}

// Errors of the store.
var (
	// ErrNoStatus is returned by ReadStatus when no master has run yet.
	ErrNoStatus = errors.New("store: no master has written its status yet")
	// ErrBadURL is returned by Open for a malformed database URL.
	ErrBadURL = errors.New("database.url is malformed")
)

// OutcomeCount is the number of final URLs with one state and class.
type OutcomeCount struct {
	State frontier.State
	Class string
	Count int64
}

// Outcomes counts final frontier rows by state and last error class.
func (s *Store) Outcomes(ctx context.Context) ([]OutcomeCount, error) {
	rows, err := s.pool.Query(ctx, `
SELECT state, coalesce(last_class, ''), count(*) FROM frontier
WHERE state IN ('done', 'failed', 'dead') GROUP BY 1, 2 ORDER BY 1, 3 DESC`)
	if err != nil {
		return nil, fmt.Errorf("count outcomes: %w", err)
	}
	var out []OutcomeCount
	var oc OutcomeCount
	var st string
	_, err = pgx.ForEachRow(rows, []any{&st, &oc.Class, &oc.Count}, func() error {
		oc.State = frontier.State(st)
		out = append(out, oc)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("count outcomes: %w", err)
	}
	return out, nil
}
