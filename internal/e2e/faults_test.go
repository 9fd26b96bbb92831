package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/crawlmaster/crawlmaster/crawl/errclass"
	"github.com/crawlmaster/crawlmaster/internal/faultproxy"
	"github.com/crawlmaster/crawlmaster/internal/procstat"
	"github.com/crawlmaster/crawlmaster/internal/proctest"
	"github.com/crawlmaster/crawlmaster/internal/testwait"
	"github.com/crawlmaster/crawlmaster/internal/websim"
)

// The fault suite's parameters. The crawl is made slow enough (latency,
// few slots) that every fault lands while work is in flight.
const (
	faultDomains = 20000
	faultSeed    = 11 // websim's universe
	// scheduleSeed drives the fault schedule's random choices (which
	// assistant, exactly when), fixed so that runs repeat;
	// CRAWLMASTER_FAULT_SEED overrides it to explore other schedules.
	scheduleSeed = 1
	pollInterval = 500 * time.Millisecond
	maxAttempts  = 3
	// The revisit crawl run alongside: this many home pages fetched again
	// every revisitInterval.
	revisitDomains  = 300
	revisitInterval = 10 * time.Second
	slotsPerAsst    = 24
	pgOutage        = 30 * time.Second
	faultDeadline   = 6 * time.Minute
)

// privatePG is a PostgreSQL cluster of the fault suite's own, so stopping
// it cannot disturb other tests running in parallel.
type privatePG struct {
	env []string
	url string
}

