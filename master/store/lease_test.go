package store_test

import (
	"testing"
	"time"

	"github.com/crawlmaster/crawlmaster/master/frontier"
)

func TestRelease(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		charge       bool
		wantAttempts int32
	}{
		{"free", false, 0},
		{"charged", true, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, pool := newStore(t)
			ctx := t.Context()
			insert(t, s, mkURLs("rel", 5))
			tasks := claim(t, s, 5, time.Minute)
			toRelease := tokens(tasks[:3])

			n, err := s.Release(ctx, toRelease, tc.charge)
			if err != nil || n != 3 {
				t.Fatalf("Release = %d, %v; want 3", n, err)
			}
			for i, tk := range tasks {
				r := frontierByID(t, pool, tk.URLID)
				if i < 3 {
					if r.State != "pending" || r.LeaseExpiresAt != nil || r.Attempts != tc.wantAttempts {
						t.Errorf("released row %+v: want pending, no expiry, attempts %d", r, tc.wantAttempts)
					}
				} else if r.State != "leased" || r.Attempts != 0 || *r.LeaseToken != tk.Token {
					t.Errorf("unreleased row %+v changed", r)
				}
			}
			// Releasing again does nothing: the tokens are no longer
			// current, and the attempt is not charged twice.
			if n, err := s.Release(ctx, toRelease, tc.charge); err != nil || n != 0 {
				t.Fatalf("second Release = %d, %v; want 0", n, err)
			}
			if got := count(t, pool, `SELECT count(*) FROM frontier WHERE state = 'pending' AND attempts = $1`, tc.wantAttempts); got != 3 {
				t.Errorf("%d released rows with attempts %d, want 3", got, tc.wantAttempts)
			}

			// Re-claimed: the old tokens stay powerless.
			again := claim(t, s, 3, time.Minute)
			if len(again) != 3 {
				t.Fatalf("re-claimed %d", len(again))
			}
			for _, tk := range again {
				if tk.Attempts != int(tc.wantAttempts)+1 {
					t.Errorf("re-claimed %+v: attempts %d, want %d", tk, tk.Attempts, tc.wantAttempts+1)
				}
			}
			if n, err := s.Release(ctx, toRelease, tc.charge); err != nil || n != 0 {
				t.Fatalf("Release of stale tokens = %d, %v; want 0", n, err)
			}
			if n := count(t, pool, `SELECT count(*) FROM frontier WHERE state = 'leased'`); n != 5 {
				t.Fatalf("%d leased rows after a stale release, want 5", n)
			}
		})
	}
}

func TestReleaseIgnoresFinalAndUnknown(t *testing.T) {
	t.Parallel()
	s, pool := newStore(t)
	ctx := t.Context()
	insert(t, s, mkURLs("fin", 2))
	tasks := claim(t, s, 2, time.Minute)
	persist(t, s, outcome(tasks[0], frontier.StateDone))

	if n, err := s.Release(ctx, nil, false); err != nil || n != 0 {
		t.Fatalf("Release(nil) = %d, %v", n, err)
	}
	n, err := s.Release(ctx, []int64{tasks[0].Token, 1 << 50, -1}, false)
	if err != nil || n != 0 {
		t.Fatalf("Release of a final row's and unknown tokens = %d, %v; want 0", n, err)
	}
	if r := frontierByID(t, pool, tasks[0].URLID); r.State != "done" || r.Attempts != 1 {
		t.Errorf("done row changed by Release: %+v", r)
	}
	if r := frontierByID(t, pool, tasks[1].URLID); r.State != "leased" {
		t.Errorf("leased row changed by Release of other tokens: %+v", r)
	}
}

// TestReleaseKeepsCountedAttempts checks a release adds the charge to the
// attempts already counted on the row (results of earlier fetches) and an
// uncharged one leaves them as they are.
func TestReleaseKeepsCountedAttempts(t *testing.T) {
	t.Parallel()
	s, pool := newStore(t)
	insert(t, s, mkURLs("keep", 2))
	tasks := claim(t, s, 2, time.Minute)
	// Two attempts were counted before this lease (two earlier fetches).
	exec(t, pool, `UPDATE frontier SET attempts = 2`)
	for i, charge := range []bool{false, true} {
		if n, err := s.Release(t.Context(), tokens(tasks[i:i+1]), charge); err != nil || n != 1 {
			t.Fatalf("Release(charge %v) = %d, %v", charge, n, err)
		}
		want := int32(2)
		if charge {
			want = 3
		}
		if r := frontierByID(t, pool, tasks[i].URLID); r.Attempts != want {
			t.Errorf("release with charge %v: attempts = %d, want %d", charge, r.Attempts, want)
		}
	}
}

