package upkeep_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/crawlmaster/crawlmaster/internal/pgtest"
	"github.com/crawlmaster/crawlmaster/internal/promtest"
	"github.com/crawlmaster/crawlmaster/internal/testwait"
	"github.com/crawlmaster/crawlmaster/master/frontier"
	"github.com/crawlmaster/crawlmaster/master/store"
	"github.com/crawlmaster/crawlmaster/master/upkeep"
)

// Metric names.
const (
	revisitsDue = "crawlmaster_upkeep_revisits_due_total"
	rounds      = "crawlmaster_upkeep_rounds_total"
	deleted     = "crawlmaster_upkeep_retention_deleted_total"
)

var allShards = func() []int16 {
	s := make([]int16, frontier.NumShards)
	for i := range s {
		s[i] = int16(i)
	}
	return s
}()

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

// fixture is a migrated database of its own.
type fixture struct {
	t    *testing.T
	s    *store.Store
	pool *pgxpool.Pool
	n    int // URLs made so far, for unique sites
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	pool, _ := pgtest.NewPool(t)
	if _, err := store.Migrate(t.Context(), pool); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	return &fixture{t: t, s: store.New(pool), pool: pool}
}

// crawl creates a crawl of the URLs given (no discovery).
func (f *fixture) crawl(name string, mode string, sched frontier.Schedule, retention time.Duration) frontier.Crawl {
	f.t.Helper()
	c := frontier.NewCrawl(name)
	c.MaxDepth, c.Revisit, c.Schedule, c.Retention = 0, frontier.DefaultRevisit(mode), sched, retention
	created, err := f.s.CreateCrawl(f.t.Context(), c)
	if err != nil {
		f.t.Fatal(err)
	}
	return created
}

// fetch adds n URLs of their own sites to crawl c, claims them and
// persists an outcome for each, decided by mk (i counts the URLs).
func (f *fixture) fetch(c frontier.Crawl, n int, mk func(i int, o *frontier.Outcome)) []frontier.Outcome {
	f.t.Helper()
	ctx := f.t.Context()
	urls := make([]store.NewURL, n)
	for i := range urls {
		d := fmt.Sprintf("u%d.example", f.n)
		f.n++
		urls[i] = store.NewURL{URL: "https://" + d + "/", Host: d, Domain: d, Priority: int32(f.n)}
	}
	if k, err := f.s.Insert(ctx, c, urls, store.SourceAPI); err != nil || k != int64(n) {
		f.t.Fatalf("Insert = %d, %v", k, err)
	}
	tasks, err := f.s.Claim(ctx, frontier.Claim{Shards: allShards, Limit: 1000, Lease: time.Minute, Assistant: "a1"})
	if err != nil || len(tasks) != n {
		f.t.Fatalf("Claim = %d tasks, %v; want %d", len(tasks), err, n)
	}
	outs := make([]frontier.Outcome, n)
	for i, tk := range tasks {
		outs[i] = frontier.Outcome{URLID: tk.URLID, Token: tk.Token, State: frontier.StateDone, URL: tk.URL,
			FinalURL: tk.URL, HTTPStatus: 200, ContentType: "text/html", Class: "ok", Robots: "allowed",
			Attempts: int32(tk.Attempts), Assistant: "a1", FetchedAt: time.Now(), CrawlID: tk.CrawlID,
			Body: []byte("<html>" + tk.URL + "</html>")}
		outs[i].BodySize = int64(len(outs[i].Body))
		mk(i, &outs[i])
	}
	w, err := f.s.Persist(ctx, outs)
	if err != nil || w.Accepted.Total() != int64(n) {
		f.t.Fatalf("Persist = %v, %v", w.Accepted, err)
	}
	return outs
}

func (f *fixture) count(sql string, args ...any) int64 {
	f.t.Helper()
	var n int64
	if err := f.pool.QueryRow(f.t.Context(), sql, args...).Scan(&n); err != nil {
		f.t.Fatalf("%s: %v", sql, err)
	}
	return n
}

func (f *fixture) exec(sql string, args ...any) {
	f.t.Helper()
	if _, err := f.pool.Exec(f.t.Context(), sql, args...); err != nil {
		f.t.Fatalf("%s: %v", sql, err)
	}
}

// loop returns a loop on the fixture's store with its own registry, and
// a counter of its Wake calls.
func (f *fixture) loop(cfg upkeep.Config, now time.Time) (*upkeep.Loop, *prometheus.Registry, *atomic.Int64) {
	reg := prometheus.NewRegistry()
	l := upkeep.New(cfg, f.s, discard, upkeep.NewMetrics(reg))
	var wakes atomic.Int64
	l.Wake = func() { wakes.Add(1) }
	if !now.IsZero() {
		l.Now = func() time.Time { return now }
	}
	return l, reg, &wakes
}

func metric(t *testing.T, reg *prometheus.Registry, name, label, value string) float64 {
	t.Helper()
	var labels map[string]string
	if label != "" {
		labels = map[string]string{label: value}
	}
	return promtest.Value(t, reg, name, labels)
}

