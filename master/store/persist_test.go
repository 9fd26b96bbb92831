package store_test

import (
	"bytes"
	"maps"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/crawlmaster/crawlmaster/master/frontier"
	"github.com/crawlmaster/crawlmaster/master/store"
)

// resultRow is one results row as stored.
type resultRow struct {
	LeaseToken      int64
	URLID           int64
	URL, FinalURL   string
	State           string
	HTTPStatus      int32
	ContentType     string
	BodySize        int64
	BodyTruncated   bool
	FetchDurationUS int64
	Title           string
	ContentHash     []byte
	ErrorClass      string
	ErrorMessage    string
	Robots          string
	Redirects       int32
	Attempts        int32
	Assistant       string
	FetchedAt       time.Time
}

func results(t *testing.T, pool *pgxpool.Pool) map[int64]resultRow {
	t.Helper()
	rows, err := pool.Query(t.Context(), `SELECT lease_token, url_id, url, final_url, state, http_status, content_type,
		body_size, body_truncated, fetch_duration_us, title, content_hash, error_class, error_message, robots,
		redirects, attempts, assistant, fetched_at FROM results`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[int64]resultRow{}
	for rows.Next() {
		var r resultRow
		if err := rows.Scan(&r.LeaseToken, &r.URLID, &r.URL, &r.FinalURL, &r.State, &r.HTTPStatus, &r.ContentType,
			&r.BodySize, &r.BodyTruncated, &r.FetchDurationUS, &r.Title, &r.ContentHash, &r.ErrorClass,
			&r.ErrorMessage, &r.Robots, &r.Redirects, &r.Attempts, &r.Assistant, &r.FetchedAt); err != nil {
			t.Fatal(err)
		}
		out[r.LeaseToken] = r
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func checkResult(t *testing.T, got resultRow, o frontier.Outcome) {
	t.Helper()
	want := resultRow{
		LeaseToken: o.Token, URLID: o.URLID, URL: o.URL, FinalURL: o.FinalURL, State: string(o.State),
		HTTPStatus: o.HTTPStatus, ContentType: o.ContentType, BodySize: o.BodySize, BodyTruncated: o.BodyTruncated,
		FetchDurationUS: o.FetchDuration.Microseconds(), Title: o.Title, ContentHash: o.ContentHash,
		ErrorClass: string(o.Class), ErrorMessage: o.Error, Robots: o.Robots, Redirects: o.Redirects,
		Attempts: o.Attempts, Assistant: o.Assistant,
	}
	gotNoTime := got
	gotNoTime.FetchedAt = time.Time{}
	if !equalResult(gotNoTime, want) {
		t.Errorf("results row\n got %+v\nwant %+v", gotNoTime, want)
	}
	if !got.FetchedAt.Equal(o.FetchedAt) {
		t.Errorf("results fetched_at %v, want %v", got.FetchedAt, o.FetchedAt)
	}
}

func equalResult(a, b resultRow) bool {
	return bytes.Equal(a.ContentHash, b.ContentHash) && (a.ContentHash == nil) == (b.ContentHash == nil) &&
		reflect.DeepEqual(withoutHash(a), withoutHash(b))
}

func withoutHash(r resultRow) resultRow {
	r.ContentHash = nil
	r.FetchedAt = time.Time{}
	return r
}

func bodies(t *testing.T, pool *pgxpool.Pool) map[int64][]byte {
	t.Helper()
	rows, err := pool.Query(t.Context(), `SELECT lease_token, body FROM bodies`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[int64][]byte{}
	for rows.Next() {
		var tok int64
		var b []byte
		if err := rows.Scan(&tok, &b); err != nil {
			t.Fatal(err)
		}
		out[tok] = b
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func persist(t *testing.T, s *store.Store, outs ...frontier.Outcome) store.Accepted {
	t.Helper()
	w, err := s.Persist(t.Context(), outs)
	if err != nil {
		t.Fatalf("Persist: %v", err)
	}
	return w.Accepted
}

func TestPersistEmpty(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	w, err := s.Persist(t.Context(), nil)
	if err != nil || w.Accepted == nil || w.Accepted.Total() != 0 {
		t.Fatalf("Persist(nil) = %v, %v", w, err)
	}
}

func TestPersistDoneWithBody(t *testing.T) {
	t.Parallel()
	s, pool := newStore(t)
	insert(t, s, mkURLs("done", 3))
	tasks := claim(t, s, 3, time.Minute)
	if len(tasks) != 3 {
		t.Fatalf("claimed %d", len(tasks))
	}
	nextBefore := map[int64]time.Time{}
	for _, tk := range tasks {
		nextBefore[tk.URLID] = frontierByID(t, pool, tk.URLID).NextFetchAt
	}

	big := []byte(strings.Repeat("<p>The quick brown fox jumps over the lazy dog.</p>\n", 400)) // ~20 KiB
	small := []byte("<html><title>x</title></html>")
	o0 := outcome(tasks[0], frontier.StateDone)
	o0.Body, o0.BodySize = big, int64(len(big))
	o1 := outcome(tasks[1], frontier.StateDone)
	o1.Body, o1.BodySize, o1.BodyTruncated = small, int64(len(small)), true
	o1.ContentHash = nil
	o2 := outcome(tasks[2], frontier.StateDone) // no body
	o2.Body = []byte{}

	acc := persist(t, s, o0, o1, o2)
	if want := (store.Accepted{frontier.StateDone: 3}); !maps.Equal(acc, want) {
		t.Fatalf("accepted %v, want %v", acc, want)
	}

	res := results(t, pool)
	if len(res) != 3 {
		t.Fatalf("%d results rows, want 3", len(res))
	}
	for _, o := range []frontier.Outcome{o0, o1, o2} {
		checkResult(t, res[o.Token], o)
	}
	if res[o1.Token].ContentHash != nil {
		t.Errorf("nil content hash stored as %x, want NULL", res[o1.Token].ContentHash)
	}

	bs := bodies(t, pool)
	if len(bs) != 2 || !bytes.Equal(bs[o0.Token], big) || !bytes.Equal(bs[o1.Token], small) {
		t.Fatalf("bodies: %d rows; want the big and the small body, none for the empty one", len(bs))
	}
	// The big body is stored compressed, the small one inline as it is.
	// (Which method is used is not checked here: see the report on
	// persist_staging, whose pglz-compressed values are copied as they are.)
	var compBig, compSmall *string
	if err := pool.QueryRow(t.Context(), `SELECT
		(SELECT pg_column_compression(body) FROM bodies WHERE lease_token = $1),
		(SELECT pg_column_compression(body) FROM bodies WHERE lease_token = $2)`, o0.Token, o1.Token).Scan(&compBig, &compSmall); err != nil {
		t.Fatal(err)
	}
	if compBig == nil {
		t.Errorf("a 20 KiB text body is stored uncompressed")
	}
	if compSmall != nil {
		t.Errorf("a %d-byte body is compressed (%s)", len(small), *compSmall)
	}

	for _, tk := range tasks {
		r := frontierByID(t, pool, tk.URLID)
		if r.State != "done" || r.LeaseExpiresAt != nil || r.Attempts != 1 {
			t.Errorf("frontier row %+v: want done, lease cleared, attempts 1", r)
		}
		if r.LastClass == nil || *r.LastClass != "ok" || r.LastError != nil {
			t.Errorf("frontier row %d: last_class %v last_error %v, want ok and NULL", r.ID, r.LastClass, r.LastError)
		}
		if !r.NextFetchAt.Equal(nextBefore[tk.URLID]) {
			t.Errorf("frontier row %d: next_fetch_at changed by a final outcome", r.ID)
		}
	}
	// A final row is never claimed again.
	exec(t, pool, `UPDATE frontier SET next_fetch_at = now() - interval '1 day'`)
	if got := claim(t, s, 10, time.Minute); len(got) != 0 {
		t.Errorf("claimed final rows: %+v", got)
	}
}

func TestPersistFailedAndDead(t *testing.T) {
	t.Parallel()
	s, pool := newStore(t)
	insert(t, s, mkURLs("fd", 2))
	tasks := claim(t, s, 2, time.Minute)
	of := outcome(tasks[0], frontier.StateFailed)
	of.Body = []byte("not stored: only done results keep bodies")
	od := outcome(tasks[1], frontier.StateDead)
	od.Body = []byte("neither")
	acc := persist(t, s, of, od)
	if want := (store.Accepted{frontier.StateFailed: 1, frontier.StateDead: 1}); !maps.Equal(acc, want) {
		t.Fatalf("accepted %v, want %v", acc, want)
	}
	res := results(t, pool)
	checkResult(t, res[of.Token], of)
	checkResult(t, res[od.Token], od)
	if n := len(bodies(t, pool)); n != 0 {
		t.Errorf("%d bodies stored for failed/dead results, want 0", n)
	}
	for _, o := range []frontier.Outcome{of, od} {
		r := frontierByID(t, pool, o.URLID)
		if r.State != string(o.State) || r.LeaseExpiresAt != nil ||
			r.LastClass == nil || *r.LastClass != string(o.Class) || r.LastError == nil || *r.LastError != o.Error {
			t.Errorf("frontier row %+v: want %s with class %s and error %q", r, o.State, o.Class, o.Error)
		}
	}
}

func TestPersistRetry(t *testing.T) {
	t.Parallel()
	s, pool := newStore(t)
	insert(t, s, mkURLs("retry", 2))
	tasks := claim(t, s, 2, time.Minute)

	now := dbNow(t, pool).Truncate(time.Microsecond)
	later := outcome(tasks[0], frontier.StatePending)
	later.NextFetchAt = now.Add(time.Hour)
	soon := outcome(tasks[1], frontier.StatePending)
	soon.NextFetchAt = now.Add(-time.Second) // due at once
	soon.Error = ""                          // no message: last_error NULL

	acc := persist(t, s, later, soon)
	if want := (store.Accepted{frontier.StatePending: 2}); !maps.Equal(acc, want) {
		t.Fatalf("accepted %v, want %v", acc, want)
	}
	if n := len(results(t, pool)); n != 0 {
		t.Fatalf("%d results rows for retries, want 0", n)
	}
	if n := len(bodies(t, pool)); n != 0 {
		t.Fatalf("%d bodies for retries, want 0", n)
	}
	r := frontierByID(t, pool, later.URLID)
	if r.State != "pending" || r.LeaseExpiresAt != nil || !r.NextFetchAt.Equal(later.NextFetchAt) || r.Attempts != 1 ||
		r.LastClass == nil || *r.LastClass != "http_5xx" || r.LastError == nil || *r.LastError != later.Error {
		t.Errorf("retried row %+v: want pending at %v, attempts 1, class http_5xx", r, later.NextFetchAt)
	}
	r = frontierByID(t, pool, soon.URLID)
	if r.State != "pending" || !r.NextFetchAt.Equal(soon.NextFetchAt) || r.LastError != nil {
		t.Errorf("retried row %+v: want pending at %v, last_error NULL", r, soon.NextFetchAt)
	}

	// Only the due one comes back, with a new token and its second attempt.
	again := claim(t, s, 10, time.Minute)
	if len(again) != 1 || again[0].URLID != soon.URLID || again[0].Attempts != 2 || again[0].Token == soon.Token {
		t.Fatalf("claim after retry = %+v; want %d with attempts 2 and a new token", again, soon.URLID)
	}
	// The retry's old token is stale now.
	if acc := persist(t, s, outcome(tasks[1], frontier.StateDone)); acc.Total() != 0 {
		t.Fatalf("old token after a retry accepted: %v", acc)
	}
	done := outcome(again[0], frontier.StateDone)
	if acc := persist(t, s, done); acc[frontier.StateDone] != 1 {
		t.Fatalf("second attempt's result: accepted %v", acc)
	}
	res := results(t, pool)
	if len(res) != 1 || res[again[0].Token].Attempts != 2 {
		t.Fatalf("results = %+v, want one row of attempt 2", res)
	}
}

// snapshot is everything Persist may write, for nothing-changed checks.
type snapshot struct {
	frontier []frontierRow
	results  map[int64]resultRow
	bodies   map[int64][]byte
}

func snap(t *testing.T, pool *pgxpool.Pool) snapshot {
	t.Helper()
	return snapshot{frontierRows(t, pool), results(t, pool), bodies(t, pool)}
}

func sameSnapshot(t *testing.T, what string, a, b snapshot) {
	t.Helper()
	if len(a.frontier) != len(b.frontier) {
		t.Fatalf("%s: frontier rows %d -> %d", what, len(a.frontier), len(b.frontier))
	}
	for i := range a.frontier {
		x, y := a.frontier[i], b.frontier[i]
		if x.State != y.State || x.Attempts != y.Attempts || !eqPtr(x.LeaseToken, y.LeaseToken) ||
			!eqTimePtr(x.LeaseExpiresAt, y.LeaseExpiresAt) || !x.NextFetchAt.Equal(y.NextFetchAt) ||
			!eqPtr(x.LastClass, y.LastClass) || !eqPtr(x.LastError, y.LastError) || !x.UpdatedAt.Equal(y.UpdatedAt) {
			t.Errorf("%s: frontier row changed\n from %+v\n   to %+v", what, x, y)
		}
	}
	if len(a.results) != len(b.results) || len(a.bodies) != len(b.bodies) {
		t.Errorf("%s: results %d -> %d, bodies %d -> %d", what, len(a.results), len(b.results), len(a.bodies), len(b.bodies))
	}
	for k, v := range a.results {
		if w, ok := b.results[k]; !ok || !equalResult(v, w) || !v.FetchedAt.Equal(w.FetchedAt) {
			t.Errorf("%s: results row %d changed", what, k)
		}
	}
}

func eqPtr[T comparable](a, b *T) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }

func eqTimePtr(a, b *time.Time) bool { return (a == nil) == (b == nil) && (a == nil || a.Equal(*b)) }

func TestPersistFencing(t *testing.T) {
	t.Parallel()
	s, pool := newStore(t)
	ctx := t.Context()
	insert(t, s, mkURLs("fence", 4))
	old := claim(t, s, 4, time.Minute)

	// Release and re-claim: new tokens.
	if n, err := s.Release(ctx, tokens(old), false); err != nil || n != 4 {
		t.Fatalf("Release = %d, %v", n, err)
	}
	cur := claim(t, s, 4, time.Minute)
	if len(cur) != 4 {
		t.Fatalf("re-claimed %d", len(cur))
	}
	before := snap(t, pool)

	var stale []frontier.Outcome
	for i, tk := range old {
		st := []frontier.State{frontier.StateDone, frontier.StateFailed, frontier.StateDead, frontier.StatePending}[i]
		o := outcome(tk, st)
		o.Body = []byte("stale body")
		stale = append(stale, o)
	}
	acc := persist(t, s, stale...)
	if acc.Total() != 0 || len(acc) != 0 {
		t.Fatalf("stale outcomes accepted: %v", acc)
	}
	sameSnapshot(t, "stale batch", before, snap(t, pool))

	// A current token paired with the wrong URL is stale too.
	byID := map[int64]frontier.Task{}
	for _, tk := range cur {
		byID[tk.URLID] = tk
	}
	swapped := outcome(cur[0], frontier.StateDone)
	swapped.URLID = cur[1].URLID
	if acc := persist(t, s, swapped); acc.Total() != 0 {
		t.Fatalf("outcome with another URL's token accepted: %v", acc)
	}
	// A token that never existed.
	ghost := outcome(cur[0], frontier.StateDone)
	ghost.Token = 1 << 50
	if acc := persist(t, s, ghost); acc.Total() != 0 {
		t.Fatalf("outcome with an unknown token accepted: %v", acc)
	}
	sameSnapshot(t, "mismatched tokens", before, snap(t, pool))

	// The current tokens are accepted.
	var fresh []frontier.Outcome
	for _, tk := range cur {
		fresh = append(fresh, outcome(tk, frontier.StateDone))
	}
	if acc := persist(t, s, fresh...); acc[frontier.StateDone] != 4 {
		t.Fatalf("current outcomes: accepted %v, want 4 done", acc)
	}
	res := results(t, pool)
	if len(res) != 4 {
		t.Fatalf("%d results rows, want 4", len(res))
	}
	for _, tk := range cur {
		if _, ok := res[tk.Token]; !ok {
			t.Errorf("no result for current token %d", tk.Token)
		}
	}
}

func TestPersistAfterRescueIsStale(t *testing.T) {
	t.Parallel()
	s, pool := newStore(t)
	ctx := t.Context()
	insert(t, s, mkURLs("resc", 1))
	tasks := claim(t, s, 1, -time.Second) // already expired
	if n, err := s.RescueExpired(ctx); err != nil || n != 1 {
		t.Fatalf("RescueExpired = %d, %v; want 1", n, err)
	}
	// Rescued but not yet claimed again: the token is still on the row,
	// but the row is not leased, so the late result is dropped.
	before := snap(t, pool)
	if acc := persist(t, s, outcome(tasks[0], frontier.StateDone)); acc.Total() != 0 {
		t.Fatalf("result of a rescued lease accepted: %v", acc)
	}
	sameSnapshot(t, "late result", before, snap(t, pool))
}

func TestPersistTwice(t *testing.T) {
	t.Parallel()
	s, pool := newStore(t)
	insert(t, s, mkURLs("twice", 3))
	tasks := claim(t, s, 3, time.Minute)
	batch := []frontier.Outcome{
		outcome(tasks[0], frontier.StateDone),
		outcome(tasks[1], frontier.StateFailed),
		outcome(tasks[2], frontier.StatePending),
	}
	batch[0].Body = []byte("body")
	acc := persist(t, s, batch...)
	if acc.Total() != 3 {
		t.Fatalf("first Persist accepted %v", acc)
	}
	after := snap(t, pool)
	acc = persist(t, s, batch...)
	if acc.Total() != 0 {
		t.Fatalf("second Persist of the same batch accepted %v, want 0", acc)
	}
	sameSnapshot(t, "second persist", after, snap(t, pool))
	if n := count(t, pool, `SELECT count(*) FROM results`); n != 2 {
		t.Fatalf("%d results rows, want 2", n)
	}
	if n := count(t, pool, `SELECT count(*) FROM bodies`); n != 1 {
		t.Fatalf("%d bodies rows, want 1", n)
	}
}

// TestPersistDuplicateInBatch sends the same outcome twice in one batch: it
// is accepted once and written once.
func TestPersistDuplicateInBatch(t *testing.T) {
	t.Parallel()
	s, pool := newStore(t)
	insert(t, s, mkURLs("dup", 1))
	tasks := claim(t, s, 1, time.Minute)
	o := outcome(tasks[0], frontier.StateDone)
	o.Body = []byte("b")
	acc := persist(t, s, o, o)
	if want := (store.Accepted{frontier.StateDone: 1}); !maps.Equal(acc, want) {
		t.Fatalf("accepted %v, want %v", acc, want)
	}
	if n := count(t, pool, `SELECT count(*) FROM results`); n != 1 {
		t.Fatalf("%d results rows, want 1", n)
	}
}

// TestPersistConflictingDuplicates sends two different outcomes of one
// lease in a batch, between others: the first stands, the second is
// dropped, and the batch's other outcomes are written.
func TestPersistConflictingDuplicates(t *testing.T) {
	t.Parallel()
	s, pool := newStore(t)
	insert(t, s, mkURLs("cdup", 3))
	tasks := claim(t, s, 3, time.Minute)
	first := outcome(tasks[1], frontier.StateDone)
	first.Body = []byte("first")
	second := outcome(tasks[1], frontier.StateFailed)
	acc := persist(t, s, outcome(tasks[0], frontier.StateDone), first, second, outcome(tasks[2], frontier.StateDead))
	if want := (store.Accepted{frontier.StateDone: 2, frontier.StateDead: 1}); !maps.Equal(acc, want) {
		t.Fatalf("accepted %v, want %v", acc, want)
	}
	res := results(t, pool)
	if len(res) != 3 {
		t.Fatalf("%d results rows, want 3", len(res))
	}
	checkResult(t, res[tasks[1].Token], first)
	if b := bodies(t, pool)[tasks[1].Token]; string(b) != "first" {
		t.Errorf("body %q, want the first outcome's", b)
	}
}

func TestPersistMixedBatch(t *testing.T) {
	t.Parallel()
	s, pool := newStore(t)
	ctx := t.Context()
	insert(t, s, mkURLs("mix", 9))
	tasks := claim(t, s, 9, time.Minute)
	// tasks[8] goes stale.
	if n, err := s.Release(ctx, []int64{tasks[8].Token}, true); err != nil || n != 1 {
		t.Fatalf("Release = %d, %v", n, err)
	}
	states := []frontier.State{
		frontier.StateDone, frontier.StateDone, frontier.StateDone,
		frontier.StateFailed, frontier.StateFailed,
		frontier.StateDead,
		frontier.StatePending, frontier.StatePending,
		frontier.StateDone, // stale
	}
	var batch []frontier.Outcome
	for i, tk := range tasks {
		batch = append(batch, outcome(tk, states[i]))
	}
	since := dbNow(t, pool)
	acc := persist(t, s, batch...)
	want := store.Accepted{frontier.StateDone: 3, frontier.StateFailed: 2, frontier.StateDead: 1, frontier.StatePending: 2}
	if !maps.Equal(acc, want) || acc.Total() != 8 {
		t.Fatalf("accepted %v (total %d), want %v (8)", acc, acc.Total(), want)
	}
	res := results(t, pool)
	if len(res) != 6 {
		t.Fatalf("%d results rows, want 6", len(res))
	}
	for i, o := range batch[:6] {
		checkResult(t, res[o.Token], batch[i])
	}
	if n, err := s.RecentResults(ctx, since); err != nil || n != 6 {
		t.Errorf("RecentResults(before) = %d, %v; want 6", n, err)
	}
	if n, err := s.RecentResults(ctx, dbNow(t, pool).Add(time.Hour)); err != nil || n != 0 {
		t.Errorf("RecentResults(future) = %d, %v; want 0", n, err)
	}
	st, err := s.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wantCounts := map[frontier.State]int64{frontier.StateDone: 3, frontier.StateFailed: 2, frontier.StateDead: 1, frontier.StatePending: 3}
	if !maps.Equal(st.Counts, wantCounts) {
		t.Errorf("Stats counts %v, want %v", st.Counts, wantCounts)
	}
}

// TestPersistBadBatchChangesNothing checks a batch holding one invalid
// outcome fails as a whole: none of its valid outcomes are written either,
// and the same connection works afterwards.
func TestPersistBadBatchChangesNothing(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		bad  func(*frontier.Outcome)
	}{
		{"unknown state", func(o *frontier.Outcome) { o.State = "bogus" }},
		{"empty state", func(o *frontier.Outcome) { o.State = "" }},
		{"leased is no outcome", func(o *frontier.Outcome) { o.State = frontier.StateLeased }},
		{"NUL byte in title", func(o *frontier.Outcome) { o.Title = "a\x00b" }},
		{"invalid UTF-8 in error", func(o *frontier.Outcome) { o.State, o.Class, o.Error = frontier.StateFailed, "other", "\xff\xfe" }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, pool := newStore(t)
			insert(t, s, mkURLs("bad", 4))
			tasks := claim(t, s, 4, time.Minute)
			batch := []frontier.Outcome{
				outcome(tasks[0], frontier.StateDone),
				outcome(tasks[1], frontier.StatePending),
				outcome(tasks[2], frontier.StateDone),
				outcome(tasks[3], frontier.StateFailed),
			}
			batch[0].Body = []byte("body")
			tc.bad(&batch[2])
			before := snap(t, pool)
			w, err := s.Persist(t.Context(), batch)
			if err == nil {
				t.Fatalf("Persist with a bad outcome = %v, nil; want an error", w)
			}
			if w.Accepted != nil {
				t.Errorf("failed Persist returned accepted %v", w.Accepted)
			}
			sameSnapshot(t, "failed batch", before, snap(t, pool))

			// Without the bad outcome the rest goes through.
			good := append(batch[:2:2], batch[3])
			acc := persist(t, s, good...)
			if want := (store.Accepted{frontier.StateDone: 1, frontier.StatePending: 1, frontier.StateFailed: 1}); !maps.Equal(acc, want) {
				t.Fatalf("accepted %v, want %v", acc, want)
			}
			if n := count(t, pool, `SELECT count(*) FROM results`); n != 2 {
				t.Fatalf("%d results rows, want 2", n)
			}
		})
	}
}

// TestPersistRacesRelease persists and releases the same leases at the same
// time: for each lease exactly one of them wins, and the database agrees
// with the winner.
func TestPersistRacesRelease(t *testing.T) {
	t.Parallel()
	s, pool := newStore(t)
	ctx := t.Context()
	const n = 200
	insert(t, s, mkURLs("race", n))
	tasks := claim(t, s, n, time.Minute)
	if len(tasks) != n {
		t.Fatalf("claimed %d", len(tasks))
	}
	persisted := make([]int64, n)
	released := make([]int64, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i, tk := range tasks {
		for side := range 2 {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer func() { <-sem; wg.Done() }()
				if side == 0 {
					w, err := s.Persist(ctx, []frontier.Outcome{outcome(tk, frontier.StateDone)})
					if err != nil {
						t.Errorf("Persist: %v", err)
						return
					}
					persisted[i] = w.Accepted.Total()
				} else {
					r, err := s.Release(ctx, []int64{tk.Token}, false)
					if err != nil {
						t.Errorf("Release: %v", err)
						return
					}
					released[i] = r
				}
			}()
		}
	}
	wg.Wait()
	res := results(t, pool)
	var nPersisted, nReleased int
	for i, tk := range tasks {
		if persisted[i]+released[i] != 1 {
			t.Errorf("lease %d: persisted %d released %d, want exactly one", tk.Token, persisted[i], released[i])
		}
		r := frontierByID(t, pool, tk.URLID)
		_, hasResult := res[tk.Token]
		switch {
		case persisted[i] == 1:
			nPersisted++
			if r.State != "done" || !hasResult || r.Attempts != 1 {
				t.Errorf("persisted lease %d: row %+v, result %v", tk.Token, r, hasResult)
			}
		case released[i] == 1:
			nReleased++
			if r.State != "pending" || hasResult || r.Attempts != 0 {
				t.Errorf("released lease %d: row %+v, result %v", tk.Token, r, hasResult)
			}
		}
	}
	t.Logf("persist won %d, release won %d", nPersisted, nReleased)
}