func TestRenew(t *testing.T) {
	t.Parallel()
	s, pool := newStore(t)
	ctx := t.Context()
	insert(t, s, mkURLs("renew", 4))
	tasks := claim(t, s, 4, time.Minute)
	// tasks[3] is released: renewing its token must not resurrect it.
	if n, err := s.Release(ctx, tokens(tasks[3:]), false); err != nil || n != 1 {
		t.Fatalf("Release = %d, %v", n, err)
	}

	before := dbNow(t, pool)
	n, err := s.Renew(ctx, tokens(tasks), 2*time.Hour)
	if err != nil || n != 3 {
		t.Fatalf("Renew = %d, %v; want 3", n, err)
	}
	after := dbNow(t, pool)
	for _, tk := range tasks[:3] {
		r := frontierByID(t, pool, tk.URLID)
		if r.State != "leased" || r.LeaseExpiresAt == nil ||
			r.LeaseExpiresAt.Before(before.Add(2*time.Hour)) || r.LeaseExpiresAt.After(after.Add(2*time.Hour)) {
			t.Errorf("renewed row %+v: want expiry 2h from now (%v)", r, before.Add(2*time.Hour))
		}
		if r.Attempts != 0 {
			t.Errorf("renew changed attempts: %+v", r)
		}
	}
	if r := frontierByID(t, pool, tasks[3].URLID); r.State != "pending" || r.LeaseExpiresAt != nil {
		t.Errorf("released row renewed: %+v", r)
	}
	if n, err := s.Renew(ctx, nil, time.Hour); err != nil || n != 0 {
		t.Errorf("Renew(nil) = %d, %v", n, err)
	}
	// Renewed leases are not rescued.
	if n, err := s.RescueExpired(ctx); err != nil || n != 0 {
		t.Errorf("RescueExpired after Renew = %d, %v; want 0", n, err)
	}
	// Renewing into the past expires them.
	if n, err := s.Renew(ctx, tokens(tasks[:2]), -time.Second); err != nil || n != 2 {
		t.Fatalf("Renew(-1s) = %d, %v", n, err)
	}
	if n, err := s.RescueExpired(ctx); err != nil || n != 2 {
		t.Errorf("RescueExpired after Renew(-1s) = %d, %v; want 2", n, err)
	}
}

func TestRescueExpired(t *testing.T) {
	t.Parallel()
	s, pool := newStore(t)
	ctx := t.Context()
	urls := mkURLs("exp", 6)
	insert(t, s, urls)

	if n, err := s.RescueExpired(ctx); err != nil || n != 0 {
		t.Fatalf("RescueExpired with no leases = %d, %v", n, err)
	}
	expired, err := s.Claim(ctx, frontier.Claim{Shards: allShards, Limit: 2, Lease: -time.Second, Assistant: "a"})
	if err != nil || len(expired) != 2 {
		t.Fatalf("Claim(-1s) = %v, %v", expired, err)
	}
	short, err := s.Claim(ctx, frontier.Claim{Shards: allShards, Limit: 1, Lease: time.Millisecond, Assistant: "a"})
	if err != nil || len(short) != 1 {
		t.Fatalf("Claim(1ms) = %v, %v", short, err)
	}
	live := claim(t, s, 2, time.Hour)
	if len(live) != 2 {
		t.Fatalf("Claim(1h) = %v", live)
	}
	// Let the 1 ms lease run out, as the database sees it.
	waitDB(t, pool, `now() > lease_expires_at FROM frontier WHERE id = $1`, short[0].URLID)

	n, err := s.RescueExpired(ctx)
	if err != nil || n != 3 {
		t.Fatalf("RescueExpired = %d, %v; want 3", n, err)
	}
	for _, tk := range append(expired, short...) {
		r := frontierByID(t, pool, tk.URLID)
		if r.State != "pending" || r.LeaseExpiresAt != nil || r.Attempts != 0 {
			t.Errorf("rescued row %+v: want pending, no attempt charged (nothing says it was fetched)", r)
		}
	}
	for _, tk := range live {
		if r := frontierByID(t, pool, tk.URLID); r.State != "leased" || *r.LeaseToken != tk.Token {
			t.Errorf("live lease rescued: %+v", r)
		}
	}
	if n, err := s.RescueExpired(ctx); err != nil || n != 0 {
		t.Errorf("second RescueExpired = %d, %v; want 0", n, err)
	}
	// Rescued rows are claimable again, as their first attempt still.
	again := claim(t, s, 10, time.Hour)
	if len(again) != 4 { // 3 rescued + 1 never claimed
		t.Fatalf("claim after rescue got %d, want 4", len(again))
	}
	for _, tk := range again {
		if wantAttempts := 1; tk.Attempts != wantAttempts {
			t.Errorf("task %+v: attempts %d, want %d", tk, tk.Attempts, wantAttempts)
		}
	}
}
