package store_test

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/crawlmaster/crawlmaster/internal/testwait"
	"github.com/crawlmaster/crawlmaster/master/export"
	"github.com/crawlmaster/crawlmaster/master/frontier"
	"github.com/crawlmaster/crawlmaster/master/store"
)

// orphanBodies counts bodies without their results row.
func orphanBodies(t *testing.T, pool *pgxpool.Pool) int64 {
	t.Helper()
	return count(t, pool, `SELECT count(*) FROM bodies b LEFT JOIN results r USING (lease_token) WHERE r.lease_token IS NULL`)
}

// fetchAll claims every due URL and persists an outcome for each, a done
// one with a body for even indexes and a failed one for odd; it returns
// the outcomes.
func fetchAll(t *testing.T, s *store.Store, want int) []frontier.Outcome {
	t.Helper()
	var outs []frontier.Outcome
	for i, tk := range rvClaimAll(t, s, want) {
		o := rvOutcome(tk, frontier.StateDone)
		o.Body = []byte("body of " + tk.URL)
		if i%2 == 1 {
			o = rvOutcome(tk, frontier.StateFailed)
		}
		outs = append(outs, o)
	}
	persist(t, s, outs...)
	return outs
}

// TestDeleteExpired: a crawl's results older than the cutoff go with
// their bodies, a batch at a time; newer results, other crawls' results
// and every frontier row stay.
func TestDeleteExpired(t *testing.T) {
	t.Parallel()
	s, pool := newStore(t)
	ctx := t.Context()
	a := rvCrawl(t, s, "a", frontier.RevisitNone, frontier.Schedule{})
	b := rvCrawl(t, s, "b", frontier.RevisitNone, frontier.Schedule{})
	rvInsert(t, s, a, mkURLs("a-old", 5))
	rvInsert(t, s, b, mkURLs("b-old", 2))
	old := fetchAll(t, s, 7)
	exec(t, pool, `UPDATE results SET persisted_at = now() - interval '2 days'`)
	rvInsert(t, s, a, mkURLs("a-new", 2))
	fetchAll(t, s, 2)

	var oldA, oldABodies int64
	for _, o := range old {
		if o.CrawlID == a.ID {
			oldA++
			if o.State == frontier.StateDone {
				oldABodies++
			}
		}
	}
	if oldA != 5 || oldABodies != 3 {
		t.Fatalf("setup: %d old results of a, %d with bodies", oldA, oldABodies)
	}
	frontierBefore := count(t, pool, `SELECT count(*) FROM frontier`)
	resultsB := count(t, pool, `SELECT count(*) FROM results WHERE crawl_id = $1`, b.ID)
	bodiesB := count(t, pool, `SELECT count(*) FROM bodies JOIN results USING (lease_token) WHERE crawl_id = $1`, b.ID)
	newA := count(t, pool, `SELECT count(*) FROM results WHERE crawl_id = $1 AND persisted_at > now() - interval '1 hour'`, a.ID)

	cutoff := dbNow(t, pool).Add(-24 * time.Hour)
	var results, bodies int64
	var batches []int64
	for {
		r, bo, err := s.DeleteExpired(ctx, a.ID, cutoff, 2)
		if err != nil {
			t.Fatal(err)
		}
		if r > 2 || bo > r {
			t.Fatalf("a batch of limit 2 deleted %d results and %d bodies", r, bo)
		}
		if n := orphanBodies(t, pool); n != 0 {
			t.Fatalf("%d bodies without a result after a batch", n)
		}
		results, bodies = results+r, bodies+bo
		batches = append(batches, r)
		if r == 0 || len(batches) > 10 {
			break
		}
	}
	if !slices.Equal(batches, []int64{2, 2, 1, 0}) || results != oldA || bodies != oldABodies {
		t.Errorf("batches %v deleted %d results and %d bodies, want [2 2 1 0], %d and %d", batches, results, bodies, oldA, oldABodies)
	}
	if n := count(t, pool, `SELECT count(*) FROM results WHERE crawl_id = $1`, a.ID); n != newA || n != 2 {
		t.Errorf("%d results of a left, want its 2 new ones", n)
	}
	if n := count(t, pool, `SELECT count(*) FROM results WHERE crawl_id = $1 AND persisted_at < $2`, a.ID, cutoff); n != 0 {
		t.Errorf("%d expired results of a left", n)
	}
	if n := count(t, pool, `SELECT count(*) FROM results WHERE crawl_id = $1`, b.ID); n != resultsB || n != 2 {
		t.Errorf("results of b: %d, want %d untouched", n, resultsB)
	}
	if n := count(t, pool, `SELECT count(*) FROM bodies JOIN results USING (lease_token) WHERE crawl_id = $1`, b.ID); n != bodiesB {
		t.Errorf("bodies of b: %d, want %d", n, bodiesB)
	}
	if n := count(t, pool, `SELECT count(*) FROM frontier`); n != frontierBefore {
		t.Errorf("frontier rows %d -> %d: retention must not delete URLs", frontierBefore, n)
	}
	if n := count(t, pool, `SELECT count(*) FROM frontier WHERE crawl_id = $1 AND state IN ('done', 'failed')`, a.ID); n != 7 {
		t.Errorf("%d final rows of a, want 7", n)
	}

	// A cutoff in the future takes the rest; an unknown crawl nothing.
	if r, bo, err := s.DeleteExpired(ctx, a.ID, dbNow(t, pool).Add(time.Minute), 100); err != nil || r != 2 || bo != 1 {
		t.Errorf("DeleteExpired(future cutoff) = %d, %d, %v; want 2, 1", r, bo, err)
	}
	if r, bo, err := s.DeleteExpired(ctx, 999, dbNow(t, pool).Add(time.Minute), 100); err != nil || r != 0 || bo != 0 {
		t.Errorf("DeleteExpired(unknown crawl) = %d, %d, %v", r, bo, err)
	}
	if n := orphanBodies(t, pool); n != 0 {
		t.Errorf("%d bodies without a result", n)
	}
}