// TestPass: a pass promotes every due revisit, a batch at a time, ticks
// the due schedules and wakes the feeders when URLs became due; a pass
// with nothing to do or only skipped rounds does not wake them.
func TestPass(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := t.Context()
	var dbNow time.Time
	if err := f.pool.QueryRow(ctx, `SELECT now()`).Scan(&dbNow); err != nil {
		t.Fatal(err)
	}
	rv := f.crawl("rv", frontier.RevisitFixed, frontier.Schedule{}, 0)
	f.fetch(rv, 5, func(i int, o *frontier.Outcome) {
		o.Revisit = &frontier.RevisitState{OKAt: o.FetchedAt}
		o.RevisitAt = dbNow.Add(-time.Duration(i+1) * time.Minute)
	})
	f.fetch(rv, 1, func(_ int, o *frontier.Outcome) { o.RevisitAt = dbNow.Add(time.Hour) })
	skip := f.crawl("skip", frontier.RevisitNone, frontier.Schedule{Every: time.Hour, Overlap: frontier.OverlapSkip}, 0)
	f.fetch(skip, 2, func(int, *frontier.Outcome) {})
	merge := f.crawl("merge", frontier.RevisitNone, frontier.Schedule{Every: time.Hour, Overlap: frontier.OverlapMerge}, 0)
	f.fetch(merge, 2, func(i int, o *frontier.Outcome) {
		if i == 1 { // still running at the first tick
			o.State, o.NextFetchAt, o.Body = frontier.StatePending, dbNow.Add(time.Hour), nil
		}
	})

	cfg := upkeep.DefaultConfig(0)
	cfg.PromoteBatch = 2
	t0 := time.Now().Truncate(time.Microsecond)
	l, reg, wakes := f.loop(cfg, t0)
	l.Pass(ctx)
	if got := metric(t, reg, revisitsDue, "", ""); got != 5 {
		t.Errorf("revisits counted %v, want 5", got)
	}
	if n := f.count(`SELECT count(*) FROM frontier WHERE crawl_id = $1 AND state = 'pending' AND attempts = 0 AND revisit_at IS NULL`, rv.ID); n != 5 {
		t.Errorf("%d due revisits pending after a pass with batches of 2, want 5", n)
	}
	if n := f.count(`SELECT count(*) FROM frontier WHERE crawl_id = $1 AND state = 'done' AND revisit_at IS NOT NULL`, rv.ID); n != 1 {
		t.Errorf("%d revisits not yet due left, want 1", n)
	}
	for outcome, want := range map[string]float64{store.RoundStarted: 1, store.RoundMerged: 1, store.RoundSkipped: 0} {
		if got := metric(t, reg, rounds, "outcome", outcome); got != want {
			t.Errorf("rounds %s = %v, want %v", outcome, got, want)
		}
	}
	if n := f.count(`SELECT count(*) FROM frontier WHERE crawl_id IN ($1, $2) AND state = 'pending'`, skip.ID, merge.ID); n != 4 {
		t.Errorf("%d seeds of the scheduled crawls pending, want 4", n)
	}
	if w := wakes.Load(); w != 1 {
		t.Errorf("Wake called %d times, want 1", w)
	}

	// Nothing due: nothing counted, nobody woken.
	l.Now = func() time.Time { return t0.Add(time.Minute) }
	l.Pass(ctx)
	if w, got := wakes.Load(), metric(t, reg, revisitsDue, "", ""); w != 1 || got != 5 {
		t.Errorf("idle pass: wakes %d, revisits %v; want 1 and 5", w, got)
	}

	// The next tick finds both rounds running: skipped and merged
	// (nothing final to make due), and nobody is woken.
	l.Now = func() time.Time { return t0.Add(time.Hour + time.Second) }
	l.Pass(ctx)
	for outcome, want := range map[string]float64{store.RoundStarted: 1, store.RoundMerged: 2, store.RoundSkipped: 1} {
		if got := metric(t, reg, rounds, "outcome", outcome); got != want {
			t.Errorf("after the second tick: rounds %s = %v, want %v", outcome, got, want)
		}
	}
	if w := wakes.Load(); w != 1 {
		t.Errorf("Wake called %d times after a tick that made nothing due, want 1", w)
	}
	for _, c := range []struct {
		name   string
		rounds int
	}{{"skip", 1}, {"merge", 2}} {
		k, err := f.s.Crawl(ctx, c.name)
		if err != nil || k.Rounds != c.rounds || !k.NextRound.Equal(t0.Add(2*time.Hour)) {
			t.Errorf("crawl %s: rounds %d next %v (%v), want %d and %v", c.name, k.Rounds, k.NextRound, err, c.rounds, t0.Add(2*time.Hour))
		}
	}
}

