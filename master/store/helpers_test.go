package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/crawlmaster/crawlmaster/internal/pgtest"
	"github.com/crawlmaster/crawlmaster/master/frontier"
	"github.com/crawlmaster/crawlmaster/master/store"
)

// allShards lists every shard, for claims that should see every URL.
var allShards = func() []int16 {
	s := make([]int16, frontier.NumShards)
	for i := range s {
		s[i] = int16(i)
	}
	return s
}()

// newStore returns a Store on a fresh, migrated database and its pool.
func newStore(t *testing.T) (*store.Store, *pgxpool.Pool) {
	t.Helper()
	pool, _ := pgtest.NewPool(t)
	if _, err := store.Migrate(t.Context(), pool); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	// The schema has no foreign keys on the write path (migration 0002):
	// the fenced write alone must keep every reference whole.
	t.Cleanup(func() { checkReferences(t, pool) })
	return store.New(pool), pool
}

// checkReferences fails the test when a results row lacks its frontier row
// (or names another URL) or a body lacks its results row.
func checkReferences(t *testing.T, pool *pgxpool.Pool) {
	t.Helper()
	ctx := context.Background() // t.Context() is already cancelled in Cleanup
	var orphanResults, orphanBodies int64
	err := pool.QueryRow(ctx, `
SELECT (SELECT count(*) FROM results r WHERE NOT EXISTS (
            SELECT 1 FROM frontier f WHERE f.id = r.url_id AND f.url = r.url)),
       (SELECT count(*) FROM bodies b WHERE NOT EXISTS (
            SELECT 1 FROM results r WHERE r.lease_token = b.lease_token))`).Scan(&orphanResults, &orphanBodies)
	if err != nil {
		t.Errorf("check references: %v", err)
		return
	}
	if orphanResults != 0 || orphanBodies != 0 {
		t.Errorf("%d results rows without their frontier row, %d bodies without their results row", orphanResults, orphanBodies)
	}
}

// mkURLs returns n URLs, each of its own domain "<prefix><i>.example",
// with priority i+1.
func mkURLs(prefix string, n int) []store.NewURL {
	out := make([]store.NewURL, n)
	for i := range out {
		d := fmt.Sprintf("%s%d.example", prefix, i)
		out[i] = store.NewURL{URL: "https://" + d + "/", Host: d, Domain: d, Priority: int32(i + 1)}
	}
	return out
}

func insert(t *testing.T, s *store.Store, urls []store.NewURL) {
	t.Helper()
	n, err := s.Insert(t.Context(), defaultCrawl, urls, store.SourceTranco)
	if err != nil {
		t.Fatalf("Insert: %v", err)
	}
	if n != int64(len(urls)) {
		t.Fatalf("Insert returned %d, want %d", n, len(urls))
	}
}

func claim(t *testing.T, s *store.Store, limit int, lease time.Duration) []frontier.Task {
	t.Helper()
	tasks, err := s.Claim(t.Context(), frontier.Claim{Shards: allShards, Limit: limit, Lease: lease, Assistant: "a1"})
	if err != nil {
		t.Fatalf("Claim: %v", err)
	}
	return tasks
}

// frontierRow is one frontier row as stored.
type frontierRow struct {
	ID             int64
	URL            string
	Host           string
	Domain         string
	Shard          int16
	Priority       int32
	State          string
	Attempts       int32
	LeaseToken     *int64
	LeaseExpiresAt *time.Time
	Assistant      *string
	NextFetchAt    time.Time
	LastClass      *string
	LastError      *string
	Source         string
	UpdatedAt      time.Time
}

const frontierCols = `id, url, host, domain, shard, priority, state, attempts, lease_token, lease_expires_at,
	assistant, next_fetch_at, last_class, last_error, source, updated_at`

