package master_test

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/crawlmaster/crawlmaster/assistant"
	"github.com/crawlmaster/crawlmaster/crawl/fetchconfig"
	"github.com/crawlmaster/crawlmaster/internal/admin"
	"github.com/crawlmaster/crawlmaster/internal/config"
	"github.com/crawlmaster/crawlmaster/internal/mtls"
	"github.com/crawlmaster/crawlmaster/internal/pgtest"
	"github.com/crawlmaster/crawlmaster/internal/promtest"
	"github.com/crawlmaster/crawlmaster/internal/websim"
	"github.com/crawlmaster/crawlmaster/master"
	"github.com/crawlmaster/crawlmaster/master/frontier"
	"github.com/crawlmaster/crawlmaster/master/store"
)

// cluster is master + assistants + websim + a fresh database, in process,
// talking over loopback TCP.
type cluster struct {
	t     testing.TB
	cfg   *config.Config
	sim   *websim.Sim
	pool  *pgxpool.Pool
	store *store.Store
	log   *slog.Logger

	stopMaster context.CancelFunc
	masterErr  chan error
	registry   *prometheus.Registry // the running master's
	assistants []*runningAssistant
	// listeners are the assistants' gRPC listeners, bound on port 0 before
	// rpc.yaml names their ports, and handed over to assistant.Run.
	listeners []net.Listener
}

type runningAssistant struct {
	listen string
	cancel context.CancelFunc
	done   chan error
}

// unusedManagerPort is rpc.manager's port in these tests: the config needs
// one, but the masters here serve their admin endpoint on AdminAddr
// "127.0.0.1:0" and never bind it.
const unusedManagerPort = 1

// listen binds a loopback port chosen by the kernel; the caller hands the
// listener over (or closes it), so no other test can take the port
// between choosing and binding it.
func listen(t testing.TB) (net.Listener, int) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln, ln.Addr().(*net.TCPAddr).Port
}

// testLogger sends daemon logs at warn and above to the test log.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(string(bytes.TrimRight(p, "\n")))
	return len(p), nil
}

func newCluster(t *testing.T, domains, nAssistants, workers int) *cluster {
	t.Helper()
	return newClusterSim(t, websim.Config{Domains: domains, Seed: 1, Fractions: websim.DefaultFractions(), HangFor: 30 * time.Second}, nAssistants, workers)
}

func newClusterSim(t *testing.T, simCfg websim.Config, nAssistants, workers int) *cluster {
	t.Helper()
	return newClusterCrawl(t, simCfg, nil, nil, nAssistants, workers)
}

