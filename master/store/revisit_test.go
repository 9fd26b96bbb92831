package store_test

import (
	"bytes"
	"crypto/sha256"
	"maps"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/crawlmaster/crawlmaster/master/frontier"
	"github.com/crawlmaster/crawlmaster/master/store"
)

// rvCrawl creates a crawl of the URLs given (no discovery) with the
// revisit mode's default policy and the schedule given.
func rvCrawl(t *testing.T, s *store.Store, name, mode string, sched frontier.Schedule) frontier.Crawl {
	t.Helper()
	c := frontier.NewCrawl(name)
	c.MaxDepth = 0
	c.Revisit = frontier.DefaultRevisit(mode)
	c.Schedule = sched
	created, err := s.CreateCrawl(t.Context(), c)
	if err != nil {
		t.Fatalf("CreateCrawl(%s): %v", name, err)
	}
	return created
}

// rvInsert adds urls to crawl c as seeds.
func rvInsert(t *testing.T, s *store.Store, c frontier.Crawl, urls []store.NewURL) {
	t.Helper()
	n, err := s.Insert(t.Context(), c, urls, store.SourceAPI)
	if err != nil || n != int64(len(urls)) {
		t.Fatalf("Insert into %s = %d, %v; want %d", c.Name, n, err, len(urls))
	}
}

// rvOutcome is outcome() for the task's own crawl.
func rvOutcome(task frontier.Task, st frontier.State) frontier.Outcome {
	o := outcome(task, st)
	o.CrawlID, o.Depth = task.CrawlID, task.Depth
	return o
}

// rvClaimAll claims every due URL and fails unless there are want.
func rvClaimAll(t *testing.T, s *store.Store, want int) []frontier.Task {
	t.Helper()
	tasks := claim(t, s, 1000, time.Minute)
	if len(tasks) != want {
		t.Fatalf("claimed %d URLs, want %d: %+v", len(tasks), want, tasks)
	}
	return tasks
}

// rvRow is a frontier row's revisit columns.
type rvRow struct {
	State              string
	Attempts           int32
	NextFetchAt        time.Time
	LeaseToken         *int64
	ETag, LastModified *string
	LastHash           []byte
	LastOKAt           *time.Time
	RevisitAt          *time.Time
	Interval, Span     *float32
	Changes, Visits    *float32
}

func rvFrontier(t *testing.T, pool *pgxpool.Pool, id int64) rvRow {
	t.Helper()
	var r rvRow
	err := pool.QueryRow(t.Context(), `
SELECT state, attempts, next_fetch_at, lease_token, etag, last_modified, last_hash, last_ok_at, revisit_at,
    rv_interval, rv_span, rv_changes, rv_visits
FROM frontier WHERE id = $1`, id).Scan(&r.State, &r.Attempts, &r.NextFetchAt, &r.LeaseToken, &r.ETag,
		&r.LastModified, &r.LastHash, &r.LastOKAt, &r.RevisitAt, &r.Interval, &r.Span, &r.Changes, &r.Visits)
	if err != nil {
		t.Fatalf("read frontier row %d: %v", id, err)
	}
	return r
}

// rvCheckRow checks that a frontier row keeps revisit state want (nil:
// none, every column NULL) and is due again at revisitAt (zero: NULL).
func rvCheckRow(t *testing.T, what string, got rvRow, want *frontier.RevisitState, revisitAt time.Time) {
	t.Helper()
	str := func(p *string) string {
		if p == nil {
			return "<NULL>"
		}
		return strconv.Quote(*p)
	}
	wantStr := func(s string) string {
		if s == "" {
			return "<NULL>"
		}
		return strconv.Quote(s)
	}
	tm := func(p *time.Time) time.Time {
		if p == nil {
			return time.Time{}
		}
		return *p
	}
	fl := func(p *float32) string {
		if p == nil {
			return "<NULL>"
		}
		return strconv.FormatFloat(float64(*p), 'g', -1, 32)
	}
	wantFl := func(f float64) string {
		if f == 0 {
			return "<NULL>"
		}
		return strconv.FormatFloat(float64(float32(f)), 'g', -1, 32)
	}
	if want == nil {
		want = &frontier.RevisitState{}
	}
	if g, w := str(got.ETag), wantStr(want.ETag); g != w {
		t.Errorf("%s: etag %s, want %s", what, g, w)
	}
	if g, w := str(got.LastModified), wantStr(want.LastModified); g != w {
		t.Errorf("%s: last_modified %s, want %s", what, g, w)
	}
	if !bytes.Equal(got.LastHash, want.Hash) || (got.LastHash == nil) != (len(want.Hash) == 0) {
		t.Errorf("%s: last_hash %x (nil %v), want %x", what, got.LastHash, got.LastHash == nil, want.Hash)
	}
	if g := tm(got.LastOKAt); !g.Equal(want.OKAt) {
		t.Errorf("%s: last_ok_at %v, want %v", what, g, want.OKAt)
	}
	if g := tm(got.RevisitAt); !g.Equal(revisitAt) {
		t.Errorf("%s: revisit_at %v, want %v", what, g, revisitAt)
	}
	for _, c := range []struct {
		name string
		got  *float32
		want float64
	}{{"rv_interval", got.Interval, want.Interval}, {"rv_span", got.Span, want.Span}, {"rv_changes", got.Changes, want.Changes},
		{"rv_visits", got.Visits, want.Visits}} {
		if g, w := fl(c.got), wantFl(c.want); g != w {
			t.Errorf("%s: %s %s, want %s", what, c.name, g, w)
		}
	}
}

