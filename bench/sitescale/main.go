package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/crawlmaster/crawlmaster/bench/promscrape"
	"github.com/crawlmaster/crawlmaster/internal/procstat"
)

type options struct {
	dbURL          string
	bin            string
	domains        int
	sitePages      int
	depth          int
	budget         int
	workers        int
	minPages       int64
	minDiscovered  int64
	interval       time.Duration
	maxDuration    time.Duration
	out            string
	keepDB         bool
	profileAfter   float64
	profileSeconds int
}

func main() {
	var o options
	flag.StringVar(&o.dbURL, "database", os.Getenv("CRAWLMASTER_TEST_DATABASE_URL"), "PostgreSQL URL of the cluster (a database of the run's own is created in it)")
	flag.StringVar(&o.bin, "bin", "bin", "directory of the master, assistant and websim binaries")
	flag.IntVar(&o.domains, "domains", 25000, "websim domains (about 4 in 5 are sites)")
	flag.IntVar(&o.sitePages, "site-pages", 5000, "regular pages of every site")
	flag.IntVar(&o.depth, "depth", 8, "the crawl's --max-depth")
	flag.IntVar(&o.budget, "site-budget", 10000, "the crawl's --site-budget")
	flag.IntVar(&o.workers, "workers", 100, "slots of each of the two assistants")
	flag.Int64Var(&o.minPages, "min-pages", 1_000_000, "stop once this many pages are fetched (final results) ...")
	flag.Int64Var(&o.minDiscovered, "min-discovered", 10_000_000, "... and this many URLs discovered into the frontier (seeds not counted)")
	flag.DurationVar(&o.interval, "interval", 5*time.Second, "sampling interval")
	flag.DurationVar(&o.maxDuration, "max-duration", 60*time.Minute, "give up (and report what was reached) after this long")
	flag.StringVar(&o.out, "out", "", "markdown file to write the figures into (a section between sitescale markers)")
	flag.BoolVar(&o.keepDB, "keep-db", false, "keep the run's database")
	flag.Float64Var(&o.profileAfter, "profile-after", 0.4, "take a CPU profile of the master once this fraction of --min-pages is fetched (0: none)")
	flag.IntVar(&o.profileSeconds, "profile-seconds", 60, "length of that CPU profile")
	flag.Parse()
	if o.dbURL == "" {
		fmt.Fprintln(os.Stderr, "sitescale: --database or $CRAWLMASTER_TEST_DATABASE_URL is required")
		os.Exit(2)
	}
	// SIGINT or SIGTERM ends the crawl early: the figures reached so far
	// are reported (as not meeting the thresholds) and everything stopped.
	interrupt := make(chan os.Signal, 1)
	signal.Notify(interrupt, os.Interrupt, syscall.SIGTERM)
	if err := run(context.Background(), o, interrupt); err != nil {
		fmt.Fprintln(os.Stderr, "sitescale:", err)
		os.Exit(1)
	}
}

// sample is one observation of the run.
type sample struct {
	t          time.Duration // since the master's start
	pages      int64         // final results
	discovered int64         // links admitted
}

type proc struct {
	name string
	cmd  *exec.Cmd
	hwm  int64 // VmHWM read just before it was stopped
	cpu  time.Duration
}

