package persist_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/crawlmaster/crawlmaster/internal/pgtest"
	"github.com/crawlmaster/crawlmaster/internal/testwait"
	"github.com/crawlmaster/crawlmaster/master/frontier"
	"github.com/crawlmaster/crawlmaster/master/persist"
	"github.com/crawlmaster/crawlmaster/master/store"
)

// faulty wraps the real store: it can hold every Persist until released,
// and fail the first N calls, to exercise back-pressure and retries.
type faulty struct {
	st    *store.Store
	gate  chan struct{} // nil: no gate
	fails atomic.Int32
	calls atomic.Int32
}

func (f *faulty) Persist(ctx context.Context, outs []frontier.Outcome) (store.Written, error) {
	f.calls.Add(1)
	if f.gate != nil {
		select {
		case <-f.gate:
		case <-ctx.Done():
			return store.Written{}, ctx.Err()
		}
	}
	if f.fails.Add(-1) >= 0 {
		return store.Written{}, errors.New("injected: connection refused")
	}
	return f.st.Persist(ctx, outs)
}

// leased inserts n URLs and leases them, returning one done outcome each.
func leased(t *testing.T, n int) (*store.Store, []frontier.Outcome) {
	t.Helper()
	pool, _ := pgtest.NewPool(t)
	if _, err := store.Migrate(t.Context(), pool); err != nil {
		t.Fatal(err)
	}
	st := store.New(pool)
	urls := make([]store.NewURL, n)
	for i := range urls {
		d := fmt.Sprintf("d%d.example", i)
		urls[i] = store.NewURL{URL: "https://" + d + "/", Host: d, Domain: d, Priority: int32(i)}
	}
	if _, err := st.Insert(t.Context(), defaultCrawl, urls, store.SourceEnqueue); err != nil {
		t.Fatal(err)
	}
	shards := make([]int16, frontier.NumShards)
	for i := range shards {
		shards[i] = int16(i)
	}
	tasks, err := st.Claim(t.Context(), frontier.Claim{Shards: shards, Limit: n, Lease: time.Minute, Assistant: "a"})
	if err != nil || len(tasks) != n {
		t.Fatalf("claim: %d tasks, %v", len(tasks), err)
	}
	outs := make([]frontier.Outcome, n)
	for i, tk := range tasks {
		outs[i] = frontier.Outcome{URLID: tk.URLID, Token: tk.Token, State: frontier.StateDone, URL: tk.URL, FinalURL: tk.URL,
			HTTPStatus: 200, Class: "ok", Robots: "allowed", Attempts: 1, Assistant: "a", FetchedAt: time.Now()}
	}
	return st, outs
}

// started is a running writer: stop cancels its Run, whose result
// arrives on done.
type started struct {
	*persist.Writer
	stop context.CancelFunc
}

func start(t *testing.T, cfg persist.Config, p persist.Persister) (started, *persist.Metrics, chan error) {
	t.Helper()
	m := persist.NewMetrics(nil)
	w := persist.New(cfg, p, slog.New(slog.NewTextHandler(io.Discard, nil)), m)
	ctx, stop := context.WithCancel(context.Background())
	t.Cleanup(stop)
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	return started{w, stop}, m, done
}

// waitFor polls cond until it holds or 10 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testwait.Until(t, what, 10*time.Second, 2*time.Millisecond, cond)
}

func submitAll(t *testing.T, w started, outs []frontier.Outcome) {
	t.Helper()
	for _, o := range outs {
		if err := w.Submit(t.Context(), o); err != nil {
			t.Fatal(err)
		}
	}
}

// Full batches are written as soon as they fill; the remainder is written
// when the writer is stopped.
func TestFlushBySizeAndAtStop(t *testing.T) {
	t.Parallel()
	st, outs := leased(t, 25)
	f := &faulty{st: st}
	w, m, done := start(t, persist.Config{BatchSize: 10, FlushInterval: time.Hour, Buffer: 100}, f)
	submitAll(t, w, outs)
	waitFor(t, "two full batches", func() bool { return w.Persisted(frontier.StateDone) == 20 })
	if got := testutil.ToFloat64(m.Buffered); got != 5 {
		t.Fatalf("buffered = %v, want the 5 of the unfilled batch", got)
	}
	w.stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := w.Persisted(frontier.StateDone); n != 25 || f.calls.Load() != 3 {
		t.Fatalf("persisted %d in %d calls, want 25 in 3", n, f.calls.Load())
	}
}

