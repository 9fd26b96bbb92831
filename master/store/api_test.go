package store_test

import (
	"slices"
	"testing"
	"time"

	"github.com/crawlmaster/crawlmaster/master/store"
)

// InsertSeeds says which URLs were new: a URL the crawl has, or one given
// earlier in the same call, is not. A discovering crawl's seeds get
// priority 0 and count against their sites' budgets, as with Insert.
func TestInsertSeeds(t *testing.T) {
	t.Parallel()
	s, pool := newStore(t)
	a, b, c := seedURL("https://a.example/"), seedURL("https://b.example/x"), seedURL("https://a.example/y")
	a.Priority, b.Priority, c.Priority = 5, 6, 7
	isNew, err := s.InsertSeeds(t.Context(), defaultCrawl, []store.NewURL{a, b, a}, store.SourceAPI)
	if err != nil {
		t.Fatal(err)
	}
	if want := []bool{true, true, false}; !slices.Equal(isNew, want) {
		t.Errorf("first call: %v, want %v", isNew, want)
	}
	isNew, err = s.InsertSeeds(t.Context(), defaultCrawl, []store.NewURL{b, c}, store.SourceAPI)
	if err != nil {
		t.Fatal(err)
	}
	if want := []bool{false, true}; !slices.Equal(isNew, want) {
		t.Errorf("second call: %v, want %v", isNew, want)
	}
	if n := count(t, pool, `SELECT count(*) FROM frontier WHERE source = 'api' AND state = 'pending' AND depth = 0 AND priority BETWEEN 5 AND 7`); n != 3 {
		t.Errorf("%d pending API seeds with their priorities, want 3", n)
	}
	if empty, err := s.InsertSeeds(t.Context(), defaultCrawl, nil, store.SourceAPI); err != nil || len(empty) != 0 {
		t.Errorf("no URLs: %v, %v", empty, err)
	}

	site := siteCrawl(t, s, "site", 100)
	isNew, err = s.InsertSeeds(t.Context(), site, []store.NewURL{a, c, a}, store.SourceAPI)
	if err != nil {
		t.Fatal(err)
	}
	if want := []bool{true, true, false}; !slices.Equal(isNew, want) {
		t.Errorf("discovering crawl: %v, want %v", isNew, want)
	}
	if n := count(t, pool, `SELECT admitted FROM sites WHERE crawl_id = $1 AND site = 'a.example'`, site.ID); n != 2 {
		t.Errorf("a.example admitted %d, want 2", n)
	}
	if n := count(t, pool, `SELECT count(*) FROM frontier WHERE crawl_id = $1 AND priority = 0`, site.ID); n != 2 {
		t.Errorf("%d seeds of priority 0, want 2", n)
	}
}

// Heartbeats and the leader's status carry the master's API address,
// which Masters returns.
func TestMastersAPIAddr(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	ctx := t.Context()
	started := time.Now()
	if err := s.Heartbeat(ctx, "standby-1", store.RoleStandby, started, "10.0.0.2:9000"); err != nil {
		t.Fatal(err)
	}
	if err := s.WriteStatus(ctx, store.MasterStatus{MasterID: "leader-1", StartedAt: started, APIAddr: "10.0.0.1:9000"}); err != nil {
		t.Fatal(err)
	}
	ms, err := s.Masters(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 2 || ms[0].ID != "leader-1" || ms[0].APIAddr != "10.0.0.1:9000" || ms[1].APIAddr != "10.0.0.2:9000" {
		t.Fatalf("Masters = %+v", ms)
	}
	// A standby that takes over writes its address as leader.
	if err := s.WriteStatus(ctx, store.MasterStatus{MasterID: "standby-1", StartedAt: started, APIAddr: "10.0.0.2:9001"}); err != nil {
		t.Fatal(err)
	}
	if ms, err = s.Masters(ctx); err != nil || len(ms) != 1 || ms[0].Role != store.RoleLeader || ms[0].APIAddr != "10.0.0.2:9001" {
		t.Fatalf("after the takeover: %+v, %v", ms, err)
	}
}
