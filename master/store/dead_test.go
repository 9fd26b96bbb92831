package store_test

import (
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/crawlmaster/crawlmaster/crawl/errclass"
	"github.com/crawlmaster/crawlmaster/master/frontier"
	"github.com/crawlmaster/crawlmaster/master/store"
)

// deadFixture is a frontier with rows in every state.
type deadFixture struct {
	s    *store.Store
	pool *pgxpool.Pool
	// newestFirst is every dead row as DeadList should return it.
	newestFirst []store.DeadURL
	deadIDs     map[string][]int64 // dead row ids by class
}

// newDeadFixture makes 12 URLs: 3 dead of class timeout, 2 dead of class
// http_5xx, 1 dead without class, 1 done, 1 failed, 1 pending after a
// retry, 2 leased, 1 never claimed. The dead rows get distinct, known
// updated_at times, two of them equal (ties go to the higher id).
func newDeadFixture(t *testing.T) deadFixture {
	t.Helper()
	s, pool := newStore(t)
	insert(t, s, mkURLs("dead", 11))
	tasks := claim(t, s, 9, time.Minute) // priority order: dead0 … dead8
	if len(tasks) != 9 {
		t.Fatalf("claimed %d, want 9", len(tasks))
	}
	dead := func(i int, class, msg string) frontier.Outcome {
		o := outcome(tasks[i], frontier.StateDead)
		o.Class, o.Error = errclass.Class(class), msg
		return o
	}
	persist(t, s,
		dead(0, "timeout", "i/o timeout"),
		dead(1, "http_5xx", "503 Service Unavailable"),
		dead(2, "timeout", "context deadline exceeded"),
		dead(3, "http_5xx", "502 Bad Gateway"),
		dead(4, "timeout", ""),
		dead(5, "conn_refused", "connection refused"),
		outcome(tasks[6], frontier.StateDone),
		outcome(tasks[7], frontier.StateFailed),
		outcome(tasks[8], frontier.StatePending),
	)
	// dead5 has no class at all (e.g. written by an operator).
	exec(t, pool, `UPDATE frontier SET last_class = NULL, last_error = NULL WHERE url = 'https://dead5.example/'`)
	// Two leased rows (the retried dead8, due again, and dead9); dead10
	// stays pending, never claimed.
	if got := claim(t, s, 2, time.Minute); len(got) != 2 {
		t.Fatalf("claimed %d, want 2", len(got))
	}

	// Dead since: dead1 newest, then dead3, then dead0 and dead4 (tie:
	// dead4 has the higher id), dead2, dead5 oldest.
	base := time.Date(2025, 7, 1, 10, 0, 0, 0, time.UTC)
	since := map[int]time.Time{
		1: base.Add(5 * time.Minute),
		3: base.Add(4 * time.Minute),
		0: base.Add(3 * time.Minute),
		4: base.Add(3 * time.Minute),
		2: base.Add(2 * time.Minute),
		5: base.Add(1 * time.Minute),
	}
	for i, at := range since {
		exec(t, pool, `UPDATE frontier SET updated_at = $2 WHERE id = $1`, tasks[i].URLID, at)
	}
	f := deadFixture{s: s, pool: pool, deadIDs: map[string][]int64{}}
	for _, i := range []int{1, 3, 4, 0, 2, 5} {
		r := frontierByID(t, pool, tasks[i].URLID)
		d := store.DeadURL{URL: r.URL, Attempts: int(r.Attempts), Since: since[i]}
		if r.LastClass != nil {
			d.Class = *r.LastClass
		}
		if r.LastError != nil {
			d.Error = *r.LastError
		}
		f.newestFirst = append(f.newestFirst, d)
		f.deadIDs[d.Class] = append(f.deadIDs[d.Class], r.ID)
	}
	return f
}

func deadStateCounts(t *testing.T, pool *pgxpool.Pool) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	for _, r := range frontierRows(t, pool) {
		out[r.State]++
	}
	return out
}

func deadEqual(a, b store.DeadURL) bool {
	return a.URL == b.URL && a.Attempts == b.Attempts && a.Class == b.Class && a.Error == b.Error && a.Since.Equal(b.Since)
}

