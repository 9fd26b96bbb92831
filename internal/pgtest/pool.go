package pgtest

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
)

// NewPool = NewDatabase + pgxpool.New, pool closed in cleanup.
// It also pings the pool once so a broken database fails the test here.
func NewPool(t testing.TB) (*pgxpool.Pool, string) {
	t.Helper()
	dbURL := NewDatabase(t)
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		t.Fatalf("pgtest: pgxpool.New(%s): %v", redact(dbURL), err)
	}
	// Registered after NewDatabase's cleanup, so it runs before the DROP.
	t.Cleanup(pool.Close)
	if err := pool.Ping(ctx); err != nil {
		t.Fatalf("pgtest: ping %s: %v", redact(dbURL), err)
	}
	return pool, dbURL
}