func TestRetentions(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	ctx := t.Context()
	own := frontier.NewCrawl("own")
	own.Retention = 90 * time.Minute
	ownC, err := s.CreateCrawl(ctx, own)
	if err != nil {
		t.Fatal(err)
	}
	zero := frontier.NewCrawl("zero") // 0: the deployment's default
	zeroC, err := s.CreateCrawl(ctx, zero)
	if err != nil {
		t.Fatal(err)
	}
	if ownC.Retention != own.Retention || zeroC.Retention != 0 {
		t.Fatalf("retentions read back %v and %v", ownC.Retention, zeroC.Retention)
	}
	for _, tc := range []struct {
		def  time.Duration
		want []store.Retention
	}{
		{0, []store.Retention{{CrawlID: ownC.ID, Keep: 90 * time.Minute}}},
		{-time.Hour, []store.Retention{{CrawlID: ownC.ID, Keep: 90 * time.Minute}}},
		{720 * time.Hour, []store.Retention{{CrawlID: frontier.DefaultCrawlID, Keep: 720 * time.Hour},
			{CrawlID: ownC.ID, Keep: 90 * time.Minute}, {CrawlID: zeroC.ID, Keep: 720 * time.Hour}}},
	} {
		got, err := s.Retentions(ctx, tc.def)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("Retentions(%v) = %v, %v; want %v", tc.def, got, err, tc.want)
		}
	}
}

// readResults follows the results stream from after, limit records a
// call, until it has want records (polling: another test's transaction
// anywhere in the cluster holds the visibility horizon back for a moment).
func readResults(t *testing.T, s *store.Store, q store.ResultQuery, want int) []export.Record {
	t.Helper()
	var out []export.Record
	testwait.UntilWhy(t, fmt.Sprintf("%d records", want), 10*time.Second, 5*time.Millisecond, func() (bool, string) {
		page, err := s.ResultsAfter(t.Context(), q)
		if err != nil {
			t.Fatalf("ResultsAfter(%+v) after %d records: %v", q, len(out), err)
		}
		recs := page.Records
		if q.Limit > 0 && len(recs) > q.Limit {
			t.Fatalf("ResultsAfter returned %d records, limit %d", len(recs), q.Limit)
		}
		for _, r := range recs {
			if !r.Cursor.After(q.After) || r.Cursor.After(page.Next) {
				t.Fatalf("record cursor %v not in (%v, %v]", r.Cursor, q.After, page.Next)
			}
			q.After = r.Cursor
		}
		if page.Next.After(q.After) {
			q.After = page.Next
		}
		out = append(out, recs...)
		return len(out) >= want, fmt.Sprintf("%d read", len(out))
	})
	if len(out) != want {
		t.Fatalf("read %d records, want %d", len(out), want)
	}
	return out
}

