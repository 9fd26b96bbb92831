package store_test

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/crawlmaster/crawlmaster/master/frontier"
	"github.com/crawlmaster/crawlmaster/master/store"
)

func TestClaimNothingToDo(t *testing.T) {
	t.Parallel()
	s, pool := newStore(t)
	ctx := t.Context()
	insert(t, s, mkURLs("x", 5))
	for _, p := range []frontier.Claim{
		{Shards: allShards, Limit: 0, Lease: time.Minute},
		{Shards: allShards, Limit: -1, Lease: time.Minute},
		{Shards: nil, Limit: 10, Lease: time.Minute},
	} {
		tasks, err := s.Claim(ctx, p)
		if err != nil || len(tasks) != 0 {
			t.Errorf("Claim(%+v) = %v, %v; want nothing", p, tasks, err)
		}
	}
	if n := count(t, pool, `SELECT count(*) FROM frontier WHERE state <> 'pending'`); n != 0 {
		t.Errorf("%d rows left pending", n)
	}
	// An empty frontier gives an empty claim.
	s2, _ := newStore(t)
	tasks, err := s2.Claim(ctx, frontier.Claim{Shards: allShards, Limit: 10, Lease: time.Minute})
	if err != nil || len(tasks) != 0 {
		t.Errorf("Claim on an empty frontier = %v, %v", tasks, err)
	}
}

