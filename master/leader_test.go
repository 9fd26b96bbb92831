package master_test

import (
	"context"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/crawlmaster/crawlmaster/internal/admin"
	"github.com/crawlmaster/crawlmaster/internal/config"
	"github.com/crawlmaster/crawlmaster/internal/mtls"
	"github.com/crawlmaster/crawlmaster/internal/promtest"
	"github.com/crawlmaster/crawlmaster/master"
)

// runningMaster is a master.Run in the background whose leadership a test
// follows through its hooks and its leader gauge, not its log.
type runningMaster struct {
	cancel   context.CancelFunc
	done     chan error
	registry *prometheus.Registry
	led      chan struct{} // a value each time it starts leading (Options.Started)
	standby  chan struct{} // a value each time it starts standing by (Options.Standby)
	admin    string        // its admin endpoint's address
	id       atomic.Value  // string: its id, once it has led

	stopOnce sync.Once
	err      error
}

func (c *cluster) runMaster(t *testing.T) *runningMaster {
	return runMasterConfig(t, c.cfg)
}

// runMasterConfig is runMaster with a config of the caller's.
func runMasterConfig(t *testing.T, cfg *config.Config) *runningMaster {
	ctx, cancel := context.WithCancel(context.Background())
	ln, _ := listen(t)
	// Buffers far larger than the terms of a test; the hooks never block
	// the master.
	rm := &runningMaster{cancel: cancel, done: make(chan error, 1), registry: admin.NewRegistry(),
		led: make(chan struct{}, 16), standby: make(chan struct{}, 16), admin: ln.Addr().String()}
	notify := func(ch chan struct{}) {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
	go func() {
		rm.done <- master.Run(ctx, master.Options{Config: cfg, Log: testLogger(t), Registry: rm.registry, AdminListener: ln,
			Started: func(d *master.Daemon) { rm.id.Store(d.ID); notify(rm.led) }, Standby: func() { notify(rm.standby) }})
	}()
	t.Cleanup(func() {
		if err := rm.stop(); err != nil {
			t.Errorf("master.Run: %v", err)
		}
	})
	return rm
}

// stop cancels the master and returns what Run returned; it may be called
// more than once.
func (rm *runningMaster) stop() error {
	rm.stopOnce.Do(func() {
		rm.cancel()
		rm.err = <-rm.done
	})
	return rm.err
}

// wait waits for the next value on ch (one of rm's hook channels).
func (rm *runningMaster) wait(t *testing.T, ch chan struct{}, what string, timeout time.Duration) {
	t.Helper()
	select {
	case <-ch:
	case err := <-rm.done:
		rm.done <- err // for stop
		t.Fatalf("master.Run returned (%v) before %s", err, what)
	case <-time.After(timeout):
		t.Fatalf("%s: not within %s", what, timeout)
	}
}

// leaderGauge is the master's crawlmaster_master_leader gauge.
func (rm *runningMaster) leaderGauge(t *testing.T) float64 {
	t.Helper()
	return promtest.Value(t, rm.registry, "crawlmaster_master_leader", nil)
}

// A standby master takes over within a few seconds of the leader's exit
// and finishes the crawl.
func TestStandbyTakesOver(t *testing.T) {
	c := newCluster(t, 400, 2, 8)
	a := c.runMaster(t)
	a.wait(t, a.led, "master a leading", 30*time.Second)
	b := c.runMaster(t)
	b.wait(t, b.standby, "master b standing by", 30*time.Second)
	if la, lb := a.leaderGauge(t), b.leaderGauge(t); la != 1 || lb != 0 {
		t.Fatalf("crawlmaster_master_leader: leader %v, standby %v; want 1 and 0", la, lb)
	}
	stopped := time.Now()
	if err := a.stop(); err != nil {
		t.Fatalf("leader's master.Run: %v", err)
	}
	if la := a.leaderGauge(t); la != 0 {
		t.Errorf("crawlmaster_master_leader of the stopped leader: %v, want 0", la)
	}
	b.wait(t, b.led, "standby leading", 10*time.Second)
	t.Logf("standby led %s after the leader was told to stop", time.Since(stopped).Round(time.Millisecond))
	if lb := b.leaderGauge(t); lb != 1 {
		t.Errorf("crawlmaster_master_leader of the new leader: %v, want 1", lb)
	}
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
	a.wait(t, a.led, "master leading", 30*time.Second)

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
	a.wait(t, a.standby, "back to standby", 15*time.Second)
	if l := a.leaderGauge(t); l != 0 {
		t.Errorf("crawlmaster_master_leader after stepping down: %v, want 0", l)
	}
	if _, err := thief.Exec(ctx, `SELECT pg_advisory_unlock($1)`, int64(0x63726177_6c656164)); err != nil {
		t.Fatal(err)
	}
	a.wait(t, a.led, "leading again", 15*time.Second)
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
	// The "database" is a listener of ours that hangs up on every
	// connection. One attempt of the master opens its connections within
	// moments (pgx may open two); the next comes after a backoff of at
	// least 400 ms. So a connection 200 ms or more after the first one
	// means the master tried again.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var retried atomic.Bool
	accepting := make(chan struct{})
	go func() {
		defer close(accepting)
		var first time.Time
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
			if first.IsZero() {
				first = time.Now()
			} else if time.Since(first) >= 200*time.Millisecond {
				retried.Store(true)
			}
		}
	}()
	t.Cleanup(func() { ln.Close(); <-accepting })

	cfg := config.Default()
	cfg.Database.URL = fmt.Sprintf("postgres://nobody@%s/none?sslmode=disable&connect_timeout=1", ln.Addr())
	// Neither port is ever bound or dialed: the admin server gets AdminAddr,
	// and a master that never leads dials no assistant.
	cfg.RPC.Manager.Port = unusedManagerPort
	cfg.RPC.Assistants = []config.Assistant{{Address: "127.0.0.1", Port: 2, Workers: 1}}
	cfg.TLS.Dir = t.TempDir()
	if _, err := mtls.Issue(mtls.FileSet{Dir: cfg.TLS.Dir}, mtls.IssueOptions{MasterName: cfg.TLS.MasterName, Validity: time.Hour}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- master.Run(ctx, master.Options{Config: cfg, Log: testLogger(t), Registry: admin.NewRegistry(), AdminAddr: "127.0.0.1:0"})
	}()
	deadline := time.Now().Add(30 * time.Second)
	for !retried.Load() {
		select {
		case err := <-done:
			t.Fatalf("master.Run returned while the database was unreachable: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("the master did not try the database again within 30s")
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("master.Run after cancel: %v, want nil", err)
	}
}