func tokensOf(recs []export.Record) []int64 {
	out := make([]int64, len(recs))
	for i, r := range recs {
		out[i] = r.LeaseToken
	}
	return out
}

// TestResultsAfter: records come in cursor order, batch by batch (a
// batch is one transaction), each with its own increasing cursor;
// resuming from any cursor returns the rest; the crawl, since and bodies
// options.
func TestResultsAfter(t *testing.T) {
	t.Parallel()
	s, pool := newStore(t)
	ctx := t.Context()
	a := rvCrawl(t, s, "stream", frontier.RevisitFixed, frontier.Schedule{})
	rvInsert(t, s, a, mkURLs("sa", 6))
	insert(t, s, mkURLs("sd", 2))
	tasks := rvClaimAll(t, s, 8)
	byCrawl := map[int32][]frontier.Task{}
	for _, tk := range tasks {
		byCrawl[tk.CrawlID] = append(byCrawl[tk.CrawlID], tk)
	}
	ta, td := byCrawl[a.ID], byCrawl[frontier.DefaultCrawlID]
	base := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	mk := func(tk frontier.Task, st frontier.State, at time.Time) frontier.Outcome {
		o := rvOutcome(tk, st)
		o.FetchedAt = at
		if st == frontier.StateDone {
			o.Body = []byte("<html>" + tk.URL + "</html>")
		}
		return o
	}
	// Four transactions: persisted in this order, streamed in this order.
	b1 := []frontier.Outcome{mk(ta[0], frontier.StateDone, base), mk(ta[1], frontier.StateFailed, base), mk(ta[2], frontier.StateDone, base)}
	b1[0].RequestHead, b1[0].ResponseHead = []byte("GET / HTTP/1.1\r\n\r\n"), []byte("HTTP/1.1 200 OK\r\n\r\n")
	b1[0].Unchanged, b1[0].RefersTo = true, base.Add(-time.Hour)
	b2 := []frontier.Outcome{mk(td[1], frontier.StateDone, base), mk(td[0], frontier.StateDead, base)}
	b3 := []frontier.Outcome{mk(ta[4], frontier.StateDone, base.Add(time.Minute)), mk(ta[3], frontier.StateDone, base.Add(time.Minute))}
	b4 := []frontier.Outcome{mk(ta[5], frontier.StateDone, base.Add(time.Hour))}
	var want []int64
	var wantA []int64
	out := map[int64]frontier.Outcome{}
	for _, batch := range [][]frontier.Outcome{b1, b2, b3, b4} {
		persist(t, s, batch...)
		var toks []int64
		for _, o := range batch {
			toks = append(toks, o.Token)
			out[o.Token] = o
		}
		slices.Sort(toks) // within a transaction, by token
		want = append(want, toks...)
		if batch[0].CrawlID == a.ID {
			wantA = append(wantA, toks...)
		}
	}

	// Everything, three at a time (pages end inside batches).
	all := readResults(t, s, store.ResultQuery{Limit: 3}, len(want))
	if got := tokensOf(all); !slices.Equal(got, want) {
		t.Fatalf("stream order %v, want %v", got, want)
	}
	for i, r := range all {
		if r.Cursor.Token != r.LeaseToken || r.Cursor.XID == 0 {
			t.Errorf("record %d cursor %v for token %d", i, r.Cursor, r.LeaseToken)
		}
		if i > 0 && !r.Cursor.After(all[i-1].Cursor) {
			t.Errorf("cursor %v not after %v", r.Cursor, all[i-1].Cursor)
		}
		if r.Body != nil {
			t.Errorf("record %d has a body without Bodies", i)
		}
	}
	// One transaction, one xid; a later transaction, a larger one.
	xids := []uint64{all[0].Cursor.XID, all[3].Cursor.XID, all[5].Cursor.XID, all[7].Cursor.XID}
	if all[1].Cursor.XID != xids[0] || all[2].Cursor.XID != xids[0] || all[4].Cursor.XID != xids[1] ||
		all[6].Cursor.XID != xids[2] || !slices.IsSorted(xids) || xids[0] == xids[1] || xids[1] == xids[2] || xids[2] == xids[3] {
		t.Errorf("xids %v of records %v: want one per batch, increasing", xids, all)
	}
	var x uint64
	if err := pool.QueryRow(ctx, `SELECT xid::text::bigint FROM results WHERE lease_token = $1`, all[0].LeaseToken).Scan(&x); err != nil || x != xids[0] {
		t.Errorf("stored xid %d (%v), cursor %d", x, err, xids[0])
	}

	// A record's fields.
	o := b1[0]
	r := all[slices.Index(tokensOf(all), o.Token)]
	if r.Crawl != "stream" || r.URL != o.URL || r.FinalURL != o.FinalURL || r.Depth != int(o.Depth) || r.State != "done" ||
		r.Class != string(o.Class) || r.ErrorMessage != o.Error || r.HTTPStatus != int(o.HTTPStatus) ||
		r.ContentType != o.ContentType || r.Title != o.Title || !r.FetchedAt.Equal(o.FetchedAt) || r.PersistedAt.IsZero() ||
		r.Duration != o.FetchDuration || r.Redirects != int(o.Redirects) || r.Links != 0 ||
		!bytes.Equal(r.ContentHash, o.ContentHash) || r.BodySize != o.BodySize || r.BodyTruncated != o.BodyTruncated ||
		r.NotModified || !r.Unchanged || !r.RefersTo.Equal(o.RefersTo) ||
		!bytes.Equal(r.RequestHead, o.RequestHead) || !bytes.Equal(r.ResponseHead, o.ResponseHead) {
		t.Errorf("record %+v\ndoes not match outcome %+v", r, o)
	}
	if f := all[slices.Index(tokensOf(all), b1[1].Token)]; f.State != "failed" || f.HTTPStatus != 404 || f.ErrorMessage == "" ||
		f.RequestHead != nil || f.ResponseHead != nil || !f.RefersTo.IsZero() {
		t.Errorf("failed record %+v", f)
	}
	if d := all[slices.Index(tokensOf(all), b2[0].Token)]; d.Crawl != "default" {
		t.Errorf("default crawl's record names crawl %q", d.Crawl)
	}

	// Resuming after each record returns exactly the rest.
	for i := range all {
		rest := readResults(t, s, store.ResultQuery{After: all[i].Cursor, Limit: 100}, len(all)-i-1)
		if got := tokensOf(rest); !slices.Equal(got, want[i+1:]) {
			t.Errorf("after record %d: %v, want %v", i, got, want[i+1:])
		}
	}
	if recs, err := records(s.ResultsAfter(ctx, store.ResultQuery{After: all[len(all)-1].Cursor})); err != nil || len(recs) != 0 {
		t.Errorf("after the last record: %d records, %v", len(recs), err)
	}

	// One crawl; resumed in the middle.
	onlyA := readResults(t, s, store.ResultQuery{CrawlID: a.ID, Limit: 2}, len(wantA))
	if got := tokensOf(onlyA); !slices.Equal(got, wantA) {
		t.Errorf("crawl %d: %v, want %v", a.ID, got, wantA)
	}
	restA := readResults(t, s, store.ResultQuery{CrawlID: a.ID, After: onlyA[2].Cursor}, len(wantA)-3)
	if got := tokensOf(restA); !slices.Equal(got, wantA[3:]) {
		t.Errorf("crawl %d after its third record: %v, want %v", a.ID, got, wantA[3:])
	}
	if recs, err := records(s.ResultsAfter(ctx, store.ResultQuery{CrawlID: 999})); err != nil || len(recs) != 0 {
		t.Errorf("unknown crawl: %d records, %v", len(recs), err)
	}

	// Since: fetched at or after.
	since := readResults(t, s, store.ResultQuery{Since: base.Add(time.Minute)}, 3)
	if got, w := tokensOf(since), want[5:]; !slices.Equal(got, w) {
		t.Errorf("since %v: %v, want %v", base.Add(time.Minute), got, w)
	}
	if recs, err := records(s.ResultsAfter(ctx, store.ResultQuery{Since: base.Add(2 * time.Hour)})); err != nil || len(recs) != 0 {
		t.Errorf("since after every fetch: %d records, %v", len(recs), err)
	}

	// Bodies: the stored body of each done fetch, none for the others.
	withBodies := readResults(t, s, store.ResultQuery{Bodies: true}, len(want))
	for _, r := range withBodies {
		o := out[r.LeaseToken]
		if !bytes.Equal(r.Body, o.Body) || (r.Body == nil) != (o.State != frontier.StateDone) {
			t.Errorf("record %d (%s) body %q, want %q", r.LeaseToken, r.State, r.Body, o.Body)
		}
	}
}