func run(ctx context.Context, o options, interrupt <-chan os.Signal) (err error) {
	dir, err := os.MkdirTemp("", "crawlmaster-sitescale")
	if err != nil {
		return err
	}
	fmt.Printf("sitescale: run directory %s (daemon logs, profile)\n", dir)

	// The run's own database.
	dbName := fmt.Sprintf("sitescale_%d", time.Now().Unix())
	admin, err := pgx.Connect(ctx, o.dbURL)
	if err != nil {
		return err
	}
	defer admin.Close(context.Background())
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+dbName); err != nil {
		return err
	}
	if !o.keepDB {
		defer dropDatabase(admin, dbName)
	} else {
		defer fmt.Printf("sitescale: kept database %s\n", dbName)
	}
	dbURL, err := withDatabase(o.dbURL, dbName)
	if err != nil {
		return err
	}

	var procs []*proc
	defer func() {
		for i := len(procs) - 1; i >= 0; i-- {
			stopProc(procs[i])
		}
	}()
	start := func(name string, env []string, args ...string) (*proc, error) {
		c := exec.Command(filepath.Join(o.bin, args[0]), args[1:]...)
		c.Env = env
		f, err := os.Create(filepath.Join(dir, name+".log"))
		if err != nil {
			return nil, err
		}
		defer f.Close()
		c.Stdout, c.Stderr = f, f
		if err := c.Start(); err != nil {
			return nil, err
		}
		p := &proc{name: name, cmd: c}
		procs = append(procs, p)
		return p, nil
	}

	// websim: every eligible domain a site of exactly sitePages pages, no
	// feature pages, none of the hosts that stall a CPU-bound crawl.
	simDir := filepath.Join(dir, "websim")
	sim, err := start("websim", os.Environ(), "websim", "--domains", strconv.Itoa(o.domains), "--seed", "1",
		"--listen", "127.0.0.1:0", "--out", simDir, "--log-level", "warn",
		"--sites", "all", "--site-pages", fmt.Sprintf("mean=%d,sigma=0,max=%d", o.sitePages, o.sitePages),
		"--site-features", "none",
		"--fraction", "flaky=0", "--hang-fraction", "0", "--fraction", "robots_slow=0", "--fraction", "robots_hang=0",
		"--fraction", "robots_server_error=0", "--fraction", "robots_crawl_delay=0")
	if err != nil {
		return err
	}
	simAddr, err := waitFile(ctx, filepath.Join(simDir, "addr"), 60*time.Second)
	if err != nil {
		return fmt.Errorf("websim: %w", err)
	}

	// rpc.yaml, certificates, the crawl and its seeds.
	ports, err := freePorts(5)
	if err != nil {
		return err
	}
	cfg := fmt.Sprintf(`rpc:
  manager: {address: 127.0.0.1, port: %d}
  assistant:
    - {address: 127.0.0.1, port: %d, workers: %d, metrics_port: %d}
    - {address: 127.0.0.1, port: %d, workers: %d, metrics_port: %d}
database: {url: "%s"}
dispatch: {shutdown_grace: 2s}
fetch:
  timeout: 5s
  default_delay: 0s                   # CPU-bound: no politeness delay
  resolve: ["*.test=%s"]
  allowed_networks: ["127.0.0.0/8"]   # websim is on loopback, which the fetcher refuses by default
log: {level: warn}
metrics: {pprof: true}
`, ports[0], ports[1], o.workers, ports[3], ports[2], o.workers, ports[4], dbURL, simAddr)
	cfgPath := filepath.Join(dir, "rpc.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		return err
	}
	env := append(os.Environ(), "DATABASE_URL="+dbURL)
	master := filepath.Join(o.bin, "master")
	for _, args := range [][]string{
		{"certs", "--config", cfgPath},
		{"crawl", "create", "scale", "--config", cfgPath, "--scope", "domain",
			"--max-depth", strconv.Itoa(o.depth), "--site-budget", strconv.Itoa(o.budget)},
		{"import-tranco", "--config", cfgPath, "--scheme", "http", "--crawl", "scale", filepath.Join(simDir, "tranco.csv")},
	} {
		c := exec.CommandContext(ctx, master, args...)
		c.Env = env
		if out, err := c.CombinedOutput(); err != nil {
			return fmt.Errorf("master %s: %v: %s", strings.Join(args[:2], " "), err, out)
		}
	}
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	var seeds int64
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM frontier`).Scan(&seeds); err != nil {
		return err
	}
	fmt.Printf("sitescale: %d domains (sites of %d pages), %d seeds; crawl scope domain, depth %d, site budget %d; stop at >= %d pages and >= %d discovered\n",
		o.domains, o.sitePages, seeds, o.depth, o.budget, o.minPages, o.minDiscovered)

	// The daemons.
	a1, err := start("assistant-1", env, "assistant", "run", "--config", cfgPath, "--listen", fmt.Sprintf("127.0.0.1:%d", ports[1]))
	if err != nil {
		return err
	}
	a2, err := start("assistant-2", env, "assistant", "run", "--config", cfgPath, "--listen", fmt.Sprintf("127.0.0.1:%d", ports[2]))
	if err != nil {
		return err
	}
	for _, p := range ports[1:3] {
		if err := waitPort(ctx, p); err != nil {
			return err
		}
	}
	pgCPU0 := postgresCPU()
	t0 := time.Now()
	m, err := start("master", env, "master", "run", "--config", cfgPath)
	if err != nil {
		return err
	}

	var samples []sample
	var pgHWM, pgAnonPeak int64
	profileDone := make(chan string, 1)
	profiling := false
	tick := time.NewTicker(o.interval)
	defer tick.Stop()
	last := sample{}
	reached := false
sampling:
	for !reached {
		select {
		case sig := <-interrupt:
			fmt.Printf("sitescale: %s: stopping early and reporting what was reached\n", sig)
			break sampling
		case <-tick.C:
		}
		for _, p := range []*proc{m, a1, a2, sim} {
			if p.cmd.ProcessState != nil || !alive(p.cmd.Process.Pid) {
				return fmt.Errorf("%s exited; see %s", p.name, filepath.Join(dir, p.name+".log"))
			}
		}
		lines := scrape(ports[0])
		if lines == nil {
			continue
		}
		s := sample{t: time.Since(t0)}
		for _, st := range []string{"done", "failed", "dead"} {
			s.pages += int64(metric(lines, "crawlmaster_persist_results_total", "outcome", st))
		}
		s.discovered = int64(metric(lines, "crawlmaster_persist_links_total", "result", "new"))
		buffered := gauge(lines, "crawlmaster_persist_buffered_results")
		samples = append(samples, s)
		h, anon := postgresMem(dbName)
		pgHWM, pgAnonPeak = max(pgHWM, h), max(pgAnonPeak, anon)
		dt := (s.t - last.t).Seconds()
		fmt.Printf("%7.0fs  pages %9d (%6.0f/s)  discovered %10d (%7.0f/s)  RSS MiB master %3d, assistants %3d / %3d, postgres private sum %4d; write buffer %5.0f results\n",
			s.t.Seconds(), s.pages, float64(s.pages-last.pages)/dt, s.discovered, float64(s.discovered-last.discovered)/dt,
			mib(rss(m)), mib(rss(a1)), mib(rss(a2)), mib(anon), buffered)
		last = s
		if o.profileAfter > 0 && !profiling && float64(s.pages) >= o.profileAfter*float64(o.minPages) {
			profiling = true
			go func() {
				path := filepath.Join(dir, "master.pprof")
				if err := fetchProfile(ports[0], o.profileSeconds, path); err != nil {
					fmt.Fprintln(os.Stderr, "sitescale: master profile:", err)
					path = ""
				}
				profileDone <- path
			}()
		}
		reached = s.pages >= o.minPages && s.discovered >= o.minDiscovered
		if !reached && s.t > o.maxDuration {
			fmt.Printf("sitescale: --max-duration %s reached before the thresholds; reporting what was reached\n", o.maxDuration)
			break sampling
		}
	}
	if len(samples) == 0 {
		return errors.New("stopped before the first sample")
	}
	wall := last.t
	profilePath := ""
	if profiling {
		select {
		case profilePath = <-profileDone:
		case <-time.After(time.Duration(o.profileSeconds+30) * time.Second):
		}
	}
	// The master's heap as the run ends (where its memory is).
	heapPath := filepath.Join(dir, "master.heap.pprof")
	if err := fetchPprof(ports[0], "heap", 10*time.Second, heapPath); err != nil {
		fmt.Fprintln(os.Stderr, "sitescale: master heap profile:", err)
		heapPath = ""
	}
	// Peaks and CPU just before the daemons stop.
	h, anon := postgresMem(dbName)
	pgHWM, pgAnonPeak = max(pgHWM, h), max(pgAnonPeak, anon)
	pgCPU := postgresCPU() - pgCPU0
	for _, p := range []*proc{m, a1, a2, sim} {
		p.hwm = procstat.PeakRSS(p.cmd.Process.Pid)
		p.cpu = procstat.CPU(p.cmd.Process.Pid, false)
	}
	fmt.Println("sitescale: stopping the daemons")
	for _, p := range []*proc{m, a1, a2} {
		stopProc(p)
	}

	// The database's view.
	var st dbStats
	if err := st.read(ctx, conn); err != nil {
		return err
	}
	var sharedBuffers string
	_ = conn.QueryRow(ctx, `SHOW shared_buffers`).Scan(&sharedBuffers)

	r := report{o: o, seeds: seeds, wall: wall, samples: samples, db: st, procs: []*proc{m, a1, a2, sim},
		pgCPU: pgCPU, pgHWM: pgHWM, pgAnonPeak: pgAnonPeak, sharedBuffers: sharedBuffers, reached: reached}
	if profilePath != "" {
		r.profileTop = pprofTop(o.bin, profilePath)
		r.profileNote = fmt.Sprintf("%d s CPU profile of the master from %.0f%% of --min-pages on", o.profileSeconds, o.profileAfter*100)
	}
	if heapPath != "" {
		r.heapTop = pprofTop(o.bin, heapPath, "-sample_index=inuse_space")
	}
	text := r.markdown()
	fmt.Println()
	fmt.Print(text)
	if o.out != "" {
		if err := writeSection(o.out, text); err != nil {
			return err
		}
		fmt.Printf("sitescale: wrote %s\n", o.out)
	}
	if !reached {
		return errors.New("the thresholds were not reached")
	}
	return nil
}

// dropDatabase drops the run's database once the daemons have stopped.
// WITH (FORCE) alone can fail: a non-superuser may not terminate an
// autovacuum worker still busy on the frontier, whereas a plain DROP
// DATABASE makes autovacuum workers exit; so plain first, a few times.
func dropDatabase(admin *pgx.Conn, name string) {
	ctx := context.Background()
	var err error
	for range 5 {
		if _, err = admin.Exec(ctx, "DROP DATABASE IF EXISTS "+name); err == nil {
			return
		}
		time.Sleep(2 * time.Second)
	}
	if _, err2 := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err2 != nil {
		fmt.Fprintf(os.Stderr, "sitescale: could not drop database %s (drop it by hand): %v; %v\n", name, err, err2)
	}
}

type dbStats struct {
	frontier, links, results, done int64
	frontierBytes, heapBytes       int64
	indexBytes, dbBytes            int64
	resultsBytes, bodiesBytes      int64
	byDepth                        string
}

func (s *dbStats) read(ctx context.Context, c *pgx.Conn) error {
	if err := c.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE depth > 0) FROM frontier`).Scan(&s.frontier, &s.links); err != nil {
		return err
	}
	if err := c.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE state = 'done') FROM results`).Scan(&s.results, &s.done); err != nil {
		return err
	}
	if err := c.QueryRow(ctx, `SELECT pg_total_relation_size('frontier'), pg_relation_size('frontier'), pg_indexes_size('frontier'),
	    pg_database_size(current_database()), pg_total_relation_size('results'), pg_total_relation_size('bodies')`).
		Scan(&s.frontierBytes, &s.heapBytes, &s.indexBytes, &s.dbBytes, &s.resultsBytes, &s.bodiesBytes); err != nil {
		return err
	}
	rows, err := c.Query(ctx, `SELECT depth, count(*), count(*) FILTER (WHERE state IN ('done','failed','dead')) FROM frontier GROUP BY depth ORDER BY depth`)
	if err != nil {
		return err
	}
	var parts []string
	for rows.Next() {
		var d int
		var n, f int64
		if err := rows.Scan(&d, &n, &f); err != nil {
			return err
		}
		parts = append(parts, fmt.Sprintf("depth %d: %s (%s final)", d, thousands(n), thousands(f)))
	}
	s.byDepth = strings.Join(parts, "; ")
	return rows.Err()
}

type report struct {
	o                 options
	seeds             int64
	wall              time.Duration
	samples           []sample
	db                dbStats
	procs             []*proc // master, assistant-1, assistant-2, websim
	pgCPU             time.Duration
	pgHWM, pgAnonPeak int64
	sharedBuffers     string
	reached           bool
	profileTop        string
	profileNote       string
	heapTop           string
}

// at interpolates the counters at time t between samples.
func at(ss []sample, t time.Duration) (pages, disc float64) {
	prev := sample{}
	for _, s := range ss {
		if s.t >= t {
			f := 0.0
			if s.t > prev.t {
				f = float64(t-prev.t) / float64(s.t-prev.t)
			}
			return float64(prev.pages) + f*float64(s.pages-prev.pages), float64(prev.discovered) + f*float64(s.discovered-prev.discovered)
		}
		prev = s
	}
	return float64(prev.pages), float64(prev.discovered)
}

func (r *report) markdown() string {
	var b strings.Builder
	o := r.o
	last := r.samples[len(r.samples)-1]
	fmt.Fprintf(&b, "<!-- sitescale begin: generated by `make bench-scale` (bench/sitescale) on %s; replaced by the next run -->\n", time.Now().Format("2006-01-02 15:04:05"))
	fmt.Fprintf(&b, "## Sites run (issue 10)\n\n")
	fmt.Fprintf(&b, "Machine: %d cores, Go %s; websim, PostgreSQL, the master and two assistants (%d slots each, mutual TLS) share it.\n\n", runtime.NumCPU(), runtime.Version(), o.workers)
	fmt.Fprintf(&b, "websim: %s domains, every eligible one a site of %s regular pages (no feature pages; each page links its 8 tree children, 3 drawn pages and home); "+
		"crawl: scope domain, max depth %d, site budget %s, default guards, no delay; %s seeds imported. "+
		"Stopped at >= %s pages fetched and >= %s URLs discovered.\n\n",
		thousands(int64(o.domains)), thousands(int64(o.sitePages)), o.depth, thousands(int64(o.budget)), thousands(r.seeds), thousands(o.minPages), thousands(o.minDiscovered))
	fmt.Fprintf(&b, "Result: %s pages fetched (final results; %s of them 200 OK) and %s URLs discovered (links admitted; the frontier holds %s rows with the seeds) in %s: %.0f pages/s, %.0f discovered URLs/s.\n\n",
		thousands(r.db.results), thousands(r.db.done), thousands(r.db.links), thousands(r.db.frontier), r.wall.Round(time.Second),
		float64(last.pages)/r.wall.Seconds(), float64(last.discovered)/r.wall.Seconds())
	fmt.Fprintf(&b, "| decile | wall | pages/s | discovered URLs/s | discovered per page | pages at end | discovered at end |\n|---:|---|---:|---:|---:|---:|---:|\n")
	var first, lastP, firstD, lastD float64
	for i := range 10 {
		t1, t2 := r.wall*time.Duration(i)/10, r.wall*time.Duration(i+1)/10
		p1, d1 := at(r.samples, t1)
		p2, d2 := at(r.samples, t2)
		sec := (t2 - t1).Seconds()
		ps, ds := (p2-p1)/sec, (d2-d1)/sec
		if i == 0 {
			first, firstD = ps, ds
		}
		lastP, lastD = ps, ds
		per := 0.0
		if p2 > p1 {
			per = (d2 - d1) / (p2 - p1)
		}
		fmt.Fprintf(&b, "| %d | %s–%s | %.0f | %.0f | %.1f | %s | %s |\n", i+1, t1.Round(time.Second), t2.Round(time.Second), ps, ds, per, thousands(int64(p2)), thousands(int64(d2)))
	}
	verdict := func(ok bool) string {
		if ok {
			return "met"
		}
		return "NOT met"
	}
	fmt.Fprintf(&b, "\nLast decile / first: pages/s %.2f, discovered URLs/s %.2f (target >= 0.9: %s for pages/s, %s for discovered/s).\n\n",
		lastP/first, lastD/firstD, verdict(lastP >= 0.9*first), verdict(lastD >= 0.9*firstD))
	m, a1, a2, sim := r.procs[0], r.procs[1], r.procs[2], r.procs[3]
	pages := float64(last.pages)
	us := func(d time.Duration) float64 { return float64(d.Microseconds()) / pages }
	fmt.Fprintf(&b, "| process | peak RSS (VmHWM) | target | CPU µs per page |\n|---|---:|---|---:|\n")
	fmt.Fprintf(&b, "| master | %d MiB | < 150 MiB: %s | %.0f |\n", mib(m.hwm), verdict(m.hwm < 150<<20), us(m.cpu))
	fmt.Fprintf(&b, "| assistant-1 | %d MiB | < 100 MiB: %s | %.0f |\n", mib(a1.hwm), verdict(a1.hwm < 100<<20), us(a1.cpu))
	fmt.Fprintf(&b, "| assistant-2 | %d MiB | < 100 MiB: %s | %.0f |\n", mib(a2.hwm), verdict(a2.hwm < 100<<20), us(a2.cpu))
	fmt.Fprintf(&b, "| PostgreSQL, largest client backend of the run's database | %d MiB | (none) | %.0f (all postgres processes) |\n", mib(r.pgHWM), us(r.pgCPU))
	fmt.Fprintf(&b, "| PostgreSQL, peak of the sum of private (RssAnon) memory of all postgres processes | %d MiB (+ shared_buffers %s, counted once) | (none) | |\n", mib(r.pgAnonPeak), r.sharedBuffers)
	fmt.Fprintf(&b, "| websim | %d MiB | | %.0f |\n\n", mib(sim.hwm), us(sim.cpu))
	perURL := func(n int64) float64 { return float64(n) / float64(max(r.db.frontier, 1)) }
	fmt.Fprintf(&b, "Database per frontier URL (%s rows): frontier table with TOAST and indexes %.0f bytes (heap %.0f, indexes %.0f); whole database %.0f bytes (%.2f GiB; results %.2f GiB and bodies %.2f GiB of it, for %s results).\n\n",
		thousands(r.db.frontier), perURL(r.db.frontierBytes), perURL(r.db.heapBytes), perURL(r.db.indexBytes), perURL(r.db.dbBytes),
		gib(r.db.dbBytes), gib(r.db.resultsBytes), gib(r.db.bodiesBytes), thousands(r.db.results))
	fmt.Fprintf(&b, "Frontier by depth: %s.\n\n", r.db.byDepth)
	if r.profileTop != "" {
		fmt.Fprintf(&b, "Master CPU profile (%s; `go tool pprof -top`, flat):\n\n```\n%s```\n\n", r.profileNote, r.profileTop)
	}
	if r.heapTop != "" {
		fmt.Fprintf(&b, "Master heap as the run ended (`go tool pprof -top -sample_index=inuse_space`):\n\n```\n%s```\n\n", r.heapTop)
	}
	if !r.reached {
		fmt.Fprintf(&b, "**The run was stopped (--max-duration or a signal) before both thresholds were reached.**\n\n")
	}
	b.WriteString("<!-- sitescale end -->\n")
	return b.String()
}

// writeSection replaces the sitescale section of path, or appends one.
func writeSection(path, text string) error {
	prev, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	s := string(prev)
	const begin, end = "<!-- sitescale begin", "<!-- sitescale end -->\n"
	if i := strings.Index(s, begin); i >= 0 {
		if j := strings.Index(s[i:], end); j >= 0 {
			return os.WriteFile(path, []byte(s[:i]+text+s[i+j+len(end):]), 0o644)
		}
	}
	if s != "" && !strings.HasSuffix(s, "\n\n") {
		if !strings.HasSuffix(s, "\n") {
			s += "\n"
		}
		s += "\n"
	}
	return os.WriteFile(path, []byte(s+text), 0o644)
}

func pprofTop(bin, path string, flags ...string) string {
	args := append(append([]string{"tool", "pprof", "-top", "-nodecount=12"}, flags...), filepath.Join(bin, "master"), path)
	out, err := exec.Command("go", args...).Output()
	if err != nil {
		return ""
	}
	// Keep the summary lines and the table, not pprof's header of file names.
	var keep []string
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, "File:") || strings.HasPrefix(l, "Build ID:") || strings.HasPrefix(l, "Type:") || strings.HasPrefix(l, "Time:") || l == "" {
			continue
		}
		keep = append(keep, l)
	}
	return strings.Join(keep, "\n") + "\n"
}

func fetchProfile(port, seconds int, path string) error {
	return fetchPprof(port, fmt.Sprintf("profile?seconds=%d", seconds), time.Duration(seconds+30)*time.Second, path)
}

func fetchPprof(port int, what string, timeout time.Duration, path string) error {
	c := http.Client{Timeout: timeout}
	resp, err := c.Get(fmt.Sprintf("http://127.0.0.1:%d/debug/pprof/%s", port, what))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("status %s", resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := f.ReadFrom(resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func stopProc(p *proc) {
	if p.cmd.ProcessState != nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		_ = p.cmd.Process.Kill()
		<-done
	}
}

func alive(pid int) bool { return syscall.Kill(pid, 0) == nil && !zombie(pid) }

func zombie(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	s := string(b)
	i := strings.LastIndex(s, ") ")
	return i < 0 || strings.HasPrefix(s[i+2:], "Z")
}

// statusKB reads a "Name:   N kB" field of /proc/pid/status.
func statusKB(pid int, field string) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(l, field+":"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

func rss(p *proc) int64 { return statusKB(p.cmd.Process.Pid, "VmRSS") }

// postgresMem returns the largest VmHWM of the client backends of database
// db (their process titles name it) and the sum of RssAnon over every
// postgres process.
func postgresMem(db string) (hwm, anon int64) {
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
		if err != nil || strings.TrimSpace(string(comm)) != "postgres" {
			continue
		}
		anon += statusKB(pid, "RssAnon")
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if strings.Contains(string(cmdline), " "+db+" ") {
			hwm = max(hwm, statusKB(pid, "VmHWM"))
		}
	}
	return hwm, anon
}

func postgresCPU() time.Duration {
	var total time.Duration
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid)); err == nil && strings.TrimSpace(string(comm)) == "postgres" {
			total += procstat.CPU(pid, false)
		}
	}
	return total
}

// scrape reads a daemon's /metrics (promscrape.Lines).
func scrape(port int) []string { return promscrape.Lines(port) }

// metric returns the value of name{label="value"} (the only label).
func metric(lines []string, name, label, value string) float64 {
	prefix := name + "{" + label + `="` + value + `"} `
	for _, l := range lines {
		if v, ok := strings.CutPrefix(l, prefix); ok {
			f, _ := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return f
		}
	}
	return 0
}

// gauge returns the value of an unlabelled metric.
func gauge(lines []string, name string) float64 {
	for _, l := range lines {
		if v, ok := strings.CutPrefix(l, name+" "); ok {
			f, _ := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return f
		}
	}
	return 0
}

func withDatabase(u, db string) (string, error) {
	p, err := url.Parse(u)
	if err != nil {
		return "", err
	}
	p.Path = "/" + db
	return p.String(), nil
}

func waitFile(ctx context.Context, path string, d time.Duration) (string, error) {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(path); err == nil && len(strings.TrimSpace(string(b))) > 0 {
			return strings.TrimSpace(string(b)), nil
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return "", fmt.Errorf("%s did not appear within %s", path, d)
}

func waitPort(ctx context.Context, port int) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return fmt.Errorf("port %d not listening after 30s", port)
}

// freePorts picks n distinct free ports below 32768: Linux hands out
// 32768-60999 to outgoing connections, of which a crawl makes many.
func freePorts(n int) ([]int, error) {
	var ports []int
	seen := map[int]bool{}
	for tries := 0; len(ports) < n && tries < 1000; tries++ {
		p := 20000 + rand.IntN(12000)
		if seen[p] {
			continue
		}
		seen[p] = true
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		if err != nil {
			continue
		}
		l.Close()
		ports = append(ports, p)
	}
	if len(ports) < n {
		return nil, errors.New("no free ports")
	}
	return ports, nil
}

func mib(b int64) int64 { return b >> 20 }

func gib(b int64) float64 { return float64(b) / (1 << 30) }

func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