// run runs scripts/pg.sh verb and returns its last output line (the URL,
// for start).
func (p *privatePG) run(verb string) (string, error) {
	cmd := exec.Command("../../scripts/pg.sh", verb)
	cmd.Env = append(os.Environ(), p.env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("scripts/pg.sh %s: %v\n%s", verb, err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	return lines[len(lines)-1], nil
}

func (p *privatePG) do(t *testing.T, verb string) string {
	t.Helper()
	out, err := p.run(verb)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func startPrivatePG(t *testing.T) *privatePG {
	t.Helper()
	// Under the repository's .data (not t.TempDir, which is private to
	// root): the postgres user must be able to reach the data directory.
	base, err := filepath.Abs(fmt.Sprintf("../../.data/faults-%d", os.Getpid()))
	if err != nil {
		t.Fatal(err)
	}
	p := &privatePG{}
	t.Cleanup(func() {
		_, _ = p.run("stop")
		os.RemoveAll(base)
		os.Remove(base + "/pg.lock")
	})
	// PostgreSQL cannot bind port 0, and its port is in the URL of every
	// client, so the port is chosen here: one the kernel just handed out
	// and took back. Something else may bind it before the cluster does;
	// the start then fails naming the port as taken, and is retried on
	// another. (The restart after the outage keeps the port: the daemons'
	// URL names it. pg.sh retries a taken port for a while.)
	for attempt := 1; ; attempt++ {
		p.env = []string{"CRAWLMASTER_PGDATA=" + filepath.Join(base, "pg"), "CRAWLMASTER_PGPORT=" + strconv.Itoa(recentlyFreePort(t))}
		url, err := p.run("start")
		if err == nil {
			p.url = url
			return p
		}
		taken := strings.Contains(err.Error(), "already in use") || strings.Contains(err.Error(), "could not bind")
		if !taken || attempt == 5 {
			t.Fatal(err)
		}
		t.Logf("private PostgreSQL: port taken, trying another: %v", err)
	}
}

// recentlyFreePort returns a loopback port that was free a moment ago, for
// PostgreSQL only: everything else binds port 0 itself.
func recentlyFreePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// logLine is one JSON log line of a daemon.
type logLine struct {
	Time time.Time
	Msg  string
	Attr map[string]any
}

func parseLogs(out string) []logLine {
	var lines []logLine
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) != nil {
			continue
		}
		ts, _ := m["time"].(string)
		tm, err := time.Parse(time.RFC3339Nano, ts)
		if err != nil {
			continue
		}
		msg, _ := m["msg"].(string)
		lines = append(lines, logLine{Time: tm, Msg: msg, Attr: m})
	}
	return lines
}

// wantSim is the fault suite's web, as the websim binary serves it, for
// its domain names and ground truth.
func wantSim(t *testing.T) *websim.Sim {
	sim, err := websim.New(websim.Config{Domains: faultDomains, Seed: faultSeed, Fractions: websim.DefaultFractions()})
	if err != nil {
		t.Fatal(err)
	}
	return sim
}

func num(v any) int64 {
	f, _ := v.(float64)
	return int64(f)
}

// fault is one injected fault and when it was noticed.
type fault struct {
	what     string
	at       time.Time
	detected time.Time // zero: not detected
	how      string
}

// TestFaults crawls 20,000 websim domains with real binaries while it kills
// and restarts assistants at random, stops one, cuts the network to one,
// kills the leading master (a standby takes over, the killed one comes back
// as standby), kills the new leader, and stops PostgreSQL for 30 s. At the
// end every URL must be final with exactly one result, no lease left,
// outcomes equal to websim's ground truth except for URLs the faults made
// retry, and nothing lost or duplicated. It prints a one-screen report.
func TestFaults(t *testing.T) {
	skipInShort(t, "fault suite")
	seed := uint64(scheduleSeed)
	if s := os.Getenv("CRAWLMASTER_FAULT_SEED"); s != "" {
		var err error
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatalf("CRAWLMASTER_FAULT_SEED=%q: %v", s, err)
		}
	}
	rng := rand.New(rand.NewPCG(seed, 1))
	dir := t.TempDir()
	pg := startPrivatePG(t)
	env := []string{"DATABASE_URL=" + pg.url}

	sim := start(t, "websim", nil, "--domains", strconv.Itoa(faultDomains), "--seed", strconv.Itoa(faultSeed),
		"--listen", "127.0.0.1:0", "--out", dir, "--latency-median", "60ms", "--latency-sigma", "0.6", "--latency-max", "800ms",
		"--requests-out", filepath.Join(dir, "requests.csv"))
	simAddr := waitFile(t, filepath.Join(dir, "addr"), sim)

	// Each assistant sits behind a proxy the test controls; rpc.yaml lists
	// the proxy addresses, so the master reaches assistants only through
	// them. An assistant listens on a port of its own choosing, a new one
	// at each restart, and its proxy is pointed at it.
	type asst struct {
		id       string
		addrFile string
		proxy    *faultproxy.Proxy
		p        *proc
	}
	var assts []*asst
	for i := range 2 {
		px := newProxy(t)
		assts = append(assts, &asst{id: px.Addr(), proxy: px, addrFile: filepath.Join(dir, fmt.Sprintf("assistant-%d.addr", i+1))})
	}
	// One rpc.yaml for every daemon: each master serves its admin endpoint
	// on a port of its own (--admin-listen), not rpc.manager's.
	writeCfg := func(name string) string {
		cfg := fmt.Sprintf(`rpc:
  manager: {address: 127.0.0.1, port: %d}
  assistant:
    - {address: 127.0.0.1, port: %s, workers: %d}
    - {address: 127.0.0.1, port: %s, workers: %d}
dispatch:
  poll_interval: %s
  poll_timeout: 300ms
  down_after: 3
  lease_duration: 20s
  rescue_interval: 5s
  progress_interval: 2s
  shutdown_grace: 5s
retry: {max_attempts: %d, base_delay: 200ms, max_delay: 1s}
persist: {batch_size: 200, buffer: 1000}
fetch:
  timeout: 2s
  connect_timeout: 1s
  robots_timeout: 2s
  # A robots.txt failure (a SIGSTOPped assistant times its fetches out) is
  # remembered this long; URLs it decides in the meantime wait it out.
  robots_error_ttl: 2s
  default_delay: 0s
  shutdown_grace: 5s
  resolve: ["*.test=%s"]
  allowed_networks: ["127.0.0.0/8"] # websim, on loopback
log: {format: json}
`, unusedManagerPort, portOf(assts[0].id), slotsPerAsst, portOf(assts[1].id), slotsPerAsst, pollInterval, maxAttempts, simAddr)
		return writeDaemonConfig(t, env, filepath.Join(dir, name), cfg)
	}
	cfgPath := writeCfg("rpc.yaml")

	if out, err := run(t, env, "master", "import-tranco", "--config", cfgPath, "--scheme", "http", filepath.Join(dir, "tranco.csv")); err != nil {
		t.Fatalf("import: %v\n%s", err, out)
	}
	// Revisits under the same faults: a second crawl fetches the home
	// pages of the first revisitDomains domains again every
	// revisitInterval, sharing the sites (and their affinity) with the
	// main crawl.
	if out, err := run(t, env, "master", "crawl", "create", "fresh", "--config", cfgPath, "--max-depth", "0",
		"--revisit", "fixed", "--revisit-done", revisitInterval.String(), "--revisit-failed", "0", "--revisit-dead", "0"); err != nil {
		t.Fatalf("crawl create: %v\n%s", err, out)
	}
	var seeds strings.Builder
	for r := 1; r <= revisitDomains; r++ {
		fmt.Fprintf(&seeds, "http://%s/\n", wantSim(t).Domain(r))
	}
	seedFile := filepath.Join(dir, "fresh.txt")
	if err := os.WriteFile(seedFile, []byte(seeds.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := run(t, env, "master", "enqueue", "--config", cfgPath, "--crawl", "fresh", seedFile); err != nil {
		t.Fatalf("enqueue: %v\n%s", err, out)
	}
	startAsst := func(a *asst) {
		a.p = startAssistantProc(t, env, cfgPath, a.proxy, a.addrFile)
	}
	for _, a := range assts {
		startAsst(a)
	}

	var (
		mu      sync.Mutex
		allProc []*proc // every master process ever started, for their logs
		peakRSS = map[string]int64{}
	)
	masters := make([]*proc, 2)
	adminAddrs := make([]string, 2) // each master's admin endpoint, new at each start
	startMaster := func(i int) {
		p, addr := startMasterProc(t, env, cfgPath, filepath.Join(dir, fmt.Sprintf("master-%d.addr", i+1)))
		mu.Lock()
		masters[i], adminAddrs[i] = p, addr
		allProc = append(allProc, p)
		mu.Unlock()
	}
	// leads reports whether master i says it leads on /metrics; false
	// while it cannot answer (starting, or waiting for the database).
	leads := func(i int) bool {
		v, err := metricValue(adminAddrs[i], "crawlmaster_master_leader")
		return err == nil && v == 1
	}
	startMaster(0)
	t0 := time.Now()
	// The standby starts a moment later, so master 0 leads first.
	waitFor(t, "master-1 leading", 30*time.Second, func() bool {
		if exited(masters[0]) {
			t.Fatalf("master-1 exited:\n%s", proctest.LastLines(masters[0].Output(), 10))
		}
		return leads(0)
	})
	startMaster(1)

	// Sample the masters' and assistants' peak RSS while they live.
	stopSampling := make(chan struct{})
	var sampler sync.WaitGroup
	sampler.Go(func() {
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stopSampling:
				return
			case <-tick.C:
			}
			mu.Lock()
			for name, p := range map[string]*proc{"master-1": masters[0], "master-2": masters[1], "assistant-1": assts[0].p, "assistant-2": assts[1].p} {
				if p != nil && !exited(p) {
					peakRSS[name] = max(peakRSS[name], vmHWM(p.Cmd.Process.Pid))
				}
			}
			mu.Unlock()
		}
	})

	var faults []*fault
	inject := func(what string) *fault {
		f := &fault{what: what, at: time.Now()}
		faults = append(faults, f)
		t.Logf("t=%5.1fs  %s", time.Since(t0).Seconds(), what)
		return f
	}
	at := func(d time.Duration) {
		select {
		case <-time.After(time.Until(t0.Add(d))):
		case <-t.Context().Done():
		}
	}
	killAsst := func(i int, restartAfter time.Duration) {
		a := assts[i]
		inject(fmt.Sprintf("SIGKILL assistant-%d", i+1)).how = "assistant down:" + a.id
		a.p.Kill(t)
		<-time.After(restartAfter)
		mu.Lock()
		startAsst(a)
		mu.Unlock()
	}
	leader := func() int { // the one master whose gauge says it leads
		var i int
		waitFor(t, "exactly one master leading", 30*time.Second, func() bool {
			first, second := leads(0), leads(1)
			i = 0
			if second {
				i = 1
			}
			return first != second
		})
		return i
	}
	killLeader := func() {
		i := leader()
		inject(fmt.Sprintf("SIGKILL leading master-%d (standby takes over; killed one restarts as standby)", i+1)).how = "master leading"
		masters[i].Kill(t)
		<-time.After(2 * time.Second)
		startMaster(i)
	}

	// Graceful stops must exit 0 within their grace period (5 s) + 5 s.
	var exitErrs []string
	graceful := func(p *proc, name string) {
		start := time.Now()
		_ = p.Signal(syscall.SIGTERM)
		select {
		case <-p.Done():
			if err, _ := p.Exited(); err != nil {
				exitErrs = append(exitErrs, fmt.Sprintf("%s exited with %v after SIGTERM", name, err))
			}
			t.Logf("%s exited %s after SIGTERM", name, time.Since(start).Round(time.Millisecond))
		case <-time.After(10 * time.Second):
			exitErrs = append(exitErrs, fmt.Sprintf("%s still running 10 s after SIGTERM", name))
			p.Kill(t)
		}
	}
	termLeader := func() {
		i := leader()
		inject(fmt.Sprintf("SIGTERM leading master-%d (drains; standby takes over)", i+1)).how = "master leading"
		graceful(masters[i], fmt.Sprintf("master-%d", i+1))
		startMaster(i)
	}
	var drainFrom, drainTo time.Time
	var drainID string
	termAsst := func(i int) {
		a := assts[i]
		inject(fmt.Sprintf("SIGTERM assistant-%d (drains, then restarts)", i+1)).how = "assistant draining:" + a.id
		drainFrom, drainID = time.Now(), a.id
		graceful(a.p, fmt.Sprintf("assistant-%d", i+1))
		drainTo = time.Now()
		mu.Lock()
		startAsst(a)
		mu.Unlock()
	}

	at(3 * time.Second)
	killAsst(0, 2*time.Second)
	at(8 * time.Second)
	f := inject("SIGSTOP assistant-2 for 6 s")
	f.how = "assistant down:" + assts[1].id
	_ = assts[1].p.Cmd.Process.Signal(syscall.SIGSTOP)
	at(14 * time.Second)
	_ = assts[1].p.Cmd.Process.Signal(syscall.SIGCONT)
	at(18 * time.Second)
	inject("network to assistant-1 cut for 6 s").how = "assistant down:" + assts[0].id
	assts[0].proxy.Partition()
	at(24 * time.Second)
	assts[0].proxy.Heal()
	at(27 * time.Second)
	killLeader()
	// The graceful handover (drain up to the 5 s grace, then the standby
	// takes the lock) must finish before PostgreSQL stops at t=40 s: no
	// master can take over while the database is down.
	at(30 * time.Second)
	termLeader()
	at(36*time.Second + time.Duration(rng.IntN(2000))*time.Millisecond)
	killAsst(rng.IntN(2), time.Duration(1000+rng.IntN(1500))*time.Millisecond)
	at(40 * time.Second)
	pgDown := inject("PostgreSQL stopped for 30 s")
	pg.do(t, "stop")
	<-time.After(pgOutage)
	pg.do(t, "start")
	pgUp := time.Now()
	at(74*time.Second + time.Duration(rng.IntN(4000))*time.Millisecond)
	killAsst(rng.IntN(2), time.Duration(1000+rng.IntN(2000))*time.Millisecond)
	at(80 * time.Second)
	killLeader()
	at(86 * time.Second)
	termAsst(1)

	// Wait for the crawl to finish.
	conn := connect(t, pg.url)
	deadline := time.Now().Add(faultDeadline)
	for {
		var final, total int
		err := conn.QueryRow(t.Context(), `SELECT count(*) FILTER (WHERE state IN ('done','failed','dead')), count(*) FROM frontier WHERE crawl_id = 1`).Scan(&final, &total)
		if err != nil {
			conn.Close(t.Context())
			conn = connect(t, pg.url)
			continue
		}
		if final == total {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("crawl not final after the faults: %d of %d", final, total)
		}
		<-time.After(500 * time.Millisecond)
	}
	crawlDone := time.Since(t0)
	close(stopSampling)
	sampler.Wait()

	// Clean shutdown of everything: SIGTERM, exit 0 within grace + 5 s.
	for _, m := range masters {
		m.Stop(t, 10*time.Second)
	}
	for _, a := range assts {
		a.p.Stop(t, 10*time.Second)
	}

	// Detection times, from the masters' logs.
	var logs []logLine
	for _, p := range allProc {
		logs = append(logs, parseLogs(p.Output())...)
	}
	var rejected, released, returned int64
	for _, l := range logs {
		switch l.Msg {
		case "stale results rejected by lease token":
			rejected += num(l.Attr["rejected"])
		case "batch finished":
			released += num(l.Attr["released"])
		case "returned leases of a previous master to pending":
			returned += num(l.Attr["urls"])
		}
	}
	for _, f := range faults {
		msg, asst, _ := strings.Cut(f.how, ":")
		for _, l := range logs {
			if l.Time.Before(f.at) || (!f.detected.IsZero() && l.Time.After(f.detected)) {
				continue
			}
			isDown := msg == "assistant down" && l.Msg == "assistant down; releasing its leases" && l.Attr["assistant"] == asst
			isDraining := msg == "assistant draining" && l.Msg == "assistant draining; sending it nothing new" && l.Attr["assistant"] == asst
			if isDown || isDraining || (msg == "master leading" && l.Msg == msg) {
				f.detected = l.Time
			}
		}
	}
	// Recovery: the first result written after PostgreSQL was back.
	var recovered *time.Time
	if err := conn.QueryRow(t.Context(), `SELECT min(persisted_at) FROM results WHERE persisted_at > $1`, pgUp).Scan(&recovered); err != nil {
		t.Fatal(err)
	}
	if recovered != nil {
		pgDown.detected = *recovered
	}
	// Nothing is sent to a draining assistant: no batch dispatched to it
	// between the master seeing it drain and it exiting.
	var drainSeen time.Time
	for _, l := range logs {
		if l.Msg == "assistant draining; sending it nothing new" && l.Attr["assistant"] == drainID && !l.Time.Before(drainFrom) && (drainSeen.IsZero() || l.Time.Before(drainSeen)) {
			drainSeen = l.Time
		}
	}
	sentWhileDraining := 0
	for _, l := range logs {
		if !drainSeen.IsZero() && l.Msg == "batch dispatched" && l.Attr["assistant"] == drainID && l.Time.After(drainSeen) && l.Time.Before(drainTo) {
			sentWhileDraining++
		}
	}

	// The stored crawl.
	want := wantSim(t)
	type row struct {
		state, class string
		attempts     int
	}
	got := map[string]row{}
	rows, err := conn.Query(t.Context(), `SELECT url, state, coalesce(last_class, ''), attempts FROM frontier WHERE crawl_id = 1`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var u string
		var r row
		if err := rows.Scan(&u, &r.state, &r.class, &r.attempts); err != nil {
			t.Fatal(err)
		}
		got[u] = r
	}
	var results, distinct, leased int
	if err := conn.QueryRow(t.Context(), `SELECT (SELECT count(*) FROM results WHERE crawl_id = 1), (SELECT count(DISTINCT url_id) FROM results WHERE crawl_id = 1),
		(SELECT count(*) FROM frontier WHERE state = 'leased' OR lease_expires_at IS NOT NULL)`).Scan(&results, &distinct, &leased); err != nil {
		t.Fatal(err)
	}
	// The revisit crawl: every URL fetched (none lost), and no URL with
	// two results closer than its revisit interval (none doubled: each
	// revisit is one fetch under one lease, counted once).
	var rvURLs, rvFetched, rvResults, rvDoubled int
	if err := conn.QueryRow(t.Context(), `
WITH r AS (SELECT url_id, fetched_at, lag(fetched_at) OVER (PARTITION BY url_id ORDER BY fetched_at) AS prev
           FROM results WHERE crawl_id = 2)
SELECT (SELECT count(*) FROM frontier WHERE crawl_id = 2), (SELECT count(DISTINCT url_id) FROM r), (SELECT count(*) FROM r),
       (SELECT count(*) FROM r WHERE fetched_at - prev < $1::interval)`, revisitInterval*9/10).Scan(&rvURLs, &rvFetched, &rvResults, &rvDoubled); err != nil {
		t.Fatal(err)
	}
	lost := faultDomains - len(got)
	var mismatch, retried, deadWant, deadGot, deadDiff, transientDiff int
	var examples []string
	for e := range want.All() {
		r, ok := got[e.URL]
		if !ok || !(r.state == "done" || r.state == "failed" || r.state == "dead") {
			lost++
			continue
		}
		if e.State == websim.StateDead {
			deadWant++
		}
		if r.state == "dead" {
			deadGot++
		}
		if r.state == string(e.State) && r.class == string(e.Class) {
			continue
		}
		// A URL that failed transiently on every attempt may see a
		// different transient failure on its last one when a fault moved
		// its domain to the other assistant (a cold robots cache) under
		// the suite's load, e.g. robots_unavailable instead of timeout.
		// The state is what must hold; the fault-free crawl test checks
		// classes exactly.
		if r.state == "dead" && e.State == websim.StateDead && errclass.Parse(r.class).Transient() {
			transientDiff++
			continue
		}
		// A fault costs the URLs it interrupts an attempt; only those may
		// end differently from the ground truth.
		expected := 1
		switch {
		case e.State == websim.StateDead:
			expected = maxAttempts
		case want.Profile(e.Rank).Home == websim.HomeFlaky:
			expected = 2
		}
		if r.attempts > expected {
			retried++
			if (r.state == "dead") != (e.State == websim.StateDead) {
				deadDiff++
			}
			continue
		}
		mismatch++
		if len(examples) < 5 {
			examples = append(examples, fmt.Sprintf("%s: got %s/%s after %d attempts, want %s/%s", e.URL, r.state, r.class, r.attempts, e.State, e.Class))
		}
	}
	disallowed := countDisallowed(t, sim)

	// A URL whose home page always fails is dead only after max_attempts
	// real fetches of it, counted by websim (which wrote its counts when
	// countDisallowed stopped it), even when kills cut its batches off.
	requests := map[string]int64{} // "host path" -> requests
	rf, err := os.Open(filepath.Join(dir, "requests.csv"))
	if err != nil {
		t.Fatal(err)
	}
	counts, err := websim.ReadRequests(rf)
	rf.Close()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range counts {
		requests[c.Host+" "+c.Path] = c.Count
	}
	deadFetches := map[int64]int{} // always-failing dead URLs by requests of their home page
	var underFetched int
	var underExamples []string
	for e := range want.All() {
		p := want.Profile(e.Rank)
		if got[e.URL].state != "dead" || !alwaysFailingHome(p) {
			continue
		}
		n := requests[e.Domain+" /"]
		deadFetches[n]++
		if n < maxAttempts {
			underFetched++
			if len(underExamples) < 5 {
				underExamples = append(underExamples, fmt.Sprintf("%s (home %s, robots %s): dead after %d requests of /, %d attempts charged",
					e.URL, p.Home, p.Robots, n, got[e.URL].attempts))
			}
		}
	}
	var fetchDist []string
	for _, n := range slices.Sorted(maps.Keys(deadFetches)) {
		fetchDist = append(fetchDist, fmt.Sprintf("%d×%d", n, deadFetches[n]))
	}

	var report strings.Builder
	fmt.Fprintf(&report, "fault suite: %d domains, 2 assistants x %d slots, poll %s, seed %d (CRAWLMASTER_FAULT_SEED)\n",
		faultDomains, slotsPerAsst, pollInterval, seed)
	fmt.Fprintf(&report, "%-70s %s\n", "fault (at)", "detected after")
	for _, f := range faults {
		d := "not detected"
		if !f.detected.IsZero() {
			d = f.detected.Sub(f.at).Round(10 * time.Millisecond).String()
			if strings.HasPrefix(f.how, "assistant") {
				d += fmt.Sprintf(" (%.1f poll intervals)", float64(f.detected.Sub(f.at))/float64(pollInterval))
			}
		}
		if f == pgDown && !f.detected.IsZero() {
			d = fmt.Sprintf("results persisted again %s after restart", f.detected.Sub(pgUp).Round(10*time.Millisecond))
		}
		fmt.Fprintf(&report, "%-70s %s\n", fmt.Sprintf("%s (t=%.1fs)", f.what, f.at.Sub(t0).Seconds()), d)
	}
	fmt.Fprintf(&report, "crawl final after %s\n", crawlDone.Round(time.Second))
	fmt.Fprintf(&report, "URLs re-dispatched: %d released from broken or cancelled batches, %d leases returned by new leaders\n", released, returned)
	fmt.Fprintf(&report, "stale results rejected by fencing: %d\n", rejected)
	fmt.Fprintf(&report, "outcomes: %d match ground truth, %d differ after fault-induced retries (%d of those dead vs not), %d dead with another transient class, %d differ otherwise\n",
		faultDomains-lost-mismatch-retried-transientDiff, retried, deadDiff, transientDiff, mismatch)
	fmt.Fprintf(&report, "dead: %d (websim always-failing: %d)\n", deadGot, deadWant)
	fmt.Fprintf(&report, "always-failing home pages dead, by requests of / at websim: %s (requests×URLs); fewer than %d: %d\n",
		strings.Join(fetchDist, ", "), maxAttempts, underFetched)
	fmt.Fprintf(&report, "peak RSS: master-1 %.0f MiB, master-2 %.0f MiB, assistant-1 %.0f MiB, assistant-2 %.0f MiB\n",
		mib(peakRSS["master-1"]), mib(peakRSS["master-2"]), mib(peakRSS["assistant-1"]), mib(peakRSS["assistant-2"]))
	fmt.Fprintf(&report, "requests to robots-disallowed paths: %d\n", disallowed)
	fmt.Fprintf(&report, "graceful stops: %d problems; batches sent to the draining assistant: %d\n", len(exitErrs), sentWhileDraining)
	fmt.Fprintf(&report, "revisit crawl: %d URLs every %s, %d fetches; LOST: %d   DUPLICATED: %d (results closer than the interval)\n",
		rvURLs, revisitInterval, rvResults, rvURLs-rvFetched, rvDoubled)
	fmt.Fprintf(&report, "LOST: %d   DUPLICATED: %d   leases left: %d\n", lost+rvURLs-rvFetched, results-distinct+rvDoubled, leased)
	fmt.Print(report.String())
	_ = os.WriteFile("../../.data/faults-report.txt", []byte(report.String()), 0o644)
	// Keep every process's log for a post-mortem.
	logDir := "../../.data/faults-logs"
	_ = os.RemoveAll(logDir)
	if os.MkdirAll(logDir, 0o755) == nil {
		for i, p := range append(allProc, assts[0].p, assts[1].p, sim) {
			_ = os.WriteFile(filepath.Join(logDir, fmt.Sprintf("%02d-%s.log", i, p.Name)), []byte(p.Output()), 0o644)
		}
		fmt.Printf("process logs: .data/faults-logs/\n")
	}

	if lost != 0 || results != distinct || results != faultDomains || leased != 0 {
		t.Errorf("lost %d, results %d for %d URLs, leases left %d: want 0, %d, %d, 0", lost, results, distinct, leased, faultDomains, faultDomains)
	}
	if rvURLs != revisitDomains || rvFetched != rvURLs || rvDoubled != 0 || rvResults < 2*rvURLs {
		t.Errorf("revisit crawl: %d URLs, %d fetched, %d results, %d closer than %s: want %d, all, >= 2 each, 0",
			rvURLs, rvFetched, rvResults, rvDoubled, revisitInterval, revisitDomains)
	}
	if mismatch != 0 {
		t.Errorf("%d URLs differ from the ground truth without a fault-induced retry, e.g.\n%s", mismatch, strings.Join(examples, "\n"))
	}
	if deadGot-deadDiff > deadWant || deadWant > deadGot+deadDiff {
		t.Errorf("dead set: %d, websim's always-failing set: %d, explained by faults: %d", deadGot, deadWant, deadDiff)
	}
	for _, f := range faults {
		if f.detected.IsZero() {
			t.Errorf("%s: not detected", f.what)
			continue
		}
		// Detection within three poll intervals, plus the poll timeout and
		// scheduling slack on a loaded 2-core machine.
		if (strings.HasPrefix(f.how, "assistant down") || strings.HasPrefix(f.how, "assistant draining")) && f.detected.Sub(f.at) > 3*pollInterval+time.Second {
			t.Errorf("%s: detected after %s, want within about three poll intervals", f.what, f.detected.Sub(f.at))
		}
		if f.how == "master leading" && f.detected.Sub(f.at) > 15*time.Second {
			t.Errorf("%s: standby led only after %s", f.what, f.detected.Sub(f.at))
		}
	}
	for _, e := range exitErrs {
		t.Error(e)
	}
	if drainSeen.IsZero() || sentWhileDraining != 0 {
		t.Errorf("draining assistant: master saw it drain at %v, sent it %d batches meanwhile", drainSeen, sentWhileDraining)
	}
	if disallowed != 0 {
		t.Errorf("%d requests to robots-disallowed paths", disallowed)
	}
	if underFetched != 0 {
		t.Errorf("%d URLs with an always-failing home page are dead after fewer than %d requests of it (max_attempts), e.g.\n%s",
			underFetched, maxAttempts, strings.Join(underExamples, "\n"))
	}
	if peakRSS["master-1"] > 150<<20 || peakRSS["master-2"] > 150<<20 {
		t.Errorf("master peak RSS over 150 MiB: %v", peakRSS)
	}
}