// TestResultsAfterHorizon is the cursor's guarantee: a results row
// written by a transaction that began before others committed (so has a
// smaller xid) but commits after them is not skipped. While it runs, the
// rows committed after it began are held back; once it ends they come,
// after it, each once.
func TestResultsAfterHorizon(t *testing.T) {
	t.Parallel()
	s, pool := newStore(t)
	ctx := t.Context()
	insert(t, s, mkURLs("hz", 3))
	tasks := rvClaimAll(t, s, 3)
	first := rvOutcome(tasks[0], frontier.StateDone)
	persist(t, s, first)
	got := readResults(t, s, store.ResultQuery{}, 1)
	if got[0].LeaseToken != first.Token {
		t.Fatalf("first record %d, want %d", got[0].LeaseToken, first.Token)
	}
	cur := got[0].Cursor

	// A writer that takes its xid now and commits last.
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(context.Background()) //nolint:errcheck // after Commit: a no-op
	var slowXID uint64
	var slowTok int64
	if err := tx.QueryRow(ctx, `SELECT pg_current_xact_id()::text::bigint, nextval('lease_token_seq')`).Scan(&slowXID, &slowTok); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `
INSERT INTO results (lease_token, url_id, url, final_url, state, http_status, content_type, body_size,
    body_truncated, fetch_duration_us, title, error_class, error_message, robots, redirects, attempts,
    assistant, fetched_at)
SELECT $1, id, url, url, 'done', 200, 'text/html', 0, false, 0, '', 'ok', '', 'allowed', 0, 1, 'slow', now()
FROM frontier WHERE id = $2`, slowTok, tasks[0].URLID); err != nil {
		t.Fatal(err)
	}

	// Writers that begin later and commit first.
	later := []frontier.Outcome{rvOutcome(tasks[1], frontier.StateDone), rvOutcome(tasks[2], frontier.StateFailed)}
	persist(t, s, later[0])
	persist(t, s, later[1])
	if n := count(t, pool, `SELECT count(*) FROM results WHERE lease_token = ANY($1)`, []int64{later[0].Token, later[1].Token}); n != 2 {
		t.Fatalf("%d of the later rows committed", n)
	}
	var laterXID uint64
	if err := pool.QueryRow(ctx, `SELECT min(xid::text::bigint) FROM results WHERE lease_token = ANY($1)`,
		[]int64{later[0].Token, later[1].Token}).Scan(&laterXID); err != nil || laterXID <= slowXID {
		t.Fatalf("later rows' xid %d (%v), want above the slow writer's %d", laterXID, err, slowXID)
	}
	// Committed, but behind the running writer: not streamed yet, however
	// often asked.
	for range 5 {
		recs, err := records(s.ResultsAfter(ctx, store.ResultQuery{After: cur}))
		if err != nil || len(recs) != 0 {
			t.Fatalf("while an older writer runs: %d records (%v), want none: %+v", len(recs), err, recs)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}

	rest := readResults(t, s, store.ResultQuery{After: cur, Limit: 1}, 3)
	if got, want := tokensOf(rest), []int64{slowTok, later[0].Token, later[1].Token}; !slices.Equal(got, want) {
		t.Fatalf("after the slow writer committed: %v, want %v (its row first)", got, want)
	}
	if rest[0].Cursor.XID != slowXID {
		t.Errorf("slow row's cursor %v, want xid %d", rest[0].Cursor, slowXID)
	}
	if recs, err := records(s.ResultsAfter(ctx, store.ResultQuery{After: rest[2].Cursor})); err != nil || len(recs) != 0 {
		t.Errorf("after the last: %d records, %v", len(recs), err)
	}
}

