package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// DeadURL is one dead-letter URL: a transient failure on every one of its
// attempts.
type DeadURL struct {
	URL      string
	Attempts int
	Class    string // last error class; "" when none was recorded
	Error    string // last error message; may be ""
	Since    time.Time
}

// deadListSQL and deadListClassSQL list dead rows newest first (ties by
// id, newest first too). The class variant is served by frontier_dead_idx.
// LIMIT NULL means no limit.
const (
	deadListSQL = `
SELECT url, attempts, coalesce(last_class, ''), coalesce(last_error, ''), updated_at
FROM frontier WHERE state = 'dead'
ORDER BY updated_at DESC, id DESC LIMIT $1`
	deadListClassSQL = `
SELECT url, attempts, coalesce(last_class, ''), coalesce(last_error, ''), updated_at
FROM frontier WHERE state = 'dead' AND last_class = $2
ORDER BY updated_at DESC, id DESC LIMIT $1`
)

// DeadList returns up to limit dead URLs, newest first by the time they
// went dead. With class non-empty only URLs whose last class is class are
// listed. A limit of zero or less lists them all.
func (s *Store) DeadList(ctx context.Context, class string, limit int) ([]DeadURL, error) {
	var lim *int
	if limit > 0 {
		lim = &limit
	}
	var rows pgx.Rows
	var err error
	if class == "" {
		rows, err = s.pool.Query(ctx, deadListSQL, lim)
	} else {
		rows, err = s.pool.Query(ctx, deadListClassSQL, lim, class)
	}
	if err != nil {
		return nil, fmt.Errorf("list dead urls: %w", err)
	}
	var out []DeadURL
	var d DeadURL
	var attempts int32
	_, err = pgx.ForEachRow(rows, []any{&d.URL, &attempts, &d.Class, &d.Error, &d.Since}, func() error {
		d.Attempts = int(attempts)
		out = append(out, d)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list dead urls: %w", err)
	}
	return out, nil
}

// DeadCounts counts every dead URL by its last class ("" for rows without
// one). It returns an empty map when nothing is dead.
func (s *Store) DeadCounts(ctx context.Context) (map[string]int64, error) {
	rows, err := s.pool.Query(ctx, `
SELECT coalesce(last_class, ''), count(*) FROM frontier WHERE state = 'dead' GROUP BY 1`)
	if err != nil {
		return nil, fmt.Errorf("count dead urls: %w", err)
	}
	out := map[string]int64{}
	var class string
	var n int64
	_, err = pgx.ForEachRow(rows, []any{&class, &n}, func() error {
		out[class] += n
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("count dead urls: %w", err)
	}
	return out, nil
}

// DeadRetry moves dead URLs back to pending, due now, with their attempts
// reset to zero, so the retry policy gives each of them its full number of
// attempts again. With class non-empty only URLs whose last class is class
// are moved. It returns how many it moved.
//
// It is one UPDATE of rows in state dead and never touches a row in any
// other state, so it is safe while a master runs: the master only writes
// leased rows, and a requeued row is claimed like any other pending one.
// The last class and error stay on the row until its next result; the
// results of earlier attempts are kept.
func (s *Store) DeadRetry(ctx context.Context, class string) (int64, error) {
	tag, err := s.pool.Exec(ctx, `
UPDATE frontier
SET state = 'pending', attempts = 0, next_fetch_at = now(), revisit_at = NULL, updated_at = now()
WHERE state = 'dead' AND ($1 = '' OR last_class = $1)`, class)
	if err != nil {
		if class != "" {
			return 0, fmt.Errorf("requeue dead urls of class %s: %w", class, err)
		}
		return 0, fmt.Errorf("requeue dead urls: %w", err)
	}
	return tag.RowsAffected(), nil
}