func TestDeadList(t *testing.T) {
	t.Parallel()
	f := newDeadFixture(t)
	ctx := t.Context()
	if got := deadStateCounts(t, f.pool); !maps.Equal(got, map[string]int64{"dead": 6, "done": 1, "failed": 1, "leased": 2, "pending": 1}) {
		t.Fatalf("fixture states %v", got)
	}

	filter := func(class string) []store.DeadURL {
		var out []store.DeadURL
		for _, d := range f.newestFirst {
			if class == "" || d.Class == class {
				out = append(out, d)
			}
		}
		return out
	}
	cases := []struct {
		class string
		limit int
		want  []store.DeadURL
	}{
		{"", 0, f.newestFirst},
		{"", -1, f.newestFirst},
		{"", 100, f.newestFirst},
		{"", 3, f.newestFirst[:3]},
		{"", 1, f.newestFirst[:1]},
		{"timeout", 0, filter("timeout")},
		{"timeout", 2, filter("timeout")[:2]},
		{"http_5xx", 50, filter("http_5xx")},
		{"conn_refused", 0, nil}, // the class was erased
		{"no_such_class", 10, nil},
	}
	for _, c := range cases {
		got, err := f.s.DeadList(ctx, c.class, c.limit)
		if err != nil {
			t.Fatalf("DeadList(%q, %d): %v", c.class, c.limit, err)
		}
		if !slices.EqualFunc(got, c.want, deadEqual) {
			t.Errorf("DeadList(%q, %d) =\n%+v\nwant\n%+v", c.class, c.limit, got, c.want)
		}
	}
	if d := f.newestFirst[0]; d.Attempts != 1 || d.Class != "http_5xx" || d.Error != "503 Service Unavailable" {
		t.Errorf("newest dead URL %+v", d)
	}
	// A dead row without a class or error lists them as "".
	if last := f.newestFirst[len(f.newestFirst)-1]; last.Class != "" || last.Error != "" {
		t.Errorf("oldest dead URL %+v, want no class and no error", last)
	}

	// Nothing dead: an empty list and empty counts.
	s, _ := newStore(t)
	if got, err := s.DeadList(ctx, "", 10); err != nil || len(got) != 0 {
		t.Errorf("DeadList on an empty frontier = %v, %v", got, err)
	}
	if got, err := s.DeadCounts(ctx); err != nil || len(got) != 0 || got == nil {
		t.Errorf("DeadCounts on an empty frontier = %#v, %v; want an empty map", got, err)
	}
}