// TestResultsAfterConcurrentWriters: a reader following the stream while
// writers commit in any order gets every row exactly once.
func TestResultsAfterConcurrentWriters(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	const writers, perWriter = 4, 15
	insert(t, s, mkURLs("cw", writers*perWriter))
	tasks := rvClaimAll(t, s, writers*perWriter)
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		mine := tasks[w*perWriter : (w+1)*perWriter]
		wg.Go(func() {
			for i := 0; i < len(mine); {
				n := min(1+(i+w)%3, len(mine)-i)
				var outs []frontier.Outcome
				for _, tk := range mine[i : i+n] {
					outs = append(outs, rvOutcome(tk, frontier.StateDone))
				}
				if _, err := s.Persist(context.Background(), outs); err != nil {
					errs <- fmt.Errorf("writer %d: %w", w, err)
					return
				}
				i += n
			}
		})
	}
	got := readResults(t, s, store.ResultQuery{Limit: 4}, len(tasks))
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	seen := map[int64]bool{}
	for _, r := range got {
		if seen[r.LeaseToken] {
			t.Errorf("token %d streamed twice", r.LeaseToken)
		}
		seen[r.LeaseToken] = true
	}
	for _, tk := range tasks {
		if !seen[tk.Token] {
			t.Errorf("token %d never streamed", tk.Token)
		}
	}
	if recs, err := records(s.ResultsAfter(t.Context(), store.ResultQuery{After: got[len(got)-1].Cursor})); err != nil || len(recs) != 0 {
		t.Errorf("after the last record: %d more, %v", len(recs), err)
	}
}