// A partial batch is written once the flush interval has passed.
func TestFlushByTime(t *testing.T) {
	t.Parallel()
	st, outs := leased(t, 3)
	w, _, done := start(t, persist.Config{BatchSize: 1000, FlushInterval: 20 * time.Millisecond, Buffer: 1000}, &faulty{st: st})
	submitAll(t, w, outs)
	waitFor(t, "the time-triggered flush", func() bool { return w.Persisted(frontier.StateDone) == 3 })
	w.stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// FlushNow writes a partial batch at once, with everything submitted
// before it, in one call; without it the hour-long interval would hold it.
func TestFlushNow(t *testing.T) {
	t.Parallel()
	st, outs := leased(t, 7)
	f := &faulty{st: st}
	w, m, done := start(t, persist.Config{BatchSize: 1000, FlushInterval: time.Hour, Buffer: 1000}, f)
	submitAll(t, w, outs)
	w.FlushNow()
	w.FlushNow() // coalesces with the pending request; must not block
	waitFor(t, "the requested flush", func() bool { return w.Persisted(frontier.StateDone) == 7 })
	if got := testutil.ToFloat64(m.Buffered); got != 0 {
		t.Fatalf("buffered = %v after FlushNow, want 0", got)
	}
	if c := f.calls.Load(); c != 1 {
		t.Fatalf("%d Persist calls, want the 7 results in 1", c)
	}
	w.stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// A failing database is retried with the same batch until it succeeds;
// nothing is lost or written twice.
func TestRetriesUntilTheDatabaseAnswers(t *testing.T) {
	t.Parallel()
	st, outs := leased(t, 5)
	f := &faulty{st: st}
	f.fails.Store(2)
	w, m, done := start(t, persist.Config{BatchSize: 5, FlushInterval: time.Hour, Buffer: 10}, f)
	submitAll(t, w, outs)
	waitFor(t, "the batch after two failures", func() bool { return w.Persisted(frontier.StateDone) == 5 })
	w.stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := testutil.ToFloat64(m.Errors); got != 2 || f.calls.Load() != 3 {
		t.Fatalf("errors %v, calls %d; want 2 failures then 1 success", got, f.calls.Load())
	}
	var rows int
	if err := st.Pool().QueryRow(t.Context(), `SELECT count(*) FROM results`).Scan(&rows); err != nil || rows != 5 {
		t.Fatalf("%d results rows (%v), want 5", rows, err)
	}
}

// When the database stalls, Submit blocks once the buffer is full (so
// gRPC flow control reaches the assistants) and resumes when it returns.
func TestBackpressure(t *testing.T) {
	t.Parallel()
	st, outs := leased(t, 8)
	f := &faulty{st: st, gate: make(chan struct{})}
	w, _, done := start(t, persist.Config{BatchSize: 2, FlushInterval: time.Hour, Buffer: 2}, f)
	// The writer holds one batch of 2 (stuck in Persist) and the channel 2 more.
	submitAll(t, w, outs[:4])
	waitFor(t, "the first Persist call", func() bool { return f.calls.Load() == 1 })
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if err := w.Submit(ctx, outs[4]); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Submit with a full buffer returned %v, want it to block until its deadline", err)
	}
	close(f.gate)
	submitAll(t, w, outs[4:])
	w.stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := w.Persisted(frontier.StateDone); n != 8 {
		t.Fatalf("persisted %d, want 8", n)
	}
}

// Body bytes are bounded too: a submit blocks while the bytes held would
// exceed BufferBytes.
func TestBodyByteBound(t *testing.T) {
	t.Parallel()
	st, outs := leased(t, 2)
	f := &faulty{st: st, gate: make(chan struct{})}
	w, _, done := start(t, persist.Config{BatchSize: 1, FlushInterval: time.Hour, Buffer: 10, BufferBytes: 100}, f)
	outs[0].Body = make([]byte, 80)
	outs[1].Body = make([]byte, 80)
	submitAll(t, w, outs[:1])
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if err := w.Submit(ctx, outs[1]); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Submit over the byte bound returned %v, want it to block", err)
	}
	close(f.gate)
	submitAll(t, w, outs[1:])
	w.stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := w.Persisted(frontier.StateDone); n != 2 {
		t.Fatalf("persisted %d, want 2", n)
	}
}

