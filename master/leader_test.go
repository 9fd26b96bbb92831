package master_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crawlmaster/crawlmaster/internal/admin"
	"github.com/crawlmaster/crawlmaster/internal/config"
	"github.com/crawlmaster/crawlmaster/master"
)

// recorder is a slog handler that forwards to the test log and lets a test
// wait for a message.
type recorder struct {
	slog.Handler
	mu   sync.Mutex
	msgs []string
	seen chan struct{}
}

func newRecorder(t *testing.T) *recorder {
	return &recorder{Handler: slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}), seen: make(chan struct{}, 1)}
}

func (r *recorder) Handle(ctx context.Context, rec slog.Record) error {
	r.mu.Lock()
	r.msgs = append(r.msgs, rec.Message)
	r.mu.Unlock()
	select {
	case r.seen <- struct{}{}:
	default:
	}
	if rec.Level < slog.LevelWarn && rec.Message != "master leading" && !strings.Contains(rec.Message, "lock") && !strings.Contains(rec.Message, "standby") {
		return nil // keep the test log short
	}
	return r.Handler.Handle(ctx, rec)
}

func (r *recorder) WithAttrs(as []slog.Attr) slog.Handler {
	return &recAttrs{r, r.Handler.WithAttrs(as)}
}

type recAttrs struct {
	r *recorder
	h slog.Handler
}

func (a *recAttrs) Enabled(ctx context.Context, l slog.Level) bool { return true }
func (a *recAttrs) Handle(ctx context.Context, rec slog.Record) error {
	return a.r.Handle(ctx, rec)
}
func (a *recAttrs) WithAttrs(as []slog.Attr) slog.Handler { return a }
func (a *recAttrs) WithGroup(string) slog.Handler         { return a }

func (r *recorder) count(msg string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, m := range r.msgs {
		if m == msg {
			n++
		}
	}
	return n
}

// waitMsg waits until msg has been logged n times.
func (r *recorder) waitMsg(t *testing.T, msg string, n int, timeout time.Duration) {
	t.Helper()
	deadline := time.After(timeout)
	for r.count(msg) < n {
		select {
		case <-r.seen:
		case <-deadline:
			t.Fatalf("%q not logged %d times within %s", msg, n, timeout)
		}
	}
}

type runningMaster struct {
	cancel context.CancelFunc
	done   chan error
	rec    *recorder
}

func (c *cluster) runMaster(t *testing.T) *runningMaster {
	ctx, cancel := context.WithCancel(context.Background())
	rm := &runningMaster{cancel: cancel, done: make(chan error, 1), rec: newRecorder(t)}
	go func() {
		rm.done <- master.Run(ctx, master.Options{Config: c.cfg, Log: slog.New(rm.rec), Registry: admin.NewRegistry(), AdminAddr: "127.0.0.1:0"})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-rm.done; err != nil {
			t.Errorf("master.Run: %v", err)
		}
	})
	return rm
}

// A standby master takes over within a few seconds of the leader's exit
// and finishes the crawl.
func TestStandbyTakesOver(t *testing.T) {
	c := newCluster(t, 400, 2, 8)
	a := c.runMaster(t)
	a.rec.waitMsg(t, "master leading", 1, 30*time.Second)
	b := c.runMaster(t)
	b.rec.waitMsg(t, "another master leads; waiting as standby", 1, 30*time.Second)
	a.cancel()
	stopped := time.Now()
	b.rec.waitMsg(t, "master leading", 1, 10*time.Second)
	t.Logf("standby led %s after the leader was stopped", time.Since(stopped).Round(time.Millisecond))
	c.waitFinal(2 * time.Minute)
	var results, urls int
	if err := c.pool.QueryRow(t.Context(), `SELECT count(*), count(DISTINCT url_id) FROM results`).Scan(&results, &urls); err != nil {
		t.Fatal(err)
	}
	if results != 400 || urls != 400 {
		t.Fatalf("%d results for %d URLs, want 400 and 400", results, urls)
	}
}

// If the leader's lock session is lost and another master takes the lock
// meanwhile, the leader stops leading (without touching the new leader's
// leases) and waits as a standby; when the lock is free again it leads
// again.
func TestLeaderStepsDownWhenLockTaken(t *testing.T) {
	c := newCluster(t, 200, 2, 8)
	a := c.runMaster(t)
	a.rec.waitMsg(t, "master leading", 1, 30*time.Second)

	// Kill the leader's lock session and take the lock from outside, as a
	// second master would after a database restart.
	ctx := t.Context()
	thief, err := c.pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer thief.Release()
	var killed bool
	if err := thief.QueryRow(ctx, `SELECT pg_terminate_backend(pid) FROM pg_locks
		WHERE locktype = 'advisory' AND granted AND ((classid::bigint << 32) | objid::bigint) = $1`, int64(0x63726177_6c656164)).Scan(&killed); err != nil || !killed {
		t.Fatalf("terminate the leader's lock session: %v, %v", killed, err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for got := false; !got; {
		if err := thief.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, int64(0x63726177_6c656164)).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatal("could not take the lock after terminating the leader's session")
		}
	}
	a.rec.waitMsg(t, "another master leads now; back to standby", 1, 15*time.Second)
	if _, err := thief.Exec(ctx, `SELECT pg_advisory_unlock($1)`, int64(0x63726177_6c656164)); err != nil {
		t.Fatal(err)
	}
	a.rec.waitMsg(t, "master leading", 2, 15*time.Second)
	c.waitFinal(2 * time.Minute)
	var results, urls int
	if err := c.pool.QueryRow(ctx, `SELECT count(*), count(DISTINCT url_id) FROM results`).Scan(&results, &urls); err != nil {
		t.Fatal(err)
	}
	if results != 200 || urls != 200 {
		t.Fatalf("%d results for %d URLs, want 200 and 200", results, urls)
	}
}

// A master started while the database is unreachable waits for it instead
// of exiting (a standby must survive a database restart), and stops
// cleanly when asked.
func TestRunWaitsForTheDatabase(t *testing.T) {
	cfg := config.Default()
	cfg.Database.URL = fmt.Sprintf("postgres://nobody@127.0.0.1:%d/none?sslmode=disable&connect_timeout=1", freePort(t))
	cfg.RPC.Manager.Port = freePort(t)
	cfg.RPC.Assistants = []config.Assistant{{Address: "127.0.0.1", Port: freePort(t), Workers: 1}}
	rec := newRecorder(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- master.Run(ctx, master.Options{Config: cfg, Log: slog.New(rec), Registry: admin.NewRegistry(), AdminAddr: "127.0.0.1:0"})
	}()
	rec.waitMsg(t, "database unreachable; retrying", 2, 30*time.Second)
	select {
	case err := <-done:
		t.Fatalf("master.Run returned while the database was unreachable: %v", err)
	default:
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("master.Run after cancel: %v, want nil", err)
	}
}
