package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/robfig/cron/v3"

	"github.com/crawlmaster/crawlmaster/master/frontier"
)

// promoteSQL makes up to $1 URLs whose revisit is due pending again, due
// at their revisit time, with their attempts reset (a revisit is a new
// fetch, with its own retries). SKIP LOCKED passes over rows a fenced
// write holds. Only final rows have a revisit_at (it is cleared when a
// revisit is promoted or a dead URL retried, and written only with a
// final state); the state test makes sure a row that has one anyway is
// neither promoted nor counted against the batch.
const promoteSQL = `
UPDATE frontier f
SET state = 'pending', next_fetch_at = f.revisit_at, revisit_at = NULL, attempts = 0, updated_at = now()
WHERE f.id = ANY(ARRAY(
    SELECT id FROM frontier WHERE revisit_at <= now() AND state IN ('done', 'failed', 'dead')
    ORDER BY revisit_at LIMIT $1 FOR UPDATE SKIP LOCKED))
  AND f.state IN ('done', 'failed', 'dead')`

// PromoteDue makes up to limit URLs whose revisit time has come pending
// again (oldest first) and returns how many. Each statement is one short
// transaction; call it again while it returns limit.
func (s *Store) PromoteDue(ctx context.Context, limit int) (int64, error) {
	tag, err := s.pool.Exec(ctx, promoteSQL, limit)
	if err != nil {
		return 0, fmt.Errorf("promote due revisits: %w", err)
	}
	return tag.RowsAffected(), nil
}

// Round says what a scheduled crawl's tick did.
type Round struct {
	Crawl string
	// Outcome: "started" (the seeds are due), "merged" (the previous
	// round was still running; its final seeds are due again, the rest
	// goes on) or "skipped" (still running; nothing changed).
	Outcome string
	Seeds   int64 // seeds made due
	Running int64 // URLs of the crawl pending (counted up to 1,000) or leased at the tick
	Next    time.Time
	Number  int // the round's number (the crawl's rounds count)
}

// Round outcomes.
const (
	RoundStarted = "started"
	RoundMerged  = "merged"
	RoundSkipped = "skipped"
)

// runningSQL counts a crawl's URLs pending (up to 1,000: whether the
// round runs is what matters) and leased, through the partial indexes of
// those states (frontier_site_level_idx leads with crawl_id; leases are
// few), not by reading every row of the crawl.
const runningSQL = `
SELECT (SELECT count(*) FROM (SELECT 1 FROM frontier WHERE crawl_id = $1 AND state = 'pending' LIMIT 1000) p)
     + (SELECT count(*) FROM frontier WHERE lease_expires_at IS NOT NULL AND crawl_id = $1)`