// newClusterCrawl is newClusterSim importing the list into a crawl created
// with policy (nil: the default crawl), with the config edited by edit
// (nil: none) before the assistants start.
func newClusterCrawl(t testing.TB, simCfg websim.Config, policy *frontier.Crawl, edit func(*config.Config), nAssistants, workers int) *cluster {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end: skipped in -short mode")
	}
	domains := simCfg.Domains
	sim, err := websim.New(simCfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := sim.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })

	dbURL := pgtest.NewDatabase(t)
	cfg := config.Default()
	cfg.Database.URL = dbURL
	cfg.RPC.Manager.Port = unusedManagerPort
	var listeners []net.Listener
	for range nAssistants {
		ln, port := listen(t)
		listeners = append(listeners, ln)
		cfg.RPC.Assistants = append(cfg.RPC.Assistants, config.Assistant{Address: "127.0.0.1", Port: port, Workers: config.Workers(workers)})
	}
	cfg.Dispatch.PollInterval = 100 * time.Millisecond
	cfg.Dispatch.PollTimeout = 80 * time.Millisecond
	cfg.Dispatch.ProgressInterval = time.Second
	cfg.Dispatch.ShutdownGrace = 5 * time.Second
	cfg.Retry.BaseDelay = 50 * time.Millisecond
	cfg.Retry.MaxDelay = 200 * time.Millisecond
	cfg.Fetch.Timeout = 2 * time.Second
	cfg.Fetch.ConnectTimeout = time.Second
	cfg.Fetch.RobotsTimeout = 2 * time.Second
	// A URL whose robots.txt failed waits for the remembered failure to
	// expire before its retry (5 minutes by default); websim's failing
	// robots.txt would hold these crawls that long.
	cfg.Fetch.RobotsErrorTTL = time.Second
	cfg.Fetch.DefaultDelay = 0
	cfg.Fetch.Resolve = []fetchconfig.ResolveRule{{Pattern: "*.test", Addr: sim.Addr()}}
	cfg.Fetch.AllowedNetworks = []fetchconfig.Network{{Prefix: netip.MustParsePrefix("127.0.0.0/8")}} // websim, on loopback
	cfg.Fetch.ShutdownGrace = 5 * time.Second
	// Mutual TLS, as deployed: a CA and certificates for this master and
	// these assistants.
	cfg.TLS.Dir = t.TempDir()
	var ids []string
	for _, a := range cfg.RPC.Assistants {
		ids = append(ids, a.ID())
	}
	if _, err := mtls.Issue(mtls.FileSet{Dir: cfg.TLS.Dir}, mtls.IssueOptions{MasterName: cfg.TLS.MasterName, Assistants: ids, Validity: time.Hour}); err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}

	pool, err := pgxpool.New(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	st := store.New(pool)
	if _, err := store.Migrate(context.Background(), pool); err != nil {
		t.Fatal(err)
	}
	c := &cluster{t: t, cfg: cfg, sim: sim, pool: pool, store: st, log: testLogger(t), listeners: listeners}

	var list bytes.Buffer
	if err := sim.WriteTranco(&list); err != nil {
		t.Fatal(err)
	}
	crawl := frontier.Crawl{ID: frontier.DefaultCrawlID}
	if policy != nil {
		if crawl, err = st.CreateCrawl(context.Background(), *policy); err != nil {
			t.Fatal(err)
		}
	}
	rep, err := master.ImportTranco(context.Background(), st, &list, master.ImportOptions{Scheme: "http", Crawl: crawl})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Inserted != int64(domains) || rep.Bad != 0 {
		t.Fatalf("import: %s; want %d new URLs and no bad lines (first bad: %v)", rep, domains, rep.FirstBad)
	}
	for i := range nAssistants {
		c.startAssistant(i)
	}
	return c
}

func (c *cluster) startAssistant(i int) {
	a := c.cfg.RPC.Assistants[i]
	ctx, cancel := context.WithCancel(context.Background())
	ra := &runningAssistant{listen: a.ID(), cancel: cancel, done: make(chan error, 1)}
	ready := make(chan struct{})
	go func() {
		ra.done <- assistant.Run(ctx, assistant.Options{Config: c.cfg, Listen: a.ID(), Listener: c.listeners[i], MetricsListen: "127.0.0.1:0",
			Log: c.log, Registry: admin.NewRegistry(), Started: func(string, string) { close(ready) }})
	}()
	select {
	case <-ready:
	case err := <-ra.done:
		c.t.Fatalf("assistant %s: %v", a.ID(), err)
	}
	c.assistants = append(c.assistants, ra)
	c.t.Cleanup(func() {
		cancel()
		if err := <-ra.done; err != nil {
			c.t.Errorf("assistant %s: %v", a.ID(), err)
		}
	})
}

func (c *cluster) startMaster() *master.Daemon {
	ctx, cancel := context.WithCancel(context.Background())
	c.stopMaster = cancel
	c.masterErr = make(chan error, 1)
	started := make(chan *master.Daemon, 1)
	c.registry = admin.NewRegistry()
	reg := c.registry
	go func() {
		c.masterErr <- master.Run(ctx, master.Options{Config: c.cfg, Log: c.log, Registry: reg,
			AdminAddr: "127.0.0.1:0", Started: func(d *master.Daemon) { started <- d }})
	}()
	select {
	case d := <-started:
		c.t.Cleanup(func() { c.stop() })
		return d
	case err := <-c.masterErr:
		c.t.Fatalf("master: %v", err)
	}
	return nil
}

func (c *cluster) stop() {
	if c.stopMaster == nil {
		return
	}
	c.stopMaster()
	c.stopMaster = nil
	if err := <-c.masterErr; err != nil {
		c.t.Errorf("master.Run: %v", err)
	}
}