// alwaysFailingHome reports whether p's home page fails transiently on
// every request (server_error, unavailable, too_many_requests, hang) and
// its robots.txt lets it be fetched: such a URL ends dead, after
// max_attempts requests of "/". A robots.txt that is unavailable or
// disallows everything decides the outcome without a request of "/";
// unknown and redirecting hosts have another home kind.
func alwaysFailingHome(p websim.Profile) bool {
	switch p.Home {
	case websim.HomeServerError, websim.HomeUnavailable, websim.HomeTooManyRequests, websim.HomeHang:
	default:
		return false
	}
	switch p.Robots {
	case websim.RobotsServerError, websim.RobotsHang, websim.RobotsDisallowAll:
		return false
	}
	return true
}

func portOf(addr string) string {
	_, p, _ := strings.Cut(addr, ":")
	return p
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

func vmHWM(pid int) int64 { return procstat.PeakRSS(pid) }

func connect(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		conn, err := pgx.Connect(ctx, url)
		cancel()
		if err == nil {
			t.Cleanup(func() { conn.Close(context.Background()) })
			return conn
		}
		if time.Now().After(deadline) {
			t.Fatalf("connect to %s: %v", url, err)
		}
		<-time.After(200 * time.Millisecond)
	}
}

// waitFor waits until cond holds, checking every 100 ms, or fails.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	testwait.Until(t, what, timeout, 100*time.Millisecond, cond)
}

// metricValue reads an unlabelled metric from a daemon's /metrics.
func metricValue(addr, name string) (float64, error) {
	c := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get("http://" + addr + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(body)) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), name+" "); ok {
			return strconv.ParseFloat(v, 64)
		}
	}
	return 0, fmt.Errorf("%s: no %s", addr, name)
}

// countDisallowed stops websim and returns the number of requests it
// served to paths robots.txt disallows, from its shutdown log line.
func countDisallowed(t *testing.T, sim *proc) int64 {
	t.Helper()
	sim.Stop(t, 10*time.Second)
	m := regexp.MustCompile(`disallowed_hits=(\d+)`).FindStringSubmatch(sim.Output())
	if m == nil {
		t.Fatalf("websim's shutdown log has no disallowed_hits count:\n%s", proctest.LastLines(sim.Output(), 5))
	}
	n, _ := strconv.ParseInt(m[1], 10, 64)
	return n
}
