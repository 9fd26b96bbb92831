package store_test

import (
	"fmt"
	"hash/fnv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/crawlmaster/crawlmaster/internal/pgtest"
	"github.com/crawlmaster/crawlmaster/master/frontier"
	"github.com/crawlmaster/crawlmaster/master/store"
)

func TestShard(t *testing.T) {
	t.Parallel()
	ref := func(d string) int16 {
		h := fnv.New32a()
		h.Write([]byte(d))
		return int16(h.Sum32() % frontier.NumShards)
	}
	seen := map[int16]bool{}
	domains := []string{"", "a", "example.com", "EXAMPLE.COM", "bücher.de", strings.Repeat("x", 300)}
	for i := range 5000 {
		domains = append(domains, fmt.Sprintf("d%d.example", i))
	}
	for _, d := range domains {
		s := frontier.Shard(d)
		if s < 0 || s >= frontier.NumShards {
			t.Fatalf("Shard(%q) = %d out of range", d, s)
		}
		if want := ref(d); s != want {
			t.Fatalf("Shard(%q) = %d, want FNV-1a %% 1024 = %d", d, s, want)
		}
		seen[s] = true
	}
	// 5000 domains over 1024 shards: a reasonable hash hits nearly all.
	if len(seen) < 950 {
		t.Errorf("5000 domains hit only %d shards", len(seen))
	}
}

func TestInsert(t *testing.T) {
	t.Parallel()
	s, pool := newStore(t)
	ctx := t.Context()

	if n, err := s.Insert(ctx, defaultCrawl, nil, store.SourceTranco); n != 0 || err != nil {
		t.Fatalf("Insert(nil) = %d, %v", n, err)
	}

	urls := []store.NewURL{
		{URL: "https://b.example/", Host: "b.example", Domain: "b.example", Priority: 2},
		{URL: "https://www.a.example/", Host: "www.a.example", Domain: "a.example", Priority: 1},
		{URL: "https://b.example/", Host: "b.example", Domain: "b.example", Priority: 99}, // duplicate in the call
		{URL: "https://c.example/x", Host: "c.example", Domain: "c.example", Priority: 3},
	}
	before := dbNow(t, pool)
	n, err := s.Insert(ctx, defaultCrawl, urls, store.SourceTranco)
	if err != nil {
		t.Fatal(err)
	}
	if n != 3 {
		t.Fatalf("Insert returned %d, want 3 (one duplicate in the call)", n)
	}
	rows := frontierRows(t, pool)
	if len(rows) != 3 {
		t.Fatalf("frontier has %d rows, want 3", len(rows))
	}
	byURL := map[string]frontierRow{}
	for _, r := range rows {
		byURL[r.URL] = r
		if r.State != "pending" || r.Attempts != 0 || r.LeaseToken != nil || r.LeaseExpiresAt != nil ||
			r.Assistant != nil || r.LastClass != nil || r.LastError != nil || r.Source != "tranco" {
			t.Errorf("new row %+v: want pending, no attempts, no lease, source tranco", r)
		}
		if r.NextFetchAt.Before(before.Add(-1)) || r.NextFetchAt.After(dbNow(t, pool)) {
			t.Errorf("new row %s next_fetch_at %v, want about now (%v)", r.URL, r.NextFetchAt, before)
		}
		if r.Shard != frontier.Shard(r.Domain) {
			t.Errorf("row %s shard %d, want frontier.Shard(%q) = %d", r.URL, r.Shard, r.Domain, frontier.Shard(r.Domain))
		}
	}
	if r := byURL["https://www.a.example/"]; r.Host != "www.a.example" || r.Domain != "a.example" || r.Priority != 1 {
		t.Errorf("row a = %+v", r)
	}
	if r := byURL["https://b.example/"]; r.Priority != 2 {
		t.Errorf("duplicate within a call: kept priority %d, want the better one (2)", r.Priority)
	}
	// Rows go in priority order, so ids follow priority.
	if rows[0].Priority != 1 || rows[1].Priority != 2 || rows[2].Priority != 3 {
		t.Errorf("rows not inserted in priority order: %d %d %d", rows[0].Priority, rows[1].Priority, rows[2].Priority)
	}

	// Across calls: existing URLs are skipped, whatever their state, and
	// are not modified.
	exec(t, pool, `UPDATE frontier SET state = 'done' WHERE url = 'https://c.example/x'`)
	n, err = s.Insert(ctx, defaultCrawl, []store.NewURL{
		{URL: "https://b.example/", Host: "b.example", Domain: "b.example", Priority: 50},
		{URL: "https://c.example/x", Host: "c.example", Domain: "c.example", Priority: 50},
		{URL: "https://d.example/", Host: "d.example", Domain: "d.example", Priority: 4},
	}, store.SourceEnqueue)
	if err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Fatalf("second Insert returned %d, want 1", n)
	}
	rows = frontierRows(t, pool)
	if len(rows) != 4 {
		t.Fatalf("frontier has %d rows, want 4", len(rows))
	}
	for _, r := range rows {
		switch r.URL {
		case "https://b.example/":
			if r.Priority != 2 || r.Source != "tranco" || r.State != "pending" {
				t.Errorf("existing row changed by a duplicate insert: %+v", r)
			}
		case "https://c.example/x":
			if r.State != "done" || r.Priority != 3 {
				t.Errorf("done row changed by a duplicate insert: %+v", r)
			}
		case "https://d.example/":
			if r.Source != "enqueue" || r.Priority != 4 || r.Shard != frontier.Shard("d.example") {
				t.Errorf("new row %+v", r)
			}
		}
	}
}