// waitFinal waits until every frontier URL is final.
func (c *cluster) waitFinal(timeout time.Duration) store.Stats {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	var st store.Stats
	var err error
	for {
		st, err = c.store.Stats(context.Background())
		if err != nil {
			c.t.Fatal(err)
		}
		if st.Total() > 0 && st.Final() == st.Total() {
			return st
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("crawl not final after %s: %v", timeout, st.Counts)
		}
		// Polling the database is the condition; the interval only bounds
		// how often we ask.
		<-time.After(200 * time.Millisecond)
	}
}

// TestCrawlWebsim is the product's spine: two assistants and a master on
// loopback TCP crawl 2,000 synthetic domains against real PostgreSQL, and
// the stored outcome of every URL matches websim's ground truth.
func TestCrawlWebsim(t *testing.T) {
	const domains = 2000
	c := newCluster(t, domains, 2, 32)
	// Failure detection is not under test here, and under -race next to
	// other packages' tests a 100 ms poll can miss its 80 ms deadline a few
	// times in a row: an assistant marked down for nothing would move its
	// shards and make the shard_moved check below fail.
	c.cfg.Dispatch.PollInterval = 500 * time.Millisecond
	c.cfg.Dispatch.PollTimeout = 400 * time.Millisecond
	c.cfg.Dispatch.DownAfter = 6
	d := c.startMaster()
	stats := c.waitFinal(3 * time.Minute)
	c.stop()
	t.Logf("final counts: %v", stats.Counts)

	ctx := context.Background()
	// One results row per frontier URL, none left leased.
	var frontierN, resultsN, distinctURLs, leased int64
	if err := c.pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM frontier), (SELECT count(*) FROM results),
		(SELECT count(DISTINCT url_id) FROM results), (SELECT count(*) FROM frontier WHERE state = 'leased' OR lease_expires_at IS NOT NULL)`).
		Scan(&frontierN, &resultsN, &distinctURLs, &leased); err != nil {
		t.Fatal(err)
	}
	if frontierN != domains || resultsN != frontierN || distinctURLs != frontierN || leased != 0 {
		t.Fatalf("frontier %d, results %d (distinct urls %d), leased %d: want %d, %d, %d, 0",
			frontierN, resultsN, distinctURLs, leased, domains, domains, domains)
	}

	// Every URL's stored outcome matches the ground truth.
	type row struct {
		state, class, finalURL, title, robots string
		status                                int
	}
	got := map[string]row{}
	rows, err := c.pool.Query(ctx, `SELECT f.url, f.state, r.error_class, r.http_status, r.final_url, r.title, r.robots
		FROM frontier f JOIN results r ON r.url_id = f.id`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var u string
		var r row
		if err := rows.Scan(&u, &r.state, &r.class, &r.status, &r.finalURL, &r.title, &r.robots); err != nil {
			t.Fatal(err)
		}
		got[u] = r
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	mismatches := 0
	kinds := map[string]int{}
	for e := range c.sim.All() {
		r, ok := got[e.URL]
		kinds[string(e.State)+"/"+string(e.Class)]++
		want := row{state: string(e.State), class: string(e.Class), status: e.HTTPStatus, finalURL: e.FinalURL, title: e.Title, robots: string(e.Robots)}
		if !ok || r != want {
			mismatches++
			if mismatches <= 15 {
				t.Errorf("%s (%+v):\n got  %+v\n want %+v", e.URL, c.sim.Profile(e.Rank), r, want)
			}
		}
	}
	if mismatches > 0 {
		t.Fatalf("%d of %d URLs differ from websim's ground truth", mismatches, domains)
	}
	t.Logf("outcome kinds: %v", kinds)
	if len(kinds) < 8 {
		t.Errorf("only %d outcome kinds exercised, want the full websim mix", len(kinds))
	}
	// Politeness: no request to a path robots.txt disallows.
	if hits := c.sim.DisallowedHits(); len(hits) > 0 {
		t.Fatalf("websim served %d disallowed requests, e.g. %v", len(hits), hits[:min(5, len(hits))])
	}
	// The master's writer saw no stale results in a crawl without faults.
	if n := d.Writer.Rejected(); n != 0 {
		t.Errorf("%d results rejected by fencing in a fault-free crawl", n)
	}
	// Both assistants were up from the start: nothing was claimed for the
	// wrong one and released when the owners changed.
	if n := promtest.Value(t, c.registry, "crawlmaster_dispatch_released_urls_total", map[string]string{"reason": "shard_moved"}); n != 0 {
		t.Errorf("%v URLs released because their shard moved, in a crawl whose assistants never changed", n)
	}
}

// An assistant listed in rpc.yaml but unreachable at start is reported and
// worked around: the live assistants own all domains and the crawl
// completes.
func TestCrawlWithUnreachableAssistant(t *testing.T) {
	const domains = 300
	c := newCluster(t, domains, 2, 16)
	// The ghost's port is a listener of ours that never accepts: no other
	// test can take it, and the master's polls time out as with a dead host.
	ghostLn, ghostPort := listen(t)
	defer ghostLn.Close()
	ghost := config.Assistant{Address: "127.0.0.1", Port: ghostPort, Workers: 8}
	c.cfg.RPC.Assistants = append(c.cfg.RPC.Assistants, ghost)
	d := c.startMaster()
	c.waitFinal(2 * time.Minute)
	var ghostStatus *frontier.AssistantStatus
	for _, a := range d.Dispatcher.Status() {
		if a.ID == ghost.ID() {
			ghostStatus = &a
		} else if !a.Up || a.Dispatched == 0 {
			t.Errorf("live assistant %s: %+v, want up with work dispatched", a.ID, a)
		}
	}
	if ghostStatus == nil || ghostStatus.Up || ghostStatus.Dispatched != 0 || ghostStatus.LastError == "" {
		t.Fatalf("unreachable assistant status: %+v; want down, nothing dispatched, last error set", ghostStatus)
	}
	c.stop()
	var results int
	if err := c.pool.QueryRow(context.Background(), `SELECT count(*) FROM results`).Scan(&results); err != nil {
		t.Fatal(err)
	}
	if results != domains {
		t.Fatalf("%d results, want %d", results, domains)
	}
}

// When nothing is in flight the writer is told to flush: with an
// hour-long flush interval and batches larger than the crawl, every result
// still reaches the database while the master runs.
func TestResultsFlushedWhenNothingInFlight(t *testing.T) {
	const domains = 60
	c := newCluster(t, domains, 2, 8)
	c.cfg.Persist.FlushInterval = time.Hour
	c.cfg.Persist.BatchSize = 1000
	c.startMaster()
	c.waitFinal(time.Minute)
}

// SIGTERM (context cancel) mid-crawl: the master stops dispatching, gives
// in-flight batches the grace period, then cancels them and returns their
// URLs to pending without charging an attempt; no lease is left.
func TestShutdownReturnsUnfinishedUncharged(t *testing.T) {
	c := newClusterSim(t, websim.Config{Domains: 300, Seed: 1, LatencyMedian: time.Second, LatencyMax: 1500 * time.Millisecond}, 2, 8)
	c.cfg.Dispatch.ShutdownGrace = 100 * time.Millisecond
	d := c.startMaster()
	// Wait until batches are in flight, then stop.
	deadline := time.Now().Add(30 * time.Second)
	for inFlight := 0; inFlight == 0; {
		for _, a := range d.Dispatcher.Status() {
			inFlight += a.InFlight
		}
		if time.Now().After(deadline) {
			t.Fatal("nothing in flight after 30s")
		}
		<-time.After(20 * time.Millisecond)
	}
	stopped := time.Now()
	c.stop()
	if took := time.Since(stopped); took > 5*time.Second {
		t.Errorf("shutdown took %s with a 100ms grace", took)
	}
	var leased, charged, final int
	if err := c.pool.QueryRow(t.Context(), `SELECT
		count(*) FILTER (WHERE state = 'leased' OR lease_expires_at IS NOT NULL),
		count(*) FILTER (WHERE state = 'pending' AND attempts > 0 AND last_class IS NULL),
		count(*) FILTER (WHERE state IN ('done', 'failed', 'dead'))
		FROM frontier`).Scan(&leased, &charged, &final); err != nil {
		t.Fatal(err)
	}
	if leased != 0 || charged != 0 {
		t.Fatalf("after shutdown: %d leases left, %d unfinished URLs charged an attempt; want 0 and 0", leased, charged)
	}
	if final >= 300 {
		t.Fatalf("all %d URLs final: the test stopped too late to see in-flight work", final)
	}
	t.Logf("%d of 300 final when stopped", final)
}