// Results whose lease is no longer current are counted as rejected.
func TestStaleResultsCounted(t *testing.T) {
	t.Parallel()
	st, outs := leased(t, 3)
	if _, err := st.Release(t.Context(), []int64{outs[0].Token}, false); err != nil {
		t.Fatal(err)
	}
	w, m, done := start(t, persist.Config{BatchSize: 3, FlushInterval: time.Hour, Buffer: 3}, &faulty{st: st})
	submitAll(t, w, outs)
	w.stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if w.Rejected() != 1 || w.Persisted(frontier.StateDone) != 2 || testutil.ToFloat64(m.Rejected) != 1 {
		t.Fatalf("rejected %d, persisted %d; want 1 and 2", w.Rejected(), w.Persisted(frontier.StateDone))
	}
}

// Once stopped, the writer takes no more outcomes, and its last write gets
// FinalFlush to finish: a stalled database does not hold the master's
// shutdown forever.
func TestStopBoundsTheLastWrite(t *testing.T) {
	t.Parallel()
	st, outs := leased(t, 2)
	f := &faulty{st: st, gate: make(chan struct{})} // Persist blocks until its context ends
	w, _, done := start(t, persist.Config{BatchSize: 10, FlushInterval: time.Hour, Buffer: 10, FinalFlush: 100 * time.Millisecond}, f)
	submitAll(t, w, outs[:1])
	stopped := time.Now()
	w.stop()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Run after a stalled last write = %v, want context.Canceled", err)
	}
	if took := time.Since(stopped); took < 100*time.Millisecond || took > 5*time.Second {
		t.Errorf("Run returned %v after the stop, want about FinalFlush (100ms)", took)
	}
	if err := w.Submit(t.Context(), outs[1]); !errors.Is(err, persist.ErrClosed) {
		t.Errorf("Submit after the stop = %v, want ErrClosed", err)
	}
}

// defaultCrawl is the crawl of the URLs given (no discovery).
var defaultCrawl = frontier.Crawl{ID: frontier.DefaultCrawlID}

// OnWritten's hook runs after each committed write that stored results,
// and not after a write whose results were all stale.
func TestOnWrittenAfterCommittedWrites(t *testing.T) {
	t.Parallel()
	st, outs := leased(t, 3)
	w := persist.New(persist.Config{BatchSize: 1, FlushInterval: time.Hour, Buffer: 1}, st, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	var calls atomic.Int32
	w.OnWritten(func() {
		if w.Persisted(frontier.StateDone) == 0 {
			t.Error("hook called before the write was accounted")
		}
		calls.Add(1)
	})
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	for _, o := range outs {
		if err := w.Submit(t.Context(), o); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "three writes", func() bool { return calls.Load() == 3 })
	if err := w.Submit(t.Context(), outs[0]); err != nil { // stale now: rejected
		t.Fatal(err)
	}
	waitFor(t, "the stale result rejected", func() bool { return w.Rejected() == 1 })
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := calls.Load(); n != 3 {
		t.Errorf("hook called %d times, want 3 (not for the rejected write)", n)
	}
}

// New has no defaults of its own for the settings rpc.yaml holds: a Config
// that leaves them unset, or a buffer smaller than a batch, is a bug.
func TestNewRejectsIncompleteConfig(t *testing.T) {
	t.Parallel()
	for _, cfg := range []persist.Config{
		{},
		{FlushInterval: time.Second, Buffer: 10},
		{BatchSize: 10, Buffer: 10},
		{BatchSize: 10, FlushInterval: time.Second, Buffer: 9},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("New(%+v) did not panic", cfg)
				}
			}()
			persist.New(cfg, nil, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
		}()
	}
}