// TestInsertOneConnection runs several inserts on a single connection, so
// they share the staging table: rows of an earlier call must not leak into
// a later one, also after a failed call.
func TestInsertOneConnection(t *testing.T) {
	t.Parallel()
	dbURL := pgtest.NewDatabase(t)
	cfg, err := pgxpool.ParseConfig(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = 1
	pool, err := pgxpool.NewWithConfig(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	if _, err := store.Migrate(t.Context(), pool); err != nil {
		t.Fatal(err)
	}
	s := store.New(pool)
	ctx := t.Context()

	insert(t, s, mkURLs("a", 3))
	n, err := s.Insert(ctx, defaultCrawl, append(mkURLs("a", 1), mkURLs("b", 2)...), store.SourceTranco)
	if err != nil || n != 2 {
		t.Fatalf("second Insert = %d, %v; want 2", n, err)
	}

	// A NUL byte cannot be stored in text: the whole call fails and adds
	// nothing, not even its valid rows.
	bad := mkURLs("c", 3)
	bad[1].URL = "https://c\x00.example/"
	if n, err := s.Insert(ctx, defaultCrawl, bad, store.SourceTranco); err == nil {
		t.Fatalf("Insert with a NUL byte = %d, nil; want an error", n)
	}
	if c := count(t, pool, `SELECT count(*) FROM frontier`); c != 5 {
		t.Fatalf("frontier has %d rows after a failed insert, want 5", c)
	}
	n, err = s.Insert(ctx, defaultCrawl, mkURLs("c", 3), store.SourceTranco)
	if err != nil || n != 3 {
		t.Fatalf("Insert after a failed one = %d, %v; want 3", n, err)
	}
	if c := count(t, pool, `SELECT count(*) FROM frontier`); c != 8 {
		t.Fatalf("frontier has %d rows, want 8", c)
	}
}

func TestInsertLarge(t *testing.T) {
	t.Parallel()
	s, pool := newStore(t)
	urls := mkURLs("big", store.ImportChunk+500)
	insert(t, s, urls)
	// Re-importing the same list adds nothing.
	n, err := s.Insert(t.Context(), defaultCrawl, urls[:store.ImportChunk], store.SourceTranco)
	if err != nil || n != 0 {
		t.Fatalf("re-import = %d, %v; want 0", n, err)
	}
	if c := count(t, pool, `SELECT count(*) FROM frontier`); c != int64(len(urls)) {
		t.Fatalf("frontier has %d rows, want %d", c, len(urls))
	}
	if c := count(t, pool, `SELECT count(DISTINCT url) FROM frontier`); c != int64(len(urls)) {
		t.Fatalf("frontier has %d distinct urls, want %d", c, len(urls))
	}
	// Every shard column agrees with Shard: check in SQL against the
	// values the test computes.
	want := make([]int16, len(urls))
	doms := make([]string, len(urls))
	for i, u := range urls {
		want[i], doms[i] = frontier.Shard(u.Domain), u.Domain
	}
	if c := count(t, pool, `SELECT count(*) FROM frontier f
		JOIN unnest($1::text[], $2::smallint[]) AS w(domain, shard) ON w.domain = f.domain
		WHERE f.shard <> w.shard`, doms, want); c != 0 {
		t.Fatalf("%d rows have a shard other than frontier.Shard(domain)", c)
	}
}