// rvAsStored is st as a claim reads it back: the estimator in float32.
func rvAsStored(st *frontier.RevisitState) *frontier.RevisitState {
	c := *st
	c.Interval, c.Span = float64(float32(st.Interval)), float64(float32(st.Span))
	c.Changes, c.Visits = float64(float32(st.Changes)), float64(float32(st.Visits))
	return &c
}

func rvEqualState(a, b *frontier.RevisitState) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.ETag == b.ETag && a.LastModified == b.LastModified && bytes.Equal(a.Hash, b.Hash) &&
		a.OKAt.Equal(b.OKAt) && a.Interval == b.Interval && a.Span == b.Span && a.Changes == b.Changes &&
		a.Visits == b.Visits
}

// rvResult is a results row's columns of migration 0007.
type rvResult struct {
	URLID                     int64
	State                     string
	RequestHead, ResponseHead []byte
	NotModified, Unchanged    bool
	RefersTo                  *time.Time
	XID                       uint64
}

func rvResults(t *testing.T, pool *pgxpool.Pool) map[int64]rvResult {
	t.Helper()
	rows, err := pool.Query(t.Context(), `SELECT lease_token, url_id, state, request_head, response_head,
		not_modified, unchanged, refers_to, xid::text FROM results`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[int64]rvResult{}
	for rows.Next() {
		var tok int64
		var r rvResult
		var xid string
		if err := rows.Scan(&tok, &r.URLID, &r.State, &r.RequestHead, &r.ResponseHead, &r.NotModified,
			&r.Unchanged, &r.RefersTo, &xid); err != nil {
			t.Fatal(err)
		}
		if r.XID, err = strconv.ParseUint(xid, 10, 64); err != nil {
			t.Fatal(err)
		}
		out[tok] = r
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func promote(t *testing.T, s *store.Store, limit int) int64 {
	t.Helper()
	n, err := s.PromoteDue(t.Context(), limit)
	if err != nil {
		t.Fatalf("PromoteDue: %v", err)
	}
	return n
}

// TestRevisitStateRoundTrip: an outcome's revisit state and heads are
// stored on the frontier row and the results row; once the revisit is
// promoted, the claim hands the state back (the estimator in float32); a
// retry keeps it; a crawl that does not revisit stores none of it.
func TestRevisitStateRoundTrip(t *testing.T) {
	t.Parallel()
	s, pool := newStore(t)
	ctx := t.Context()
	c := rvCrawl(t, s, "adaptive", frontier.RevisitAdaptive, frontier.Schedule{})
	rvInsert(t, s, c, mkURLs("rt", 2))
	tasks := rvClaimAll(t, s, 2)
	for _, tk := range tasks {
		if tk.CrawlID != c.ID || tk.Revisit != nil {
			t.Fatalf("first claim %+v: want crawl %d and no revisit state", tk, c.ID)
		}
	}

	now := dbNow(t, pool)
	okAt := time.Date(2025, 6, 1, 12, 30, 45, 123456000, time.UTC)
	hash := sha256.Sum256([]byte("page v1"))
	stDone := &frontier.RevisitState{ETag: `W/"v1-abc"`, LastModified: "Sun, 01 Jun 2025 12:00:00 GMT",
		Hash: hash[:], OKAt: okAt, Interval: 86400.123, Span: 12345.678901, Changes: 0.9, Visits: 3.71}
	od := rvOutcome(tasks[0], frontier.StateDone)
	od.Body = []byte("<html>v1</html>")
	od.Revisit, od.RevisitAt = stDone, now.Add(-time.Minute) // due
	od.RequestHead = []byte("GET / HTTP/1.1\r\nHost: rt0.example\r\nIf-None-Match: W/\"v1-abc\"\r\n\r\n")
	od.ResponseHead = []byte("HTTP/1.1 304 Not Modified\r\nETag: W/\"v1-abc\"\r\n\r\n")
	od.NotModified, od.Unchanged, od.RefersTo = true, true, okAt.Add(-24*time.Hour)
	// A failed fetch of a URL never fetched well: an estimator only, due
	// later.
	stFailed := &frontier.RevisitState{Interval: 7200}
	of := rvOutcome(tasks[1], frontier.StateFailed)
	of.Revisit, of.RevisitAt = stFailed, now.Add(time.Hour)
	of.RequestHead = []byte("GET / HTTP/1.1\r\nHost: rt1.example\r\n\r\n")

	if acc := persist(t, s, od, of); !maps.Equal(acc, store.Accepted{frontier.StateDone: 1, frontier.StateFailed: 1}) {
		t.Fatalf("accepted %v", acc)
	}
	rvCheckRow(t, "done row", rvFrontier(t, pool, od.URLID), stDone, od.RevisitAt)
	rvCheckRow(t, "failed row", rvFrontier(t, pool, of.URLID), stFailed, of.RevisitAt)

	res := rvResults(t, pool)
	rd, rf := res[od.Token], res[of.Token]
	if !bytes.Equal(rd.RequestHead, od.RequestHead) || !bytes.Equal(rd.ResponseHead, od.ResponseHead) ||
		!rd.NotModified || !rd.Unchanged || rd.RefersTo == nil || !rd.RefersTo.Equal(od.RefersTo) || rd.XID == 0 {
		t.Errorf("done result %+v: want the heads, not_modified, unchanged, refers_to %v", rd, od.RefersTo)
	}
	if !bytes.Equal(rf.RequestHead, of.RequestHead) || rf.ResponseHead != nil || rf.NotModified || rf.Unchanged ||
		rf.RefersTo != nil {
		t.Errorf("failed result %+v: want its request head only, the rest NULL/false", rf)
	}

	// Only the due revisit is promoted: pending at its revisit time,
	// attempts reset, revisit_at cleared, the state kept.
	if n := promote(t, s, 100); n != 1 {
		t.Fatalf("PromoteDue = %d, want 1", n)
	}
	r := rvFrontier(t, pool, od.URLID)
	if r.State != "pending" || r.Attempts != 0 || !r.NextFetchAt.Equal(od.RevisitAt) {
		t.Errorf("promoted row %+v: want pending, attempts 0, next_fetch_at %v", r, od.RevisitAt)
	}
	rvCheckRow(t, "promoted row", r, stDone, time.Time{})
	if r := rvFrontier(t, pool, of.URLID); r.State != "failed" {
		t.Errorf("row not yet due: state %s, want failed", r.State)
	}

	again := rvClaimAll(t, s, 1)
	if tk := again[0]; tk.URLID != od.URLID || tk.Attempts != 1 || tk.Token == od.Token ||
		!rvEqualState(tk.Revisit, rvAsStored(stDone)) {
		t.Fatalf("revisit claim %+v (state %+v)\nwant URL %d, attempts 1, new token, state %+v",
			tk, tk.Revisit, od.URLID, rvAsStored(stDone))
	}
	if float32(again[0].Revisit.Interval) != float32(stDone.Interval) || again[0].Revisit.Interval == stDone.Interval {
		t.Errorf("interval read back %v: want %v in float32 precision", again[0].Revisit.Interval, stDone.Interval)
	}

	// A retry carries the state it was claimed with (revisit.Next); the
	// row keeps it and is not due for a revisit.
	retry := rvOutcome(again[0], frontier.StatePending)
	retry.Revisit = again[0].Revisit
	retry.NextFetchAt = now.Add(-time.Second)
	if acc := persist(t, s, retry); acc[frontier.StatePending] != 1 {
		t.Fatalf("retry accepted %v", acc)
	}
	r = rvFrontier(t, pool, od.URLID)
	if r.State != "pending" || !r.NextFetchAt.Equal(retry.NextFetchAt) {
		t.Errorf("retried row %+v: want pending at %v", r, retry.NextFetchAt)
	}
	rvCheckRow(t, "retried row", r, stDone, time.Time{})
	third := rvClaimAll(t, s, 1)
	if !rvEqualState(third[0].Revisit, rvAsStored(stDone)) || third[0].Attempts != 2 {
		t.Errorf("claim after the retry: %+v (state %+v), want attempts 2 and the state kept", third[0], third[0].Revisit)
	}
	if n := len(rvResults(t, pool)); n != 2 {
		t.Errorf("%d results rows after a retry, want 2 (a retry writes none)", n)
	}

	// A crawl that does not revisit: the outcome carries nothing and every
	// revisit column stays NULL; nothing is ever promoted.
	insert(t, s, mkURLs("none", 1))
	plain := rvClaimAll(t, s, 1)[0]
	if plain.CrawlID != frontier.DefaultCrawlID || plain.Revisit != nil {
		t.Fatalf("default crawl claim %+v", plain)
	}
	persist(t, s, rvOutcome(plain, frontier.StateDone))
	rvCheckRow(t, "row of a crawl without revisits", rvFrontier(t, pool, plain.URLID), nil, time.Time{})
	if pr := rvResults(t, pool)[plain.Token]; pr.RequestHead != nil || pr.ResponseHead != nil || pr.NotModified ||
		pr.Unchanged || pr.RefersTo != nil {
		t.Errorf("result of a crawl without revisits %+v: want NULL heads, false flags", pr)
	}
	if n := promote(t, s, 100); n != 0 {
		t.Errorf("PromoteDue = %d with nothing due, want 0", n)
	}
	var rvCols int64
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM frontier WHERE crawl_id = 1 AND num_nonnulls(etag,
		last_modified, last_hash, last_ok_at, revisit_at, rv_interval, rv_span, rv_changes, rv_visits) > 0`).Scan(&rvCols); err != nil || rvCols != 0 {
		t.Errorf("%d default-crawl rows with revisit columns set (%v)", rvCols, err)
	}
}

// TestPromoteDue: only due rows become pending, oldest first, a batch at
// a time, due at their revisit time with attempts reset; other rows are
// untouched; each fetch of a URL is a results row of its own.
func TestPromoteDue(t *testing.T) {
	t.Parallel()
	s, pool := newStore(t)
	c := rvCrawl(t, s, "fixed", frontier.RevisitFixed, frontier.Schedule{})
	rvInsert(t, s, c, mkURLs("due", 7))
	tasks := rvClaimAll(t, s, 7)
	now := dbNow(t, pool)
	// Rows 0-3 due (row 3 the oldest), 4 due in an hour, 5 never, 6 stays
	// leased.
	at := []time.Time{now.Add(-time.Hour), now.Add(-2 * time.Hour), now.Add(-3 * time.Hour), now.Add(-4 * time.Hour),
		now.Add(time.Hour), {}}
	states := []frontier.State{frontier.StateDone, frontier.StateFailed, frontier.StateDead, frontier.StateDone,
		frontier.StateDone, frontier.StateDone}
	var outs []frontier.Outcome
	st := &frontier.RevisitState{ETag: `"e"`, OKAt: now.Add(-5 * time.Hour).Truncate(time.Microsecond)}
	for i := range at {
		o := rvOutcome(tasks[i], states[i])
		o.Attempts = 3
		o.Revisit, o.RevisitAt = st, at[i]
		outs = append(outs, o)
	}
	persist(t, s, outs...)
	leased := tasks[6]
	before := frontierByID(t, pool, leased.URLID)

	if n := promote(t, s, 3); n != 3 {
		t.Fatalf("first batch promoted %d, want 3", n)
	}
	for i, want := range []string{"done", "pending", "pending", "pending", "done", "done"} {
		if r := rvFrontier(t, pool, tasks[i].URLID); r.State != want {
			t.Errorf("after one batch of 3: row %d (revisit %v) is %s, want %s (oldest first)", i, at[i], r.State, want)
		}
	}
	if n := promote(t, s, 3); n != 1 {
		t.Fatalf("second batch promoted %d, want 1", n)
	}
	if n := promote(t, s, 3); n != 0 {
		t.Fatalf("third batch promoted %d, want 0", n)
	}
	for i := range at {
		r := rvFrontier(t, pool, tasks[i].URLID)
		if i < 4 {
			if r.State != "pending" || r.Attempts != 0 || !r.NextFetchAt.Equal(at[i]) || r.RevisitAt != nil ||
				r.ETag == nil || *r.ETag != st.ETag {
				t.Errorf("promoted row %d %+v: want pending at %v, attempts 0, revisit_at NULL, etag kept", i, r, at[i])
			}
			continue
		}
		if r.State != "done" || r.Attempts != 3 || (r.RevisitAt == nil) != at[i].IsZero() {
			t.Errorf("row %d %+v not due: want done, attempts 3, revisit_at %v", i, r, at[i])
		}
	}
	if after := frontierByID(t, pool, leased.URLID); after.State != "leased" || !eqPtr(after.LeaseToken, before.LeaseToken) ||
		!after.UpdatedAt.Equal(before.UpdatedAt) {
		t.Errorf("leased row changed: %+v -> %+v", before, after)
	}

	// A leased row with a due revisit_at (as a dead row requeued by
	// DeadRetry carries one into its next lease) is still not touched.
	exec(t, pool, `UPDATE frontier SET revisit_at = now() - interval '1 day' WHERE id = $1`, leased.URLID)
	before = frontierByID(t, pool, leased.URLID)
	promote(t, s, 10)
	if after := frontierByID(t, pool, leased.URLID); after.State != "leased" || !eqPtr(after.LeaseToken, before.LeaseToken) ||
		!after.UpdatedAt.Equal(before.UpdatedAt) || after.Attempts != before.Attempts {
		t.Errorf("PromoteDue touched a leased row: %+v -> %+v", before, after)
	}
	if acc := persist(t, s, rvOutcome(leased, frontier.StateDone)); acc[frontier.StateDone] != 1 {
		t.Fatalf("the lease's outcome after PromoteDue: accepted %v", acc)
	}
	// An outcome that is due never again clears the row's revisit_at.
	rvCheckRow(t, "row after an outcome without revisit", rvFrontier(t, pool, leased.URLID), nil, time.Time{})

	// History: the revisit of row 0 is a second results row for its URL.
	again := rvClaimAll(t, s, 4)
	var second frontier.Outcome
	for _, tk := range again {
		if tk.URLID == tasks[0].URLID {
			second = rvOutcome(tk, frontier.StateDone)
			second.Revisit, second.RevisitAt = st, now.Add(24*time.Hour)
		}
	}
	if second.Token == 0 {
		t.Fatalf("row 0 not claimed after its promotion: %+v", again)
	}
	persist(t, s, second)
	var toks []int64
	rows, err := pool.Query(t.Context(), `SELECT lease_token FROM results WHERE url_id = $1 ORDER BY lease_token`, tasks[0].URLID)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var tok int64
		if err := rows.Scan(&tok); err != nil {
			t.Fatal(err)
		}
		toks = append(toks, tok)
	}
	if rows.Err() != nil || len(toks) != 2 || toks[0] != tasks[0].Token || toks[1] != second.Token {
		t.Errorf("results of URL %d: tokens %v (%v), want [%d %d]", tasks[0].URLID, toks, rows.Err(), tasks[0].Token, second.Token)
	}
	if r := rvFrontier(t, pool, tasks[0].URLID); r.State != "done" || r.RevisitAt == nil || !r.RevisitAt.Equal(second.RevisitAt) {
		t.Errorf("revisited row %+v: want done, due again at %v", r, second.RevisitAt)
	}
}

// TestPromoteDueAfterDeadRetry: a dead URL of a revisiting crawl requeued
// by DeadRetry must not keep its revisit_at into the pending and leased
// states, where PromoteDue's guard skips it while its LIMIT still counts
// it: with enough such rows, due revisits behind them are never promoted.
func TestPromoteDueAfterDeadRetry(t *testing.T) {
	t.Parallel()
	s, pool := newStore(t)
	ctx := t.Context()
	c := rvCrawl(t, s, "dead-retry", frontier.RevisitFixed, frontier.Schedule{})
	rvInsert(t, s, c, mkURLs("dr", 2))
	tasks := rvClaimAll(t, s, 2)
	now := dbNow(t, pool)
	od := rvOutcome(tasks[0], frontier.StateDead)
	od.Revisit, od.RevisitAt = &frontier.RevisitState{}, now.Add(-2*time.Hour)
	ok := rvOutcome(tasks[1], frontier.StateDone)
	ok.Revisit, ok.RevisitAt = &frontier.RevisitState{OKAt: now.Add(-time.Hour)}, now.Add(-time.Hour)
	persist(t, s, od, ok)
	if n, err := s.DeadRetry(ctx, ""); err != nil || n != 1 {
		t.Fatalf("DeadRetry = %d, %v", n, err)
	}
	if r := rvFrontier(t, pool, od.URLID); r.RevisitAt != nil {
		t.Errorf("row requeued by DeadRetry keeps revisit_at %v", *r.RevisitAt)
	}
	if n := promote(t, s, 1); n != 1 {
		t.Errorf("PromoteDue(1) = %d: the requeued row blocks the due revisit behind it", n)
	}
	if r := rvFrontier(t, pool, ok.URLID); r.State != "pending" {
		t.Errorf("due revisit still %s", r.State)
	}
}

// TestRevisitFencing: an outcome of a lease that was released and claimed
// again is dropped with its revisit state; the current lease's is stored.
func TestRevisitFencing(t *testing.T) {
	t.Parallel()
	s, pool := newStore(t)
	ctx := t.Context()
	c := rvCrawl(t, s, "fenced", frontier.RevisitAdaptive, frontier.Schedule{})
	rvInsert(t, s, c, mkURLs("fen", 1))
	first := rvClaimAll(t, s, 1)[0]
	now := dbNow(t, pool)
	s1 := &frontier.RevisitState{ETag: `"one"`, Hash: []byte{1}, OKAt: now.Add(-time.Hour), Interval: 60, Span: 120, Changes: 1, Visits: 1}
	o1 := rvOutcome(first, frontier.StateDone)
	o1.Revisit, o1.RevisitAt = s1, now.Add(-time.Minute)
	persist(t, s, o1)
	if n := promote(t, s, 10); n != 1 {
		t.Fatalf("PromoteDue = %d, want 1", n)
	}

	stale := rvClaimAll(t, s, 1)[0]
	if n, err := s.Release(ctx, []int64{stale.Token}, false); err != nil || n != 1 {
		t.Fatalf("Release = %d, %v", n, err)
	}
	cur := rvClaimAll(t, s, 1)[0]
	if cur.Token == stale.Token || !rvEqualState(cur.Revisit, rvAsStored(s1)) {
		t.Fatalf("re-claim %+v (state %+v): want a new token and the first fetch's state", cur, cur.Revisit)
	}

	s2 := &frontier.RevisitState{ETag: `"stale"`, Hash: []byte{2}, OKAt: now, Interval: 999, Span: 999, Changes: 9, Visits: 9}
	for _, st := range []frontier.State{frontier.StateDone, frontier.StatePending} {
		o := rvOutcome(stale, st)
		o.Revisit, o.RevisitAt, o.NotModified, o.Unchanged = s2, now.Add(-time.Second), true, true
		o.ResponseHead = []byte("HTTP/1.1 304 Not Modified\r\n\r\n")
		if acc := persist(t, s, o); acc.Total() != 0 {
			t.Fatalf("stale %s outcome accepted: %v", st, acc)
		}
		r := rvFrontier(t, pool, cur.URLID)
		if r.State != "leased" || r.LeaseToken == nil || *r.LeaseToken != cur.Token {
			t.Fatalf("after a stale %s outcome the row is %+v, want leased by %d", st, r, cur.Token)
		}
		rvCheckRow(t, "row after a stale outcome", r, s1, time.Time{})
	}
	if res := rvResults(t, pool); len(res) != 1 {
		t.Fatalf("%d results rows, want the first fetch's only", len(res))
	}
	if n := promote(t, s, 10); n != 0 {
		t.Errorf("PromoteDue after a stale outcome = %d, want 0", n)
	}

	s3 := &frontier.RevisitState{ETag: `"three"`, Hash: []byte{3}, OKAt: now, Interval: 90, Span: 180, Changes: 1.9, Visits: 1.9}
	o3 := rvOutcome(cur, frontier.StateDone)
	o3.Revisit, o3.RevisitAt = s3, now.Add(time.Hour)
	if acc := persist(t, s, o3); acc[frontier.StateDone] != 1 {
		t.Fatalf("current outcome accepted %v", acc)
	}
	rvCheckRow(t, "row after the current outcome", rvFrontier(t, pool, cur.URLID), s3, o3.RevisitAt)
}

// tick runs TickRounds at now.
func tick(t *testing.T, s *store.Store, now time.Time) []store.Round {
	t.Helper()
	rounds, err := s.TickRounds(t.Context(), now)
	if err != nil {
		t.Fatalf("TickRounds(%v): %v", now, err)
	}
	return rounds
}

// scheduledCrawl creates a scheduled crawl (no revisits) with two seeds
// and a URL at depth 1, each of its own site, all claimed and returned as
// tasks in that order.
func scheduledCrawl(t *testing.T, s *store.Store, pool *pgxpool.Pool, name string, sched frontier.Schedule) (frontier.Crawl, []frontier.Task) {
	t.Helper()
	c := rvCrawl(t, s, name, frontier.RevisitNone, sched)
	urls := mkURLs(name+"-", 3)
	rvInsert(t, s, c, urls)
	exec(t, pool, `UPDATE frontier SET depth = 1 WHERE url = $1`, urls[2].URL)
	tasks := rvClaimAll(t, s, 3)
	byURL := map[string]frontier.Task{}
	for _, tk := range tasks {
		byURL[tk.URL] = tk
	}
	return c, []frontier.Task{byURL[urls[0].URL], byURL[urls[1].URL], byURL[urls[2].URL]}
}

func crawlByName(t *testing.T, s *store.Store, name string) frontier.Crawl {
	t.Helper()
	c, err := s.Crawl(t.Context(), name)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// roundNow is a tick time with the database's precision.
func roundNow() time.Time { return time.Now().Truncate(time.Microsecond) }

// TestTickRoundsStartAndSkip: the first tick of a scheduled crawl starts
// a round at once (its final seeds become due, deeper URLs stay final);
// a tick while the round runs is skipped under overlap skip, changing
// nothing but the next tick's time.
func TestTickRoundsStartAndSkip(t *testing.T) {
	t.Parallel()
	s, pool := newStore(t)
	const every = time.Hour
	c, tasks := scheduledCrawl(t, s, pool, "sched", frontier.Schedule{Every: every, Overlap: frontier.OverlapSkip})
	if c.Schedule.Every != every || c.Rounds != 0 || !c.NextRound.IsZero() {
		t.Fatalf("created %+v", c)
	}
	s0, s1, d1 := rvOutcome(tasks[0], frontier.StateDone), rvOutcome(tasks[1], frontier.StateDead), rvOutcome(tasks[2], frontier.StateDone)
	s0.Attempts, s1.Attempts = 2, 5
	s0.Revisit, s0.RevisitAt = &frontier.RevisitState{ETag: `"x"`, OKAt: dbNow(t, pool)}, dbNow(t, pool).Add(time.Hour)
	persist(t, s, s0, s1, d1)
	// URLs of another crawl running do not hold this one back.
	insert(t, s, mkURLs("other", 2))

	t0 := roundNow()
	got := tick(t, s, t0)
	want := store.Round{Crawl: "sched", Outcome: store.RoundStarted, Seeds: 2, Running: 0, Next: t0.Add(every), Number: 1}
	if len(got) != 1 || got[0].Crawl != want.Crawl || got[0].Outcome != want.Outcome || got[0].Seeds != want.Seeds ||
		got[0].Running != want.Running || !got[0].Next.Equal(want.Next) || got[0].Number != want.Number {
		t.Fatalf("first tick = %+v, want [%+v]", got, want)
	}
	for _, o := range []frontier.Outcome{s0, s1} {
		r := rvFrontier(t, pool, o.URLID)
		if r.State != "pending" || !r.NextFetchAt.Equal(t0) || r.Attempts != 0 || r.RevisitAt != nil {
			t.Errorf("seed %s after the tick %+v: want pending at %v, attempts 0, revisit_at NULL", o.URL, r, t0)
		}
	}
	if r := rvFrontier(t, pool, d1.URLID); r.State != "done" {
		t.Errorf("depth-1 URL is %s after the tick, want done", r.State)
	}
	if r := rvFrontier(t, pool, s0.URLID); r.ETag == nil || *r.ETag != `"x"` {
		t.Errorf("seed lost its validators in the tick: %+v", r)
	}
	if k := crawlByName(t, s, "sched"); k.Rounds != 1 || !k.NextRound.Equal(t0.Add(every)) {
		t.Errorf("crawl after the tick: rounds %d next %v, want 1 and %v", k.Rounds, k.NextRound, t0.Add(every))
	}
	if n := count(t, pool, `SELECT count(*) FROM frontier WHERE crawl_id = 1 AND state = 'pending'`); n != 2 {
		t.Errorf("other crawl's URLs changed: %d pending, want 2", n)
	}

	// Not due yet: nothing happens.
	if got := tick(t, s, t0.Add(every-time.Second)); len(got) != 0 {
		t.Errorf("tick before the next round's time = %+v", got)
	}

	// Due while both seeds are still pending: skipped.
	before := frontierRows(t, pool)
	t1 := t0.Add(every + 10*time.Second)
	got = tick(t, s, t1)
	if len(got) != 1 || got[0].Outcome != store.RoundSkipped || got[0].Running != 2 || got[0].Seeds != 0 ||
		got[0].Number != 1 || !got[0].Next.Equal(t0.Add(2*every)) {
		t.Fatalf("tick while running = %+v, want skipped, running 2, round 1, next %v", got, t0.Add(2*every))
	}
	after := frontierRows(t, pool)
	for i := range before {
		if before[i].State != after[i].State || !before[i].NextFetchAt.Equal(after[i].NextFetchAt) ||
			!before[i].UpdatedAt.Equal(after[i].UpdatedAt) {
			t.Errorf("skipped tick changed row %d: %+v -> %+v", before[i].ID, before[i], after[i])
		}
	}
	if k := crawlByName(t, s, "sched"); k.Rounds != 1 || !k.NextRound.Equal(t0.Add(2*every)) {
		t.Errorf("crawl after a skipped tick: rounds %d next %v", k.Rounds, k.NextRound)
	}
}

// TestTickRoundsMerge: under overlap merge a tick while URLs are pending
// makes the final seeds due and leaves the rest as it is.
func TestTickRoundsMerge(t *testing.T) {
	t.Parallel()
	s, pool := newStore(t)
	const every = 10 * time.Minute
	_, tasks := scheduledCrawl(t, s, pool, "merge", frontier.Schedule{Every: every, Overlap: frontier.OverlapMerge})
	later := dbNow(t, pool).Add(3 * time.Hour)
	s0, s1, d1 := rvOutcome(tasks[0], frontier.StateFailed), rvOutcome(tasks[1], frontier.StatePending), rvOutcome(tasks[2], frontier.StateDone)
	s1.NextFetchAt = later
	persist(t, s, s0, s1, d1)

	t0 := roundNow()
	got := tick(t, s, t0)
	if len(got) != 1 || got[0].Outcome != store.RoundMerged || got[0].Seeds != 1 || got[0].Running != 1 ||
		got[0].Number != 1 || !got[0].Next.Equal(t0.Add(every)) {
		t.Fatalf("tick = %+v, want merged, seeds 1, running 1, round 1, next %v", got, t0.Add(every))
	}
	if r := rvFrontier(t, pool, s0.URLID); r.State != "pending" || !r.NextFetchAt.Equal(t0) {
		t.Errorf("final seed %+v: want pending at %v", r, t0)
	}
	if r := rvFrontier(t, pool, s1.URLID); r.State != "pending" || !r.NextFetchAt.Equal(later) || r.Attempts != 1 {
		t.Errorf("running seed %+v: want pending at %v with its attempt, as it was", r, later)
	}
	if r := rvFrontier(t, pool, d1.URLID); r.State != "done" {
		t.Errorf("depth-1 URL %s, want done", r.State)
	}
	if k := crawlByName(t, s, "merge"); k.Rounds != 1 {
		t.Errorf("rounds %d after a merged tick, want 1", k.Rounds)
	}
}

// TestTickRoundsPausedAndUnscheduled: a paused crawl does not tick until
// it is resumed; an unscheduled crawl never does.
func TestTickRoundsPausedAndUnscheduled(t *testing.T) {
	t.Parallel()
	s, pool := newStore(t)
	_, pt := scheduledCrawl(t, s, pool, "paused", frontier.Schedule{Every: time.Minute})
	c := rvCrawl(t, s, "plain", frontier.RevisitFixed, frontier.Schedule{})
	rvInsert(t, s, c, mkURLs("plain", 1))
	ut := rvClaimAll(t, s, 1)
	var outs []frontier.Outcome
	for _, tk := range append(pt, ut...) {
		outs = append(outs, rvOutcome(tk, frontier.StateDone))
	}
	persist(t, s, outs...)
	if err := s.SetPaused(t.Context(), "paused", true); err != nil {
		t.Fatal(err)
	}
	t0 := roundNow()
	for _, at := range []time.Time{t0, t0.Add(24 * time.Hour)} {
		if got := tick(t, s, at); len(got) != 0 {
			t.Errorf("tick at %v = %+v, want none", at, got)
		}
	}
	if n := count(t, pool, `SELECT count(*) FROM frontier WHERE state <> 'done'`); n != 0 {
		t.Errorf("%d URLs made due without a tick", n)
	}
	for _, name := range []string{"paused", "plain"} {
		if k := crawlByName(t, s, name); k.Rounds != 0 || !k.NextRound.IsZero() {
			t.Errorf("crawl %s: rounds %d next %v, want 0 and none", name, k.Rounds, k.NextRound)
		}
	}
	if err := s.SetPaused(t.Context(), "paused", false); err != nil {
		t.Fatal(err)
	}
	t1 := t0.Add(25 * time.Hour)
	if got := tick(t, s, t1); len(got) != 1 || got[0].Crawl != "paused" || got[0].Outcome != store.RoundStarted || got[0].Seeds != 2 {
		t.Errorf("tick after resuming = %+v, want the resumed crawl's round started with 2 seeds", got)
	}
}

// TestTickRoundsMissed: ticks keep their phase while on time; after a long
// gap the next tick is a period after now, not a burst of missed ones.
func TestTickRoundsMissed(t *testing.T) {
	t.Parallel()
	s, pool := newStore(t)
	const every = time.Hour
	_, tasks := scheduledCrawl(t, s, pool, "missed", frontier.Schedule{Every: every, Overlap: frontier.OverlapMerge})
	var outs []frontier.Outcome
	for _, tk := range tasks {
		outs = append(outs, rvOutcome(tk, frontier.StateDone))
	}
	persist(t, s, outs...)

	t0 := roundNow()
	if got := tick(t, s, t0); len(got) != 1 || !got[0].Next.Equal(t0.Add(every)) {
		t.Fatalf("first tick = %+v", got)
	}
	// A little late: the phase is kept.
	if got := tick(t, s, t0.Add(every+5*time.Minute)); len(got) != 1 || !got[0].Next.Equal(t0.Add(2*every)) {
		t.Fatalf("late tick = %+v, want next %v", got, t0.Add(2*every))
	}
	// Ten periods missed: one tick, the next a period after now.
	late := t0.Add(12*every + 17*time.Minute)
	got := tick(t, s, late)
	if len(got) != 1 || !got[0].Next.Equal(late.Add(every)) || got[0].Number != 3 {
		t.Fatalf("tick after a long gap = %+v, want round 3, next %v", got, late.Add(every))
	}
	for _, at := range []time.Time{late, late.Add(time.Minute), late.Add(every - time.Microsecond)} {
		if got := tick(t, s, at); len(got) != 0 {
			t.Errorf("tick at %v after catching up = %+v, want none", at, got)
		}
	}
	if k := crawlByName(t, s, "missed"); k.Rounds != 3 || !k.NextRound.Equal(late.Add(every)) {
		t.Errorf("crawl: rounds %d next %v, want 3 and %v", k.Rounds, k.NextRound, late.Add(every))
	}
}

// TestTickRoundsCron: a crawl scheduled by a cron expression ticks at
// once the first time, then at the expression's next time after each
// tick (UTC), also when ticks were missed.
func TestTickRoundsCron(t *testing.T) {
	t.Parallel()
	s, pool := newStore(t)
	c, _ := scheduledCrawl(t, s, pool, "cron", frontier.Schedule{Cron: "*/10 * * * *", Overlap: frontier.OverlapMerge})
	if c.Schedule.Cron != "*/10 * * * *" || c.Schedule.Every != 0 {
		t.Fatalf("created %+v", c.Schedule)
	}
	t0 := time.Date(2026, 11, 30, 14, 3, 20, 0, time.UTC)
	got := tick(t, s, t0)
	want := time.Date(2026, 11, 30, 14, 10, 0, 0, time.UTC)
	if len(got) != 1 || got[0].Number != 1 || !got[0].Next.Equal(want) {
		t.Fatalf("first tick = %+v, want round 1, next %v", got, want)
	}
	if got := tick(t, s, want.Add(-time.Second)); len(got) != 0 {
		t.Errorf("a tick before the cron time: %+v", got)
	}
	// Missed for an hour: one round, the next at the cron time after now.
	late := time.Date(2026, 11, 30, 15, 12, 0, 0, time.UTC)
	got = tick(t, s, late)
	if len(got) != 1 || got[0].Number != 2 || !got[0].Next.Equal(time.Date(2026, 11, 30, 15, 20, 0, 0, time.UTC)) {
		t.Errorf("late tick = %+v, want round 2, next 15:20", got)
	}
	if k := crawlByName(t, s, "cron"); k.Rounds != 2 || !k.NextRound.Equal(time.Date(2026, 11, 30, 15, 20, 0, 0, time.UTC)) {
		t.Errorf("crawl after two rounds: %d rounds, next %v", k.Rounds, k.NextRound)
	}
}

// An explicit "never" (0) for every revisit interval is kept: only a
// policy left entirely unset takes the defaults.
func TestCreateCrawlKeepsZeroIntervals(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	c := frontier.NewCrawl("zeros")
	c.Revisit = frontier.Revisit{Mode: frontier.RevisitFixed, Min: time.Minute, Max: time.Hour}
	got, err := s.CreateCrawl(t.Context(), c)
	if err != nil {
		t.Fatal(err)
	}
	if r := got.Revisit; r.Done != 0 || r.Failed != 0 || r.Dead != 0 || r.Min != time.Minute || r.Max != time.Hour {
		t.Errorf("stored %+v, want the zeros and bounds given", r)
	}
	unset := frontier.Crawl{Name: "unset", Scope: frontier.ScopeDomain, SiteBudget: 1, MaxURLLength: 100, MaxPathSegments: 1, MaxRepeatedSegments: 1,
		Revisit: frontier.Revisit{Mode: frontier.RevisitFixed}}
	if got, err = s.CreateCrawl(t.Context(), unset); err != nil {
		t.Fatal(err)
	}
	if want := frontier.DefaultRevisit(frontier.RevisitFixed); got.Revisit != want {
		t.Errorf("an unset policy stored as %+v, want the defaults %+v", got.Revisit, want)
	}
}