// records is ResultsAfter's records.
func records(page store.ResultPage, err error) ([]export.Record, error) { return page.Records, err }

// TestResultsAfterPassesOtherCrawls: a page of a crawl's stream scans
// the other crawls' results too and says how far it got (Next), so a
// reader of a quiet crawl moves past a busy crawl's results instead of
// reading them again at every poll.
func TestResultsAfterPassesOtherCrawls(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	ctx := t.Context()
	quiet := rvCrawl(t, s, "quiet", frontier.RevisitNone, frontier.Schedule{})
	insert(t, s, mkURLs("busy", 7))
	var outs []frontier.Outcome
	for _, tk := range rvClaimAll(t, s, 7) {
		outs = append(outs, rvOutcome(tk, frontier.StateDone))
	}
	persist(t, s, outs...)
	q := store.ResultQuery{CrawlID: quiet.ID, Limit: 3}
	var pages int
	testwait.Until(t, "the quiet crawl's reader past the busy crawl's 7 results", 10*time.Second, 5*time.Millisecond, func() bool {
		page, err := s.ResultsAfter(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Records) != 0 {
			t.Fatalf("the quiet crawl got %d records", len(page.Records))
		}
		if page.Next.After(q.After) {
			pages++
		}
		if page.More != (page.Next.After(q.After) && pages <= 2) {
			t.Fatalf("page %d: More %v, Next %v after %v", pages, page.More, page.Next, q.After)
		}
		q.After = page.Next
		return pages == 3 && !page.More
	})
	last, err := s.ResultsAfter(ctx, store.ResultQuery{After: q.After})
	if err != nil || len(last.Records) != 0 || last.Next != q.After || last.More {
		t.Errorf("after the last result: %+v, %v", last, err)
	}
}