// TickRounds starts the round of every unpaused scheduled crawl whose
// tick is due at now, under the crawl's overlap rule, and schedules its
// next tick a period after this one (ticks missed while no master led are
// not made up: the next is at least a period away from now). A crawl
// scheduled for the first time ticks at once; while its seeds are still
// pending from their import, that counts as a running round.
func (s *Store) TickRounds(ctx context.Context, now time.Time) ([]Round, error) {
	var out []Round
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `
SELECT id, name, overlap, coalesce(every, '0'), coalesce(cron, ''), coalesce(next_round_at, $1), rounds FROM crawls
WHERE (every IS NOT NULL OR cron IS NOT NULL) AND NOT paused AND coalesce(next_round_at, $1) <= $1
ORDER BY id FOR UPDATE`, now)
		if err != nil {
			return err
		}
		type due struct {
			id      int32
			r       Round
			overlap string
			every   time.Duration
			cron    string
			at      time.Time
		}
		var ticks []due
		for rows.Next() {
			var d due
			if err := rows.Scan(&d.id, &d.r.Crawl, &d.overlap, &d.every, &d.cron, &d.at, &d.r.Number); err != nil {
				rows.Close()
				return err
			}
			ticks = append(ticks, d)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		for _, d := range ticks {
			if err := tx.QueryRow(ctx, runningSQL, d.id).Scan(&d.r.Running); err != nil {
				return err
			}
			d.r.Outcome = RoundStarted
			switch {
			case d.r.Running > 0 && d.overlap == frontier.OverlapSkip:
				d.r.Outcome = RoundSkipped
			case d.r.Running > 0:
				d.r.Outcome = RoundMerged
			}
			if d.r.Outcome != RoundSkipped {
				tag, err := tx.Exec(ctx, `
UPDATE frontier SET state = 'pending', next_fetch_at = $2, revisit_at = NULL, attempts = 0, updated_at = now()
WHERE crawl_id = $1 AND crawl_id <> 1 AND depth = 0 AND state IN ('done', 'failed', 'dead')`, d.id, now)
				if err != nil {
					return err
				}
				d.r.Seeds = tag.RowsAffected()
				d.r.Number++
			}
			next, err := nextRound(d.every, d.cron, d.at, now)
			if err != nil {
				return fmt.Errorf("crawl %s: %w", d.r.Crawl, err)
			}
			d.r.Next = next
			if _, err := tx.Exec(ctx, `UPDATE crawls SET next_round_at = $2, rounds = $3 WHERE id = $1`, d.id, next, d.r.Number); err != nil {
				return err
			}
			out = append(out, d.r)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("tick scheduled crawls: %w", err)
	}
	return out, nil
}

// nextRound is a schedule's tick after the one due at (now is later):
// a period after it, or cron's next time after now; ticks missed are not
// made up.
func nextRound(every time.Duration, spec string, at, now time.Time) (time.Time, error) {
	if spec != "" {
		sched, err := cron.ParseStandard(spec)
		if err != nil {
			return time.Time{}, fmt.Errorf("cron %q: %w", spec, err)
		}
		return sched.Next(now.UTC()), nil
	}
	next := at.Add(every)
	if !next.After(now) {
		next = now.Add(every)
	}
	return next, nil
}

// Retention is one crawl's results retention.
type Retention struct {
	CrawlID int32
	Keep    time.Duration
}

// Retentions returns the retention of every crawl that has one: its own,
// else def (0: keep forever, and such crawls are left out).
func (s *Store) Retentions(ctx context.Context, def time.Duration) ([]Retention, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, retention FROM crawls ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("read retentions: %w", err)
	}
	var out []Retention
	var id int32
	var keep *time.Duration
	_, err = pgx.ForEachRow(rows, []any{&id, &keep}, func() error {
		k := def
		if keep != nil {
			k = *keep
		}
		if k > 0 {
			out = append(out, Retention{CrawlID: id, Keep: k})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read retentions: %w", err)
	}
	return out, nil
}

// deleteExpiredSQL deletes up to $3 results of crawl $1 persisted before
// $2, and their bodies in the same statement: a body never outlives its
// result. Frontier rows are never deleted, so a result never loses its
// URL's row. Each call is one short statement holding row locks on the
// rows it deletes only.
const deleteExpiredSQL = `
WITH r AS (
    DELETE FROM results WHERE lease_token = ANY(ARRAY(
        SELECT lease_token FROM results WHERE crawl_id = $1 AND persisted_at < $2
        ORDER BY persisted_at LIMIT $3))
    RETURNING lease_token
), b AS (
    DELETE FROM bodies WHERE lease_token IN (SELECT lease_token FROM r) RETURNING 1
)
SELECT (SELECT count(*) FROM r), (SELECT count(*) FROM b)`

// DeleteExpired deletes up to limit results of the crawl persisted
// before cutoff, with their bodies, and returns how many of each.
func (s *Store) DeleteExpired(ctx context.Context, crawlID int32, cutoff time.Time, limit int) (results, bodies int64, err error) {
	err = s.pool.QueryRow(ctx, deleteExpiredSQL, crawlID, cutoff, limit).Scan(&results, &bodies)
	if err != nil {
		return 0, 0, fmt.Errorf("delete expired results of crawl %d: %w", crawlID, err)
	}
	return results, bodies, nil
}