// TestClaimSelection checks which rows a claim takes: at most Limit, the
// best priorities first, only of the given shards, only due ones.
func TestClaimSelection(t *testing.T) {
	t.Parallel()
	s, pool := newStore(t)
	ctx := t.Context()

	rng := rand.New(rand.NewPCG(1, 2))
	urls := mkURLs("sel", 600)
	for i := range urls {
		urls[i].Priority = int32(rng.IntN(100)) // many ties: ids break them
	}
	insert(t, s, urls)

	// Shards of the first 200 domains are "ours".
	mine := map[int16]bool{}
	for _, u := range urls[:200] {
		mine[frontier.Shard(u.Domain)] = true
	}
	var shards []int16
	for sh := range mine {
		shards = append(shards, sh)
	}
	// A third of the rows are not due yet.
	exec(t, pool, `UPDATE frontier SET next_fetch_at = now() + interval '1 hour' WHERE id % 3 = 0`)

	rows := frontierRows(t, pool)
	var eligible []frontierRow
	for _, r := range rows {
		if mine[r.Shard] && r.ID%3 != 0 {
			eligible = append(eligible, r)
		}
	}
	slices.SortFunc(eligible, func(a, b frontierRow) int {
		return cmp.Or(cmp.Compare(a.Priority, b.Priority), cmp.Compare(a.ID, b.ID))
	})
	if len(eligible) < 150 {
		t.Fatalf("test setup: only %d eligible rows", len(eligible))
	}

	const limit = 50
	before := dbNow(t, pool)
	tasks, err := s.Claim(ctx, frontier.Claim{Shards: shards, Limit: limit, Lease: 90 * time.Second, Assistant: "asst-7"})
	if err != nil {
		t.Fatal(err)
	}
	if len(tasks) != limit {
		t.Fatalf("claimed %d, want %d", len(tasks), limit)
	}
	var got []int64
	for _, tk := range tasks {
		got = append(got, tk.URLID)
	}
	slices.Sort(got)
	var want []int64
	for _, r := range eligible[:limit] {
		want = append(want, r.ID)
	}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("claimed ids %v, want the %d best-priority eligible ids %v", got, limit, want)
	}

	seenTok := map[int64]bool{}
	for _, tk := range tasks {
		r := frontierByID(t, pool, tk.URLID)
		if tk.Attempts != 1 || tk.URL != r.URL || tk.Domain != r.Domain || tk.Token <= 0 || seenTok[tk.Token] {
			t.Errorf("task %+v vs row %+v", tk, r)
		}
		seenTok[tk.Token] = true
		// A claim charges no attempt: the row counts attempts only when
		// a result is written or a requested page's batch broke.
		if r.State != "leased" || r.LeaseToken == nil || *r.LeaseToken != tk.Token || r.Attempts != 0 ||
			r.Assistant == nil || *r.Assistant != "asst-7" || r.LeaseExpiresAt == nil {
			t.Errorf("claimed row %+v: want leased with token %d, attempts 0, assistant asst-7", r, tk.Token)
			continue
		}
		// Expiry and updated_at come from the same statement's now().
		if d := r.LeaseExpiresAt.Sub(r.UpdatedAt); d != 90*time.Second {
			t.Errorf("lease_expires_at - updated_at = %v, want 90s", d)
		}
		if r.UpdatedAt.Before(before) {
			t.Errorf("updated_at %v before the claim (%v)", r.UpdatedAt, before)
		}
	}
	// Nothing else was touched.
	if n := count(t, pool, `SELECT count(*) FROM frontier WHERE state = 'leased'`); n != limit {
		t.Errorf("%d leased rows, want %d", n, limit)
	}
	if n := count(t, pool, `SELECT count(*) FROM frontier WHERE state = 'pending' AND (attempts <> 0 OR assistant IS NOT NULL)`); n != 0 {
		t.Errorf("%d unclaimed rows were modified", n)
	}

	// Claiming the rest in one go returns every remaining eligible row and
	// nothing else.
	rest, err := s.Claim(ctx, frontier.Claim{Shards: shards, Limit: 10000, Lease: time.Minute, Assistant: "asst-7"})
	if err != nil {
		t.Fatal(err)
	}
	if len(rest) != len(eligible)-limit {
		t.Fatalf("second claim got %d, want %d", len(rest), len(eligible)-limit)
	}
	for _, tk := range rest {
		if !mine[frontier.Shard(tk.Domain)] {
			t.Errorf("claimed %s of a foreign shard", tk.Domain)
		}
		if tk.URLID%3 == 0 {
			t.Errorf("claimed %s, which is not due", tk.URL)
		}
		if seenTok[tk.Token] {
			t.Errorf("token %d handed out twice", tk.Token)
		}
	}
	// A row whose next_fetch_at has come is due again.
	exec(t, pool, `UPDATE frontier SET next_fetch_at = now() - interval '1 second' WHERE id % 3 = 0`)
	more, err := s.Claim(ctx, frontier.Claim{Shards: shards, Limit: 10000, Lease: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	wantMore := 0
	for _, r := range rows {
		if mine[r.Shard] && r.ID%3 == 0 {
			wantMore++
		}
	}
	if len(more) != wantMore {
		t.Errorf("claim after next_fetch_at passed got %d, want %d", len(more), wantMore)
	}
}

// TestClaimDomainInFlight checks a domain with a leased URL gives no other
// URL to a claim until that lease ends.
func TestClaimDomainInFlight(t *testing.T) {
	t.Parallel()
	s, pool := newStore(t)
	ctx := t.Context()
	var urls []store.NewURL
	for i := range 3 {
		urls = append(urls, store.NewURL{URL: fmt.Sprintf("https://busy.example/%d", i), Host: "busy.example", Domain: "busy.example", Priority: int32(i + 1)})
	}
	urls = append(urls, store.NewURL{URL: "https://www.busy.example/", Host: "www.busy.example", Domain: "busy.example", Priority: 10})
	urls = append(urls, store.NewURL{URL: "https://other.example/", Host: "other.example", Domain: "other.example", Priority: 100})
	insert(t, s, urls)

	first := claim(t, s, 1, time.Minute)
	if len(first) != 1 || first[0].URL != "https://busy.example/0" {
		t.Fatalf("first claim = %+v, want busy.example/0", first)
	}
	// busy.example is in flight: only other.example may be claimed, even
	// though busy.example's other URLs have better priorities.
	second := claim(t, s, 10, time.Minute)
	if len(second) != 1 || second[0].Domain != "other.example" {
		t.Fatalf("claim while busy.example is leased = %+v, want only other.example", second)
	}
	if again := claim(t, s, 10, time.Minute); len(again) != 0 {
		t.Fatalf("claim = %+v, want nothing", again)
	}

	// Once the lease ends (a final result), the domain's URLs are claimable.
	acc, err := s.Persist(ctx, []frontier.Outcome{outcome(first[0], frontier.StateDone)})
	if err != nil || acc.Accepted.Total() != 1 {
		t.Fatalf("Persist = %v, %v", acc, err)
	}
	next := claim(t, s, 1, time.Minute)
	if len(next) != 1 || next[0].URL != "https://busy.example/1" {
		t.Fatalf("claim after the lease ended = %+v, want busy.example/1", next)
	}
	// Released leases free the domain too.
	if n, err := s.Release(ctx, tokens(next), false); err != nil || n != 1 {
		t.Fatalf("Release = %d, %v", n, err)
	}
	if got := claim(t, s, 1, time.Minute); len(got) != 1 || got[0].URL != "https://busy.example/1" {
		t.Fatalf("claim after release = %+v, want busy.example/1 again", got)
	}
	if n := count(t, pool, `SELECT count(*) FROM frontier WHERE domain = 'busy.example' AND state = 'leased'`); n != 1 {
		t.Fatalf("busy.example has %d leased URLs, want 1", n)
	}
}

// TestClaimConcurrent runs claims from many goroutines at once over one
// frontier: with SKIP LOCKED no row may be handed out twice, and together
// they lease every row.
func TestClaimConcurrent(t *testing.T) {
	t.Parallel()
	s, pool := newStore(t)
	ctx := t.Context()
	const total = 2000
	insert(t, s, mkURLs("conc", total))

	const workers = 8
	var wg sync.WaitGroup
	start := make(chan struct{})
	results := make([][]frontier.Task, workers)
	errs := make([]error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for {
				tasks, err := s.Claim(ctx, frontier.Claim{Shards: allShards, Limit: 37, Lease: time.Minute, Assistant: fmt.Sprint("w", w)})
				if err != nil {
					errs[w] = err
					return
				}
				if len(tasks) == 0 {
					return
				}
				results[w] = append(results[w], tasks...)
			}
		}()
	}
	close(start)
	wg.Wait()

	ids := map[int64]int{}
	toks := map[int64]bool{}
	busy := 0
	for w := range workers {
		if errs[w] != nil {
			t.Fatalf("worker %d: %v", w, errs[w])
		}
		if len(results[w]) > 0 {
			busy++
		}
		for _, tk := range results[w] {
			if prev, dup := ids[tk.URLID]; dup {
				t.Errorf("url %d claimed by workers %d and %d", tk.URLID, prev, w)
			}
			ids[tk.URLID] = w
			if toks[tk.Token] {
				t.Errorf("token %d handed out twice", tk.Token)
			}
			toks[tk.Token] = true
			if tk.Attempts != 1 {
				t.Errorf("task %+v: attempts %d, want 1", tk, tk.Attempts)
			}
		}
	}
	if len(ids) != total {
		t.Fatalf("claimed %d distinct urls, want %d", len(ids), total)
	}
	if busy < 2 {
		t.Logf("only %d of %d workers got work (no real concurrency this run)", busy, workers)
	}
	// The database agrees: every row leased once, to the worker that got it.
	if n := count(t, pool, `SELECT count(*) FROM frontier WHERE state = 'leased' AND attempts = 0`); n != total {
		t.Fatalf("%d rows leased with no attempt charged, want %d", n, total)
	}
	for _, r := range frontierRows(t, pool) {
		w, ok := ids[r.ID]
		if !ok || r.Assistant == nil || *r.Assistant != fmt.Sprint("w", w) || r.LeaseToken == nil || !toks[*r.LeaseToken] {
			t.Fatalf("row %+v: want leased to the worker that claimed it", r)
		}
	}
}