func TestDeadCounts(t *testing.T) {
	t.Parallel()
	f := newDeadFixture(t)
	got, err := f.s.DeadCounts(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{"timeout": 3, "http_5xx": 2, "": 1}
	if !maps.Equal(got, want) {
		t.Fatalf("DeadCounts = %v, want %v", got, want)
	}
	// An empty class and a NULL class count together.
	exec(t, f.pool, `UPDATE frontier SET state = 'dead', last_class = '' WHERE state = 'done'`)
	if got, err = f.s.DeadCounts(t.Context()); err != nil || got[""] != 2 || len(got) != 3 {
		t.Fatalf("DeadCounts = %v, %v; want 2 without class", got, err)
	}
}

// TestDeadRetry requeues by class, then everything: exactly the dead rows
// move, to pending with attempts 0 and due now; every other row is left
// as it was, byte for byte.
func TestDeadRetry(t *testing.T) {
	t.Parallel()
	f := newDeadFixture(t)
	ctx := t.Context()

	check := func(what string, before []frontierRow, moved []int64, from, to time.Time) {
		t.Helper()
		after := frontierRows(t, f.pool)
		if len(after) != len(before) {
			t.Fatalf("%s: %d rows, had %d", what, len(after), len(before))
		}
		for i, a := range after {
			b := before[i]
			if !slices.Contains(moved, a.ID) {
				deadSameRow(t, what, b, a)
				continue
			}
			if b.State != "dead" {
				t.Fatalf("%s: moved row %d was %s", what, a.ID, b.State)
			}
			if a.State != "pending" || a.Attempts != 0 || !a.NextFetchAt.Equal(a.UpdatedAt) ||
				a.NextFetchAt.Before(from) || a.NextFetchAt.After(to) {
				t.Errorf("%s: requeued row %+v: want pending, attempts 0, next_fetch_at = updated_at in [%v, %v]", what, a, from, to)
			}
			// Everything else stays: class and error of the last attempt,
			// the old lease token, the assistant.
			if !eqPtr(a.LastClass, b.LastClass) || !eqPtr(a.LastError, b.LastError) || !eqPtr(a.LeaseToken, b.LeaseToken) ||
				a.LeaseExpiresAt != nil || a.URL != b.URL || a.Priority != b.Priority || a.Shard != b.Shard {
				t.Errorf("%s: requeued row changed beyond state/attempts/times:\n was %+v\n now %+v", what, b, a)
			}
		}
	}

	before := frontierRows(t, f.pool)
	resultsBefore := count(t, f.pool, `SELECT count(*) FROM results`)
	from := dbNow(t, f.pool)
	n, err := f.s.DeadRetry(ctx, "timeout")
	to := dbNow(t, f.pool)
	if err != nil || n != 3 {
		t.Fatalf("DeadRetry(timeout) = %d, %v; want 3", n, err)
	}
	check("retry timeout", before, f.deadIDs["timeout"], from, to)
	if got := deadStateCounts(t, f.pool); !maps.Equal(got, map[string]int64{"dead": 3, "done": 1, "failed": 1, "leased": 2, "pending": 4}) {
		t.Errorf("states after retry timeout: %v", got)
	}
	if got, _ := f.s.DeadCounts(ctx); !maps.Equal(got, map[string]int64{"http_5xx": 2, "": 1}) {
		t.Errorf("DeadCounts after retry timeout: %v", got)
	}

	// Nothing left of that class; an unknown class is not an error.
	for _, c := range []string{"timeout", "no_such_class"} {
		if n, err := f.s.DeadRetry(ctx, c); err != nil || n != 0 {
			t.Errorf("DeadRetry(%q) = %d, %v; want 0", c, n, err)
		}
	}

	// All the rest, including the row without a class.
	before = frontierRows(t, f.pool)
	from = dbNow(t, f.pool)
	n, err = f.s.DeadRetry(ctx, "")
	to = dbNow(t, f.pool)
	if err != nil || n != 3 {
		t.Fatalf("DeadRetry(\"\") = %d, %v; want 3", n, err)
	}
	check("retry all", before, append(f.deadIDs["http_5xx"], f.deadIDs[""]...), from, to)
	if got := deadStateCounts(t, f.pool); !maps.Equal(got, map[string]int64{"done": 1, "failed": 1, "leased": 2, "pending": 7}) {
		t.Errorf("states after retry all: %v", got)
	}
	if n, err := f.s.DeadRetry(ctx, ""); err != nil || n != 0 {
		t.Errorf("DeadRetry with nothing dead = %d, %v", n, err)
	}
	if got, err := f.s.DeadList(ctx, "", 0); err != nil || len(got) != 0 {
		t.Errorf("DeadList after retry all = %v, %v", got, err)
	}
	// Results are history: requeueing deletes none.
	if n := count(t, f.pool, `SELECT count(*) FROM results`); n != resultsBefore {
		t.Errorf("%d results after requeueing, had %d", n, resultsBefore)
	}
}

// deadSameRow fails unless two snapshots of a frontier row are identical.
func deadSameRow(t *testing.T, what string, a, b frontierRow) {
	t.Helper()
	if a.ID != b.ID || a.URL != b.URL || a.State != b.State || a.Attempts != b.Attempts || !eqPtr(a.LeaseToken, b.LeaseToken) ||
		!eqTimePtr(a.LeaseExpiresAt, b.LeaseExpiresAt) || !eqPtr(a.Assistant, b.Assistant) || !a.NextFetchAt.Equal(b.NextFetchAt) ||
		!eqPtr(a.LastClass, b.LastClass) || !eqPtr(a.LastError, b.LastError) || !a.UpdatedAt.Equal(b.UpdatedAt) ||
		a.Priority != b.Priority || a.Source != b.Source {
		t.Errorf("%s touched a row it must not:\n was %+v\n now %+v", what, a, b)
	}
}

// TestDeadRetryClaimAgain checks a requeued URL goes round again: claimed
// with a new lease token and a first attempt, persisted as a new results
// row beside the old one; the old lease's result is stale.
func TestDeadRetryClaimAgain(t *testing.T) {
	t.Parallel()
	s, pool := newStore(t)
	ctx := t.Context()
	insert(t, s, mkURLs("again", 2))
	first := claim(t, s, 2, time.Minute)
	persist(t, s, outcome(first[0], frontier.StateDead), outcome(first[1], frontier.StateDead))

	if n, err := s.DeadRetry(ctx, "timeout"); err != nil || n != 2 {
		t.Fatalf("DeadRetry = %d, %v; want 2", n, err)
	}
	// The old lease's result, arriving late, is dropped by fencing.
	if acc := persist(t, s, outcome(first[0], frontier.StateDone)); acc.Total() != 0 {
		t.Fatalf("a result of the old lease was accepted: %v", acc)
	}

	second := claim(t, s, 10, time.Minute)
	if len(second) != 2 {
		t.Fatalf("claimed %d requeued URLs, want 2", len(second))
	}
	old := map[int64]frontier.Task{first[0].URLID: first[0], first[1].URLID: first[1]}
	for _, tk := range second {
		o, ok := old[tk.URLID]
		if !ok || tk.Token == o.Token || tk.Attempts != 1 {
			t.Errorf("claim after requeue: %+v (first lease %+v); want the same URL, a new token, attempt 1", tk, o)
		}
	}
	acc := persist(t, s, outcome(second[0], frontier.StateDone), outcome(second[1], frontier.StateFailed))
	if acc.Total() != 2 {
		t.Fatalf("Persist after requeue accepted %v", acc)
	}

	res := results(t, pool)
	if len(res) != 4 {
		t.Fatalf("%d results rows, want 4 (one per final attempt)", len(res))
	}
	for _, tk := range first {
		if r, ok := res[tk.Token]; !ok || r.State != "dead" || r.URLID != tk.URLID {
			t.Errorf("old result of lease %d: %+v, %v; want the dead row kept", tk.Token, r, ok)
		}
	}
	for i, want := range []string{"done", "failed"} {
		tk := second[i]
		if r, ok := res[tk.Token]; !ok || r.State != want || r.URLID != tk.URLID {
			t.Errorf("new result of lease %d: %+v, %v; want %s", tk.Token, r, ok, want)
		}
		if fr := frontierByID(t, pool, tk.URLID); fr.State != want || fr.Attempts != 1 || *fr.LeaseToken != tk.Token {
			t.Errorf("frontier row after the new result: %+v", fr)
		}
	}
	if n := count(t, pool, `SELECT count(*) FROM frontier WHERE state = 'dead'`); n != 0 {
		t.Errorf("%d dead rows left", n)
	}
}