// TestRetain: retention deletes each crawl's results older than its own
// retention or the default, with their bodies, a batch at a time, and
// counts them; a crawl without any retention keeps everything.
func TestRetain(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := t.Context()
	keep := f.crawl("keep", frontier.RevisitNone, frontier.Schedule{}, time.Hour)
	bodyless := func(i int, o *frontier.Outcome) {
		if i%2 == 1 {
			o.State, o.Class, o.HTTPStatus, o.Error, o.Body = frontier.StateFailed, "http_4xx", 404, "404", nil
		}
	}
	f.fetch(keep, 5, bodyless) // 3 with bodies
	f.exec(`UPDATE results SET persisted_at = now() - interval '3 hours' WHERE crawl_id = $1`, keep.ID)
	f.fetch(keep, 1, bodyless) // a new one with a body
	def := frontier.Crawl{ID: frontier.DefaultCrawlID}
	f.fetch(def, 2, bodyless)
	f.exec(`UPDATE results SET persisted_at = now() - interval '3 hours' WHERE crawl_id = $1`, def.ID)
	urls := f.count(`SELECT count(*) FROM frontier`)

	cfg := upkeep.DefaultConfig(0)
	cfg.DeleteBatch = 2
	now := time.Now()
	l, reg, wakes := f.loop(cfg, now)
	check := func(what string, results, bodies float64, left int64) {
		t.Helper()
		if r, b := metric(t, reg, deleted, "table", "results"), metric(t, reg, deleted, "table", "bodies"); r != results || b != bodies {
			t.Errorf("%s: deleted results %v bodies %v, want %v and %v", what, r, b, results, bodies)
		}
		if n := f.count(`SELECT count(*) FROM results`); n != left {
			t.Errorf("%s: %d results left, want %d", what, n, left)
		}
		if n := f.count(`SELECT count(*) FROM bodies b LEFT JOIN results r USING (lease_token) WHERE r.lease_token IS NULL`); n != 0 {
			t.Errorf("%s: %d bodies without a result", what, n)
		}
		if n := f.count(`SELECT count(*) FROM frontier`); n != urls {
			t.Errorf("%s: %d frontier rows, want %d", what, n, urls)
		}
	}
	l.Retain(ctx)
	check("first pass", 5, 3, 3)
	if n := f.count(`SELECT count(*) FROM results WHERE crawl_id = $1`, def.ID); n != 2 {
		t.Errorf("the default crawl (no retention) lost results: %d left", n)
	}
	l.Retain(ctx)
	check("second pass, nothing expired since", 5, 3, 3)

	// Two days on, the crawl's last result has expired; the default
	// crawl's are kept, having no retention.
	l.Now = func() time.Time { return now.Add(48 * time.Hour) }
	l.Retain(ctx)
	check("two days on", 6, 4, 2)

	// With a deployment default, crawls without their own follow it.
	cfg.DefaultRetention = 2 * time.Hour
	l2, reg2, _ := f.loop(cfg, now)
	l2.Retain(ctx)
	if r, b := metric(t, reg2, deleted, "table", "results"), metric(t, reg2, deleted, "table", "bodies"); r != 2 || b != 1 {
		t.Errorf("default retention deleted results %v bodies %v, want 2 and 1", r, b)
	}
	if n := f.count(`SELECT count(*) FROM results`); n != 0 {
		t.Errorf("%d results left", n)
	}
	if w := wakes.Load(); w != 0 {
		t.Errorf("retention woke the feeders %d times", w)
	}
}

// TestRun: the loop makes passes (revisits promoted, feeders woken) and a
// retention pass at once, and stops with its context.
func TestRun(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	var dbNow time.Time
	if err := f.pool.QueryRow(t.Context(), `SELECT now()`).Scan(&dbNow); err != nil {
		t.Fatal(err)
	}
	rv := f.crawl("rv", frontier.RevisitFixed, frontier.Schedule{}, time.Hour)
	f.fetch(rv, 3, func(_ int, o *frontier.Outcome) { o.RevisitAt = dbNow.Add(-time.Second) })
	f.exec(`UPDATE results SET persisted_at = now() - interval '2 hours'`)

	cfg := upkeep.DefaultConfig(0)
	cfg.Interval = time.Millisecond
	l, reg, wakes := f.loop(cfg, time.Time{})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		l.Run(ctx)
	}()
	testwait.Until(t, "revisits promoted and results deleted", 10*time.Second, 5*time.Millisecond, func() bool {
		return wakes.Load() >= 1 && metric(t, reg, deleted, "table", "results") == 3
	})
	if got := metric(t, reg, revisitsDue, "", ""); got != 3 {
		t.Errorf("revisits counted %v, want 3", got)
	}
	if n := f.count(`SELECT count(*) FROM frontier WHERE state = 'pending'`); n != 3 {
		t.Errorf("%d URLs pending, want 3", n)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
	if got := metric(t, reg, deleted, "table", "bodies"); got != 3 {
		t.Errorf("bodies deleted %v, want 3", got)
	}
}
