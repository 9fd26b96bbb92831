package store_test

import (
	"errors"
	"maps"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/crawlmaster/crawlmaster/crawl/errclass"
	"github.com/crawlmaster/crawlmaster/master/frontier"
	"github.com/crawlmaster/crawlmaster/master/store"
)

func TestReleaseAll(t *testing.T) {
	t.Parallel()
	s, pool := newStore(t)
	ctx := t.Context()
	insert(t, s, mkURLs("all", 10))
	if n, err := s.ReleaseAll(ctx); err != nil || n != 0 {
		t.Fatalf("ReleaseAll with no leases = %d, %v", n, err)
	}
	a, err := s.Claim(ctx, frontier.Claim{Shards: allShards, Limit: 3, Lease: time.Hour, Assistant: "a"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.Claim(ctx, frontier.Claim{Shards: allShards, Limit: 4, Lease: -time.Minute, Assistant: "b"})
	if err != nil {
		t.Fatal(err)
	}
	persist(t, s, outcome(a[0], frontier.StateDone), outcome(b[0], frontier.StateFailed))

	n, err := s.ReleaseAll(ctx)
	if err != nil || n != 5 {
		t.Fatalf("ReleaseAll = %d, %v; want 5", n, err)
	}
	st, err := s.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := map[frontier.State]int64{frontier.StatePending: 8, frontier.StateDone: 1, frontier.StateFailed: 1}
	if !maps.Equal(st.Counts, want) {
		t.Fatalf("after ReleaseAll: counts %v, want %v", st.Counts, want)
	}
	// Only the written results counted an attempt: a lease returned by a
	// new leader says nothing about its URL having been fetched.
	if c := count(t, pool, `SELECT count(*) FROM frontier WHERE attempts = 1`); c != 2 {
		t.Errorf("%d rows with one attempt, want 2 (the two results)", c)
	}
	if c := count(t, pool, `SELECT count(*) FROM frontier WHERE attempts = 0`); c != 8 {
		t.Errorf("%d rows with no attempt, want 8", c)
	}
	if c := count(t, pool, `SELECT count(*) FROM frontier WHERE lease_expires_at IS NOT NULL`); c != 0 {
		t.Errorf("%d rows still have a lease expiry", c)
	}
	// Every previous token is stale now.
	var late []frontier.Outcome
	for _, tk := range append(a[1:], b[1:]...) {
		late = append(late, outcome(tk, frontier.StateDone))
	}
	if acc := persist(t, s, late...); acc.Total() != 0 {
		t.Errorf("results of released leases accepted: %v", acc)
	}
}

func TestStats(t *testing.T) {
	t.Parallel()
	s, pool := newStore(t)
	ctx := t.Context()

	st, err := s.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Counts) != 0 || st.Total() != 0 || st.Final() != 0 || !st.OldestDue.IsZero() {
		t.Fatalf("Stats of an empty frontier = %+v", st)
	}

	insert(t, s, mkURLs("st", 12))
	tasks := claim(t, s, 7, time.Minute)
	persist(t, s,
		outcome(tasks[0], frontier.StateDone), outcome(tasks[1], frontier.StateDone),
		outcome(tasks[2], frontier.StateFailed),
		outcome(tasks[3], frontier.StateDead), outcome(tasks[4], frontier.StateDead), outcome(tasks[5], frontier.StateDead))
	// Left: 1 leased, 5 pending. Give the pending ones known due times,
	// one in the future, and put a final row's next_fetch_at further back
	// (it must not count).
	t1 := time.Date(2021, 1, 2, 3, 4, 5, 0, time.UTC)
	t0 := t1.Add(-time.Hour)
	exec(t, pool, `UPDATE frontier SET next_fetch_at = $1 WHERE state = 'pending'`, t1.Add(time.Minute))
	exec(t, pool, `UPDATE frontier SET next_fetch_at = $1 WHERE id = (SELECT min(id) FROM frontier WHERE state = 'pending')`, t0)
	exec(t, pool, `UPDATE frontier SET next_fetch_at = now() + interval '1 day'
		WHERE id = (SELECT max(id) FROM frontier WHERE state = 'pending')`)
	exec(t, pool, `UPDATE frontier SET next_fetch_at = $1 WHERE state IN ('done', 'leased')`, t0.Add(-24*time.Hour))

	st, err = s.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := map[frontier.State]int64{frontier.StatePending: 5, frontier.StateLeased: 1, frontier.StateDone: 2, frontier.StateFailed: 1, frontier.StateDead: 3}
	if !maps.Equal(st.Counts, want) {
		t.Errorf("counts %v, want %v", st.Counts, want)
	}
	if st.Total() != 12 || st.Final() != 6 {
		t.Errorf("Total %d Final %d, want 12, 6", st.Total(), st.Final())
	}
	if !st.OldestDue.Equal(t0) {
		t.Errorf("OldestDue = %v, want %v", st.OldestDue, t0)
	}

	// Nothing due: OldestDue is zero even though pending rows exist.
	exec(t, pool, `UPDATE frontier SET next_fetch_at = now() + interval '1 hour' WHERE state = 'pending'`)
	st, err = s.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !st.OldestDue.IsZero() || st.Counts[frontier.StatePending] != 5 {
		t.Errorf("with nothing due: OldestDue %v, pending %d; want zero, 5", st.OldestDue, st.Counts[frontier.StatePending])
	}
}

func TestOutcomes(t *testing.T) {
	t.Parallel()
	s, pool := newStore(t)
	ctx := t.Context()

	if oc, err := s.Outcomes(ctx); err != nil || len(oc) != 0 {
		t.Fatalf("Outcomes of an empty frontier = %v, %v", oc, err)
	}

	insert(t, s, mkURLs("oc", 12))
	tasks := claim(t, s, 10, time.Minute)
	mk := func(i int, st frontier.State, class string) frontier.Outcome {
		o := outcome(tasks[i], st)
		o.Class = errclass.Class(class)
		return o
	}
	persist(t, s,
		mk(0, frontier.StateDone, "ok"), mk(1, frontier.StateDone, "ok"),
		mk(2, frontier.StateFailed, "http_4xx"), mk(3, frontier.StateFailed, "http_4xx"), mk(4, frontier.StateFailed, "http_4xx"),
		mk(5, frontier.StateFailed, "dns_not_found"),
		mk(6, frontier.StateDead, "timeout"),
		mk(7, frontier.StateDead, "conn_refused"), mk(8, frontier.StateDead, "conn_refused"),
		mk(9, frontier.StatePending, "http_5xx"), // not final: not counted
	)
	// A final row without a class (e.g. written by an operator).
	exec(t, pool, `UPDATE frontier SET state = 'failed', last_class = NULL
		WHERE id = (SELECT max(id) FROM frontier WHERE state = 'pending' AND last_class IS NULL)`)

	got, err := s.Outcomes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []store.OutcomeCount{
		{frontier.StateDead, "conn_refused", 2},
		{frontier.StateDead, "timeout", 1},
		{frontier.StateDone, "ok", 2},
		{frontier.StateFailed, "http_4xx", 3},
		// dns_not_found and "" both count 1; their order is unspecified.
	}
	if len(got) != 6 || !reflect.DeepEqual(got[:4], want) {
		t.Fatalf("Outcomes = %+v, want %+v then two failed rows of count 1", got, want)
	}
	tail := []store.OutcomeCount{got[4], got[5]}
	slices.SortFunc(tail, func(a, b store.OutcomeCount) int {
		if a.Class < b.Class {
			return -1
		}
		return 1
	})
	if !reflect.DeepEqual(tail, []store.OutcomeCount{{frontier.StateFailed, "", 1}, {frontier.StateFailed, "dns_not_found", 1}}) {
		t.Fatalf("Outcomes tail = %+v", tail)
	}
}

func TestStatusRoundTrip(t *testing.T) {
	t.Parallel()
	s, pool := newStore(t)
	ctx := t.Context()

	if _, err := s.ReadStatus(ctx); !errors.Is(err, store.ErrNoStatus) {
		t.Fatalf("ReadStatus before any write: %v, want ErrNoStatus", err)
	}

	started := time.Date(2025, 5, 6, 7, 8, 9, 123456000, time.UTC)
	st := store.MasterStatus{
		MasterID:  "master-1",
		StartedAt: started,
		UpdatedAt: time.Date(1999, 1, 1, 0, 0, 0, 0, time.UTC), // ignored: the database's clock is used
		Assistants: []frontier.AssistantStatus{
			{ID: "a1", Up: true, Slots: 16, Busy: 7, InFlight: 120, Dispatched: 1 << 40},
			{ID: "a2", Draining: true, LastError: "connection refused \"quoted\" ünïcode"},
		},
	}
	before := dbNow(t, pool)
	if err := s.WriteStatus(ctx, st); err != nil {
		t.Fatal(err)
	}
	got, err := s.ReadStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got.MasterID != st.MasterID || !got.StartedAt.Equal(started) || !reflect.DeepEqual(got.Assistants, st.Assistants) {
		t.Fatalf("ReadStatus = %+v, want %+v", got, st)
	}
	if got.UpdatedAt.Before(before.Add(-time.Millisecond)) || got.UpdatedAt.After(dbNow(t, pool)) {
		t.Errorf("UpdatedAt = %v, want the write's time (about %v)", got.UpdatedAt, before)
	}

	// A second write replaces the single row.
	st2 := store.MasterStatus{MasterID: "master-2", StartedAt: started.Add(time.Hour)}
	if err := s.WriteStatus(ctx, st2); err != nil {
		t.Fatal(err)
	}
	got2, err := s.ReadStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got2.MasterID != "master-2" || !got2.StartedAt.Equal(st2.StartedAt) || len(got2.Assistants) != 0 {
		t.Fatalf("after the second write: %+v", got2)
	}
	if got2.UpdatedAt.Before(got.UpdatedAt) {
		t.Errorf("UpdatedAt went back: %v -> %v", got.UpdatedAt, got2.UpdatedAt)
	}
	if n := count(t, pool, `SELECT count(*) FROM master_status`); n != 1 {
		t.Errorf("master_status has %d rows, want 1", n)
	}

	// An empty (non-nil) list round-trips as empty.
	st2.Assistants = []frontier.AssistantStatus{}
	if err := s.WriteStatus(ctx, st2); err != nil {
		t.Fatal(err)
	}
	if got3, err := s.ReadStatus(ctx); err != nil || len(got3.Assistants) != 0 {
		t.Fatalf("ReadStatus = %+v, %v", got3, err)
	}
}

// ReleaseUnheld ends the leases of one assistant that the master does not
// hold (a claim whose reply was lost), keeping the held ones, the other
// assistants' and the written ones.
func TestReleaseUnheld(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	ctx := t.Context()
	insert(t, s, mkURLs("unheld", 10))
	a, err := s.Claim(ctx, frontier.Claim{Shards: allShards, Limit: 4, Lease: time.Hour, Assistant: "a"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.Claim(ctx, frontier.Claim{Shards: allShards, Limit: 2, Lease: time.Hour, Assistant: "b"})
	if err != nil || len(a) != 4 || len(b) != 2 {
		t.Fatalf("claims: %d, %d, %v", len(a), len(b), err)
	}
	persist(t, s, outcome(a[0], frontier.StateDone))
	// The master holds a[1]; a[2] and a[3] came from a claim it never heard of.
	if n, err := s.ReleaseUnheld(ctx, "a", []int64{a[1].Token}); err != nil || n != 2 {
		t.Fatalf("ReleaseUnheld = %d, %v; want a[2] and a[3]", n, err)
	}
	// Holding nothing releases all of b's.
	if n, err := s.ReleaseUnheld(ctx, "b", nil); err != nil || n != 2 {
		t.Fatalf("ReleaseUnheld(b, nil) = %d, %v; want 2", n, err)
	}
	st, err := s.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Counts[frontier.StateLeased] != 1 || st.Counts[frontier.StateDone] != 1 {
		t.Fatalf("counts %v; want a[1] still leased, a[0] done", st.Counts)
	}
}