func scanFrontier(rows pgx.Rows) ([]frontierRow, error) {
	var out []frontierRow
	var r frontierRow
	_, err := pgx.ForEachRow(rows, []any{&r.ID, &r.URL, &r.Host, &r.Domain, &r.Shard, &r.Priority, &r.State,
		&r.Attempts, &r.LeaseToken, &r.LeaseExpiresAt, &r.Assistant, &r.NextFetchAt, &r.LastClass, &r.LastError,
		&r.Source, &r.UpdatedAt}, func() error {
		out = append(out, r)
		return nil
	})
	return out, err
}

// frontierRows returns every frontier row by id.
func frontierRows(t *testing.T, pool *pgxpool.Pool) []frontierRow {
	t.Helper()
	rows, err := pool.Query(t.Context(), `SELECT `+frontierCols+` FROM frontier ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	out, err := scanFrontier(rows)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// frontierByID returns one frontier row.
func frontierByID(t *testing.T, pool *pgxpool.Pool, id int64) frontierRow {
	t.Helper()
	rows, err := pool.Query(t.Context(), `SELECT `+frontierCols+` FROM frontier WHERE id = $1`, id)
	if err != nil {
		t.Fatal(err)
	}
	out, err := scanFrontier(rows)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 1 {
		t.Fatalf("frontier row %d: found %d rows", id, len(out))
	}
	return out[0]
}

func count(t *testing.T, pool *pgxpool.Pool, sql string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := pool.QueryRow(t.Context(), sql, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

func exec(t *testing.T, pool *pgxpool.Pool, sql string, args ...any) {
	t.Helper()
	if _, err := pool.Exec(t.Context(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// dbNow is the database's clock.
func dbNow(t *testing.T, pool *pgxpool.Pool) time.Time {
	t.Helper()
	var now time.Time
	if err := pool.QueryRow(t.Context(), `SELECT clock_timestamp()`).Scan(&now); err != nil {
		t.Fatal(err)
	}
	return now
}

// tokens returns the lease tokens of tasks.
func tokens(tasks []frontier.Task) []int64 {
	out := make([]int64, len(tasks))
	for i, t := range tasks {
		out[i] = t.Token
	}
	return out
}

// waitDB polls cond (a SQL boolean expression) until the database says it
// holds, without sleeping in Go: each round trip is the wait.
func waitDB(t *testing.T, pool *pgxpool.Pool, cond string, args ...any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	for {
		var ok bool
		err := pool.QueryRow(ctx, `SELECT `+cond, args...).Scan(&ok)
		if err != nil {
			t.Fatalf("waiting for %s: %v", cond, err)
		}
		if ok {
			return
		}
	}
}

// outcome returns a fully populated outcome for task in state st.
func outcome(task frontier.Task, st frontier.State) frontier.Outcome {
	at := time.Date(2025, 6, 1, 12, 30, 45, 123456000, time.UTC)
	o := frontier.Outcome{
		URLID:         task.URLID,
		Token:         task.Token,
		State:         st,
		URL:           task.URL,
		FinalURL:      task.URL + "final",
		HTTPStatus:    200,
		ContentType:   "text/html; charset=utf-8",
		BodySize:      1234,
		BodyTruncated: false,
		FetchDuration: 1500 * time.Microsecond,
		Title:         "Title of " + task.Domain,
		ContentHash:   []byte{1, 2, 3, 4},
		Class:         "ok",
		Robots:        "allowed",
		Redirects:     1,
		Attempts:      int32(task.Attempts),
		Assistant:     "a1",
		FetchedAt:     at,
	}
	switch st {
	case frontier.StateFailed:
		o.HTTPStatus, o.Class, o.Error = 404, "http_4xx", "404 Not Found"
	case frontier.StateDead:
		o.HTTPStatus, o.Class, o.Error = 0, "timeout", "i/o timeout"
	case frontier.StatePending:
		o.HTTPStatus, o.Class, o.Error = 503, "http_5xx", "503 Service Unavailable"
		o.NextFetchAt = at.Add(time.Hour)
	}
	return o
}

// defaultCrawl is the crawl of the URLs given (no discovery).
var defaultCrawl = frontier.Crawl{ID: frontier.DefaultCrawlID}
