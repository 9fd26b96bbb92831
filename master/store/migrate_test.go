package store_test

import (
	"maps"
	"slices"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/crawlmaster/crawlmaster/internal/pgtest"
	"github.com/crawlmaster/crawlmaster/master/store"
)

func TestMigrations(t *testing.T) {
	t.Parallel()
	migs, err := store.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	if len(migs) == 0 || migs[0].Version != 1 || migs[0].Name != "0001_init.sql" || migs[0].SQL == "" {
		t.Fatalf("Migrations()[0] = %+v, want version 1 0001_init.sql", migs[0])
	}
	for i := 1; i < len(migs); i++ {
		if migs[i].Version <= migs[i-1].Version {
			t.Errorf("migrations out of order: %d after %d", migs[i].Version, migs[i-1].Version)
		}
	}
}

func TestMigrateFreshThenNothing(t *testing.T) {
	t.Parallel()
	pool, _ := pgtest.NewPool(t)
	ctx := t.Context()
	migs, err := store.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	var all []int
	for _, m := range migs {
		all = append(all, m.Version)
	}

	applied, err := store.Migrate(ctx, pool)
	if err != nil {
		t.Fatalf("first Migrate: %v", err)
	}
	if !slices.Equal(applied, all) || !slices.Contains(applied, 1) {
		t.Fatalf("first Migrate applied %v, want %v", applied, all)
	}
	for _, table := range []string{"frontier", "results", "bodies", "master_status", "schema_migrations"} {
		if n := count(t, pool, `SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename = $1`, table); n != 1 {
			t.Errorf("table %s missing after Migrate", table)
		}
	}
	if n := count(t, pool, `SELECT count(*) FROM schema_migrations WHERE version = 1 AND name = '0001_init.sql'`); n != 1 {
		t.Errorf("schema_migrations has %d rows for 0001_init.sql, want 1", n)
	}
	// The advisory lock is given back.
	if n := count(t, pool, advisoryLocksSQL); n != 0 {
		t.Errorf("%d advisory locks held after Migrate", n)
	}

	again, err := store.Migrate(ctx, pool)
	if err != nil {
		t.Fatalf("second Migrate: %v", err)
	}
	if len(again) != 0 {
		t.Errorf("second Migrate applied %v, want nothing", again)
	}
	if n := count(t, pool, `SELECT count(*) FROM schema_migrations`); n != int64(len(all)) {
		t.Errorf("schema_migrations has %d rows, want %d", n, len(all))
	}
	// The schema works: the lz4 setting of bodies took.
	var comp string
	if err := pool.QueryRow(ctx, `SELECT attcompression FROM pg_attribute
		WHERE attrelid = 'bodies'::regclass AND attname = 'body'`).Scan(&comp); err != nil {
		t.Fatal(err)
	}
	if comp != "l" {
		t.Errorf("bodies.body compression = %q, want l (lz4)", comp)
	}
}

// TestMigrateConcurrent runs several Migrate calls (each with its own pool,
// as separate masters would) on one fresh database at once: all succeed
// and each migration is applied exactly once.
func TestMigrateConcurrent(t *testing.T) {
	t.Parallel()
	dbURL := pgtest.NewDatabase(t)
	const n = 4
	pools := make([]*pgxpool.Pool, n)
	for i := range pools {
		p, err := pgxpool.New(t.Context(), dbURL)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(p.Close)
		if err := p.Ping(t.Context()); err != nil {
			t.Fatal(err)
		}
		pools[i] = p
	}
	var wg sync.WaitGroup
	start := make(chan struct{})
	applied := make([][]int, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			applied[i], errs[i] = store.Migrate(t.Context(), pools[i])
		}()
	}
	close(start)
	wg.Wait()
	times := map[int]int{}
	for i := range n {
		if errs[i] != nil {
			t.Errorf("Migrate %d: %v", i, errs[i])
		}
		for _, v := range applied[i] {
			times[v]++
		}
	}
	migs, _ := store.Migrations()
	for _, m := range migs {
		if times[m.Version] != 1 {
			t.Errorf("migration %d reported applied %d times, want 1", m.Version, times[m.Version])
		}
		if c := count(t, pools[0], `SELECT count(*) FROM schema_migrations WHERE version = $1`, m.Version); c != 1 {
			t.Errorf("schema_migrations has version %d %d times, want 1", m.Version, c)
		}
	}
	if c := count(t, pools[0], `SELECT count(*) FROM schema_migrations`); c != int64(len(migs)) {
		t.Errorf("schema_migrations has %d rows, want %d", c, len(migs))
	}
}

// TestMigrateConcurrentSamePool runs concurrent Migrate calls sharing one
// pool (each takes its own connection).
func TestMigrateConcurrentSamePool(t *testing.T) {
	t.Parallel()
	pool, _ := pgtest.NewPool(t)
	var wg sync.WaitGroup
	var mu sync.Mutex
	total := 0
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, err := store.Migrate(t.Context(), pool)
			if err != nil {
				t.Errorf("Migrate: %v", err)
			}
			mu.Lock()
			total += len(v)
			mu.Unlock()
		}()
	}
	wg.Wait()
	migs, _ := store.Migrations()
	if total != len(migs) {
		t.Errorf("migrations applied %d times in total, want %d", total, len(migs))
	}
	if n := count(t, pool, advisoryLocksSQL); n != 0 {
		t.Errorf("%d advisory locks held after Migrate", n)
	}
}

// advisoryLocksSQL counts advisory locks held in this test's database (the
// cluster is shared with other tests).
const advisoryLocksSQL = `SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'
	AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`

// TestMigrate0004GivesBackPrechargedAttempts upgrades a database written
// under the old rule (a claim charged its attempt up front) and checks the
// rows leased at that moment get the attempt back, and no other row moves.
func TestMigrate0004GivesBackPrechargedAttempts(t *testing.T) {
	t.Parallel()
	pool, _ := pgtest.NewPool(t)
	ctx := t.Context()
	migs, err := store.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	exec(t, pool, `CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now())`)
	for _, m := range migs {
		if m.Version >= 4 {
			break
		}
		exec(t, pool, m.SQL)
		exec(t, pool, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, m.Version, m.Name)
	}
	exec(t, pool, `INSERT INTO frontier (url, host, domain, shard, priority, state, attempts, lease_token, lease_expires_at)
		VALUES ('http://a.test/', 'a.test', 'a.test', 1, 1, 'leased', 2, 7, now() + interval '1 hour'),
		       ('http://b.test/', 'b.test', 'b.test', 2, 2, 'pending', 2, NULL, NULL),
		       ('http://c.test/', 'c.test', 'c.test', 3, 3, 'dead', 3, NULL, NULL)`)
	applied, err := store.Migrate(ctx, pool)
	if err != nil || !slices.Contains(applied, 4) {
		t.Fatalf("Migrate = %v, %v; want 0004 applied", applied, err)
	}
	got := map[string]int32{}
	for _, r := range frontierRows(t, pool) {
		got[r.Domain] = r.Attempts
	}
	if want := map[string]int32{"a.test": 1, "b.test": 2, "c.test": 3}; !maps.Equal(got, want) {
		t.Errorf("attempts after 0004: %v, want %v (only the leased row gives its pre-charged attempt back)", got, want)
	}
}
