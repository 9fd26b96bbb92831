// Command harness runs crawlmaster's benchmark: the same websim domain list
// crawled by the raw-limit fetcher, crawlmaster (PostgreSQL + master + two
// assistants as processes, results persisted), Colly and Scrapy, one after
// another, with robots.txt obeyed, the same total concurrency and the same
// timeouts. Four workloads (--workloads): cpu and latency fetch each
// listed home page; sites (CPU-bound) and polite (a delay per host, the
// latency-bound distribution) crawl websim sites, following links in
// domain scope to --depth, against websim's crawl truth and its per-host
// request timeline. It prints one table per workload and writes them,
// with the machine, to BENCHMARKS.md. Run it through `make bench`
// (scripts/bench.sh), which builds and installs everything it needs.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/crawlmaster/crawlmaster/bench/promscrape"
	"github.com/crawlmaster/crawlmaster/internal/procstat"
	"github.com/crawlmaster/crawlmaster/internal/websim"
)

type options struct {
	bin, out, dbURL, contenders string
	profile                     string // directory for CPU profiles of crawlmaster's processes; empty: none
	domains, concurrency        int
	daemonProcs                 int // GOMAXPROCS of each crawlmaster daemon; 0: Go's default
	timeout                     time.Duration
	workloads                   string
	// Site workloads: list sizes (websim domains; about 4 in 5 are sites),
	// regular pages per site, link depth, and the polite workload's delay.
	siteDomains, sitePages     int
	politeDomains, politePages int
	depth                      int
	politeDelay                time.Duration
}

// result is one contender's run of one workload.
type result struct {
	Tool        string
	PagesOK     int64
	Responses   int64
	Errors      map[string]int64
	Wall        time.Duration
	CPU         time.Duration // all processes of the contender
	CPUSplit    map[string]time.Duration
	PeakRSS     map[string]int64  // bytes, per process
	Extra       map[string]string // crawlmaster: utilisation, refill latency
	Utilisation float64
	RefillP50   time.Duration
	RefillP99   time.Duration
	ClaimP50    time.Duration // claim statement latency over the whole crawl
	ClaimP99    time.Duration
	// crawlmaster timeline from the master's start: first fetch started,
	// last fetch started, last result persisted.
	FirstFetch, LastFetch, LastPersist time.Duration
	PerAssistant                       []string // URLs and last fetch start per assistant
	Progress                           []string // table rows every 10 s: final URLs, pages/s, peak RSS so far
	Failed                             string
	// Site workloads.
	Start, End time.Time   // wall-clock window of the run, to find its requests in websim's timeline
	Web        *webStats   // websim's view of the run
	Truth      *truthCheck // crawlmaster: its frontier against websim's crawl truth
	Links      string      // crawlmaster: what became of the links it read
}

func (r result) pagesPerSec() float64 {
	if r.Wall <= 0 {
		return 0
	}
	return float64(r.PagesOK) / r.Wall.Seconds()
}

func (r result) cpuPer1000() float64 {
	if r.PagesOK == 0 {
		return 0
	}
	return r.CPU.Seconds() / float64(r.PagesOK) * 1000
}

func main() {
	var o options
	flag.StringVar(&o.bin, "bin", "bin", "directory holding master, assistant, websim, rawlimit, colly-bench")
	flag.StringVar(&o.out, "out", "BENCHMARKS.md", "markdown file to write")
	flag.StringVar(&o.dbURL, "database", os.Getenv("DATABASE_URL"), "admin URL of the PostgreSQL cluster (a database per run is created in it)")
	flag.IntVar(&o.domains, "domains", 20000, "websim domains per workload")
	flag.IntVar(&o.concurrency, "concurrency", 200, "total concurrency of every contender (crawlmaster: slots over 2 assistants)")
	flag.DurationVar(&o.timeout, "timeout", 5*time.Second, "per-request timeout of every contender")
	flag.StringVar(&o.contenders, "contenders", "raw,crawlmaster,crawlmaster-plaintext,colly,scrapy", "which contenders to run, in order (crawlmaster-plaintext: crawlmaster with tls.plaintext, for what TLS costs)")
	flag.StringVar(&o.workloads, "workloads", "cpu,latency,sites,polite", "which workloads to run: cpu, latency (home pages), sites, polite (site crawls)")
	flag.IntVar(&o.siteDomains, "site-domains", 625, "sites workload: websim domains (about 4 in 5 are sites; 1250 gives about 1,000 sites)")
	flag.IntVar(&o.sitePages, "site-pages", 50, "sites workload: regular pages per site (every site the same)")
	flag.IntVar(&o.politeDomains, "polite-domains", 300, "polite workload: websim domains (about 4 in 5 are sites)")
	flag.IntVar(&o.politePages, "polite-pages", 25, "polite workload: regular pages per site (every site the same)")
	flag.DurationVar(&o.politeDelay, "polite-delay", time.Second, "polite workload: least time between two requests to one host, every contender")
	flag.IntVar(&o.depth, "depth", 3, "site workloads: link depth from each home page (domain scope)")
	flag.IntVar(&o.daemonProcs, "daemon-procs", 1, "GOMAXPROCS of each crawlmaster daemon (master, two assistants) sharing the machine; 0: Go's default, every core each")
	flag.StringVar(&o.profile, "profile", "", "if set, write CPU profiles of crawlmaster's master and assistants (pprof, over its crawl) into this directory")
	flag.Parse()
	if o.dbURL == "" {
		fatal(errors.New("--database (or DATABASE_URL) is required"))
	}
	var sections []string
	for _, name := range strings.Split(o.workloads, ",") {
		w, err := workloadOf(o, strings.TrimSpace(name))
		if err != nil {
			fatal(err)
		}
		res, web, err := runWorkload(o, w)
		if err != nil {
			fatal(err)
		}
		sections = append(sections, table(o, w, res, web))
		fmt.Println(sections[len(sections)-1])
	}
	if err := writeMarkdown(o, sections); err != nil {
		fatal(err)
	}
	fmt.Printf("wrote %s\n", o.out)
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "harness:", err)
	os.Exit(1)
}

// workload is one benchmark workload: its synthetic web and what every
// contender does on it.
type workload struct {
	name, title string
	domains     int
	simArgs     []string // websim flags besides --domains, --seed, --listen, --out
	// site: a site crawl. Every contender follows links from each listed
	// home page to depth, in domain scope; websim writes the crawl truth
	// of that policy and a per-host request timeline.
	site     bool
	depth    int
	pages    int           // regular pages per site
	features string        // websim site features kept
	delay    time.Duration // politeness delay per host, every contender (0: none)
}

// Home-page workloads: websim's flaky hosts are left out. One websim
// serves every contender of a workload, one after another, so it must
// answer each the same: "flaky" home pages fail only their first request
// (the first contender got 184 more 503s than the others).
var (
	// Latency-bound: median 100 ms with a long tail; websim's default
	// share of hanging hosts (0.5%) hang past every contender's timeout.
	latencyArgs = []string{"--fraction", "flaky=0", "--latency-median", "100ms", "--latency-sigma", "0.8", "--latency-max", "3s"}
	// CPU-bound: answers at once, and nothing hangs or stalls: the wall
	// time then measures throughput, not the timeout of a few hosts.
	cpuArgs = []string{"--fraction", "flaky=0", "--hang-fraction", "0", "--fraction", "robots_slow=0", "--fraction", "robots_hang=0"}
)

// siteFeatures are the websim site features the site workloads keep: the
// ones every contender treats alike (robots.txt-disallowed subtree, <base
// href>, frames and areas, 404/410 links, links to other sites and unknown
// hosts, which domain scope leaves out). Left out: link forms, query
// order and session ids (only a normalising crawler sees one URL in
// them), the traps (only a guarded one stops), meta robots and nofollow
// (stock Colly and Scrapy ignore both), redirects inside sites (the peers
// follow them inside the fetch and land on pages they then fetch again or
// not, depending on timing), linked PDF/PNG (Scrapy's LinkExtractor
// skips those extensions), sitemaps (not read in these crawls) and
// mailto:/javascript:/ftp: links (Scrapy tries ftp:).
const siteFeatures = "members,base,frames,deadlinks,crosssite"

func workloadOf(o options, name string) (workload, error) {
	// A robots.txt answering 5xx (or hanging) means "disallow all" to
	// crawlmaster, the raw limit and the crawl truth, "allow all" to Colly
	// and Scrapy: on a site they would crawl a whole site the others do
	// not. Crawl-delay robots.txt would make a few sites take a minute in
	// a workload without politeness delay. Both are left out of site
	// workloads (the home-page workloads have them, where they cost one
	// page).
	noRobotsDiff := []string{"--fraction", "robots_server_error=0", "--fraction", "robots_hang=0"}
	sites := func(pages int, features string) []string {
		return []string{"--sites", "all", "--site-pages", fmt.Sprintf("mean=%d,sigma=0", pages), "--site-features", features,
			"--crawl-truth", fmt.Sprintf("scope=domain,depth=%d", o.depth)}
	}
	switch name {
	case "cpu":
		return workload{name: name, title: "CPU-bound (websim answers at once)", domains: o.domains, simArgs: cpuArgs}, nil
	case "latency":
		return workload{name: name, title: "Latency-bound (median 100 ms, long tail, 0.5% hangs)", domains: o.domains, simArgs: latencyArgs}, nil
	case "sites":
		args := append(append(append([]string{}, cpuArgs...), noRobotsDiff...), "--fraction", "robots_crawl_delay=0")
		args = append(args, sites(o.sitePages, siteFeatures)...)
		return workload{name: name, title: fmt.Sprintf("Sites, CPU-bound (websim answers at once; %d pages per site, depth %d, domain scope, no delay)", o.sitePages, o.depth),
			domains: o.siteDomains, simArgs: args, site: true, depth: o.depth, pages: o.sitePages, features: siteFeatures}, nil
	case "polite":
		// Every site the same size, so the politeness limit is one number;
		// no site features (redirects would be followed inside the fetch by
		// Colly, unthrottled). Crawl-delay sites ask for 1 s: the delay.
		args := append(append(append([]string{}, latencyArgs...), noRobotsDiff...), sites(o.politePages, "none")...)
		return workload{name: name, title: fmt.Sprintf("Polite broad crawl (%s per host, latency as the latency-bound workload; %d pages per site, depth %d, domain scope)", o.politeDelay, o.politePages, o.depth),
			domains: o.politeDomains, simArgs: args, site: true, depth: o.depth, pages: o.politePages, features: "none", delay: o.politeDelay}, nil
	}
	return workload{}, fmt.Errorf("unknown workload %q (cpu, latency, sites, polite)", name)
}

// webRun is what the workload's websim knows once it stopped.
type webRun struct {
	truth    []websim.TruthURL // site workloads: the crawl truth of the policy
	spans    []websim.RequestSpan
	timeline string // "" when none was recorded
}

func runWorkload(o options, w workload) ([]result, *webRun, error) {
	dir, err := os.MkdirTemp("", "crawlmaster-bench-"+w.name)
	if err != nil {
		return nil, nil, err
	}
	defer os.RemoveAll(dir)
	args := append([]string{"--domains", strconv.Itoa(w.domains), "--seed", "1", "--listen", "127.0.0.1:0", "--out", dir}, w.simArgs...)
	web := &webRun{}
	if w.site {
		// Enough for every contender's requests to the biggest host.
		web.timeline = filepath.Join(dir, "timeline.csv")
		args = append(args, "--timeline-out", web.timeline, "--timeline-size", "1024")
	}
	sim := exec.Command(filepath.Join(o.bin, "websim"), args...)
	sim.Stderr = io.Discard
	if err := sim.Start(); err != nil {
		return nil, nil, fmt.Errorf("start websim: %w", err)
	}
	stopped := false
	stopSim := func() error {
		if stopped {
			return nil
		}
		stopped = true
		_ = sim.Process.Signal(syscall.SIGTERM)
		return sim.Wait()
	}
	defer stopSim()
	addr, err := waitFile(filepath.Join(dir, "addr"), 2*time.Minute)
	if err != nil {
		return nil, nil, fmt.Errorf("websim: %w", err)
	}
	list := filepath.Join(dir, "tranco.csv")
	truthPath := filepath.Join(dir, "crawl-truth.csv")
	if w.site {
		f, err := os.Open(truthPath)
		if err != nil {
			return nil, nil, err
		}
		web.truth, err = websim.ReadCrawlTruth(f)
		f.Close()
		if err != nil {
			return nil, nil, err
		}
	}
	fmt.Fprintf(os.Stderr, "== workload %s: %d domains on websim %s, concurrency %d, timeout %s\n", w.name, w.domains, addr, o.concurrency, o.timeout)
	var out []result
	for _, c := range strings.Split(o.contenders, ",") {
		fmt.Fprintf(os.Stderr, "-- %s\n", c)
		simCPU0 := procCPU(sim.Process.Pid)
		start := time.Now()
		var r result
		switch c {
		case "raw":
			args := peerArgs(o, list, addr)
			if w.site {
				// The ceiling: exactly the URLs of the crawl truth, no link
				// extraction, robots.txt per host as in the home-page mode.
				args = []string{"--urls", truthPath, "--websim", addr, "--concurrency", strconv.Itoa(o.concurrency), "--timeout", o.timeout.String(), "--delay", w.delay.String()}
			}
			if o.profile != "" {
				args = append(args, "--cpuprofile", filepath.Join(o.profile, w.name+"-raw.pprof"))
			}
			r = runPeer("raw", filepath.Join(o.bin, "rawlimit"), args)
		case "colly":
			// Colly checks robots.txt synchronously inside Visit (a plain
			// Visit loop fetches robots.txt one at a time), then fetches the
			// page asynchronously under its Parallelism limit. Half the
			// concurrency for each keeps at most the same number of requests
			// in flight as the other contenders.
			colly := peerArgs(options{concurrency: max(1, o.concurrency/2), timeout: o.timeout}, list, addr)
			colly = append(colly, "--visitors", strconv.Itoa(max(1, o.concurrency/2)))
			if w.site {
				colly = append(colly, "--depth", strconv.Itoa(w.depth), "--delay", w.delay.String())
			}
			r = runPeer("colly", filepath.Join(o.bin, "colly-bench"), colly)
		case "scrapy":
			args := peerArgs(o, list, addr)
			if w.site {
				args = append(args, "--depth", strconv.Itoa(w.depth), "--delay", w.delay.String())
			}
			r = runPeer("scrapy", "bench/scrapy/run.sh", args)
		case "crawlmaster", "crawlmaster-plaintext":
			// crawlmaster-plaintext: the same crawl with tls.plaintext, for
			// what mutual TLS between master and assistants costs.
			r = runCrawlmaster(o, w, list, addr, web.truth, c == "crawlmaster-plaintext")
		default:
			return nil, nil, fmt.Errorf("unknown contender %q", c)
		}
		r.Start, r.End = start, time.Now()
		r.Extra = map[string]string{"websim_cpu": (procCPU(sim.Process.Pid) - simCPU0).Round(10 * time.Millisecond).String()}
		if r.Failed != "" {
			fmt.Fprintf(os.Stderr, "   %s FAILED: %s\n", c, r.Failed)
		} else {
			fmt.Fprintf(os.Stderr, "   %d pages ok in %s: %.0f pages/s, %.2f CPU-s per 1000 pages\n", r.PagesOK, r.Wall.Round(time.Millisecond), r.pagesPerSec(), r.cpuPer1000())
		}
		out = append(out, r)
	}
	if err := stopSim(); err != nil && w.site {
		return nil, nil, fmt.Errorf("websim: %w", err)
	}
	if keep := os.Getenv("BENCH_KEEP_WEB"); keep != "" && w.site {
		// websim's files and each contender's window, for reading a run.
		var windows strings.Builder
		windows.WriteString("contender,start_unix_ns,end_unix_ns\n")
		for _, r := range out {
			fmt.Fprintf(&windows, "%s,%d,%d\n", r.Tool, r.Start.UnixNano(), r.End.UnixNano())
		}
		if err := os.MkdirAll(keep, 0o755); err == nil {
			_ = os.WriteFile(filepath.Join(keep, w.name+"-windows.csv"), []byte(windows.String()), 0o644)
			for _, f := range []string{"timeline.csv", "crawl-truth.csv", "tranco.csv"} {
				if b, err := os.ReadFile(filepath.Join(dir, f)); err == nil {
					_ = os.WriteFile(filepath.Join(keep, w.name+"-"+f), b, 0o644)
				}
			}
			fmt.Fprintf(os.Stderr, "   kept websim's files in %s (BENCH_KEEP_WEB)\n", keep)
		}
	}
	if web.timeline != "" {
		f, err := os.Open(web.timeline)
		if err != nil {
			return nil, nil, err
		}
		web.spans, err = websim.ReadTimeline(f)
		f.Close()
		if err != nil {
			return nil, nil, err
		}
		for i := range out {
			out[i].Web = analyseRequests(web, w, out[i].Start, out[i].End)
		}
	}
	return out, web, nil
}

func peerArgs(o options, list, addr string) []string {
	return []string{"--list", list, "--websim", addr, "--concurrency", strconv.Itoa(o.concurrency), "--timeout", o.timeout.String()}
}

// runPeer runs a one-shot contender and reads its JSON summary line.
func runPeer(tool, path string, args []string) result {
	r := result{Tool: tool, PeakRSS: map[string]int64{}}
	// A contender that never finishes must not hang the whole benchmark.
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, args...)
	var stdout strings.Builder
	cmd.Stdout = &stdout
	cmd.Stderr = io.Discard
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	if err != nil {
		r.Failed = err.Error()
		return r
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		r.PeakRSS[tool] = ru.Maxrss << 10
	}
	r.CPU = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	var sum struct {
		PagesOK   int64            `json:"pages_ok"`
		Responses int64            `json:"responses"`
		Errors    map[string]int64 `json:"errors"`
		Wall      float64          `json:"wall_seconds"`
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &sum); err != nil {
		r.Failed = fmt.Sprintf("no JSON summary line: %v", err)
		return r
	}
	r.PagesOK, r.Responses, r.Errors = sum.PagesOK, sum.Responses, sum.Errors
	r.Wall = wall
	return r
}

// runCrawlmaster crawls the list with PostgreSQL, a master and two
// assistants as processes, in a database of its own.
//
// With plaintext the master and assistants talk without TLS (the
// contender crawlmaster-plaintext); otherwise with mutual TLS, as
// deployed by default.
func runCrawlmaster(o options, w workload, list, simAddr string, truth []websim.TruthURL, plaintext bool) result {
	r := result{Tool: "crawlmaster", PeakRSS: map[string]int64{}}
	if plaintext {
		r.Tool = "crawlmaster-plaintext"
	}
	fail := func(err error) result { r.Failed = err.Error(); return r }
	ctx := context.Background()
	workload := w.name
	dbName := fmt.Sprintf("bench_%s_%d", workload, time.Now().UnixNano())
	admin, err := pgx.Connect(ctx, o.dbURL)
	if err != nil {
		return fail(err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+dbName); err != nil {
		return fail(err)
	}
	if os.Getenv("BENCH_KEEP_DB") == "" {
		defer admin.Exec(ctx, "DROP DATABASE IF EXISTS "+dbName+" WITH (FORCE)")
	} else {
		defer fmt.Fprintf(os.Stderr, "   kept database %s (BENCH_KEEP_DB)\n", dbName)
	}
	dbURL := withDatabase(o.dbURL, dbName)

	dir, err := os.MkdirTemp("", "crawlmaster-bench-cm")
	if err != nil {
		return fail(err)
	}
	defer os.RemoveAll(dir)
	ports := freePorts(5)
	slots := o.concurrency / 2
	// BENCH_LOG_DIR keeps the daemons' logs (at level info: one line per
	// batch dispatched and finished) for reading a run's timeline.
	logDir, logLevel := os.Getenv("BENCH_LOG_DIR"), "warn"
	if logDir != "" {
		logLevel = "info"
	}
	cfg := fmt.Sprintf(`rpc:
  manager: {address: 127.0.0.1, port: %d}
  assistant:
    - {address: 127.0.0.1, port: %d, workers: %d, metrics_port: %d}
    - {address: 127.0.0.1, port: %d, workers: %d, metrics_port: %d}
database: {url: "%s"}
retry: {max_attempts: 1}   # the peers do not retry either
fetch:
  timeout: %s
  connect_timeout: %s
  robots_timeout: %s
  default_delay: %s        # the peers' politeness delay (none but in the polite workload)
  resolve: ["*.test=%s"]
  allowed_networks: ["127.0.0.0/8"]   # websim is on loopback, which the fetcher refuses by default
log: {level: %s}
metrics: {pprof: true}     # for profiling a run in progress (loopback only)
`, ports[0], ports[1], slots, ports[3], ports[2], slots, ports[4], dbURL, o.timeout, min(o.timeout, 5*time.Second), o.timeout, w.delay, simAddr, logLevel)
	if plaintext {
		cfg += "tls: {plaintext: true}    # crawlmaster-plaintext: what mutual TLS costs, by difference\n"
	}
	// BENCH_CM_CONFIG adds top-level sections to crawlmaster's rpc.yaml,
	// for trying a setting (e.g. "dispatch: {poll_interval: 200ms,
	// poll_timeout: 100ms}"); the sections above must not be repeated
	// (tls neither: its defaults apply).
	if extra := os.Getenv("BENCH_CM_CONFIG"); extra != "" {
		cfg += extra + "\n"
	}
	cfgPath := filepath.Join(dir, "rpc.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		return fail(err)
	}
	env := append(os.Environ(), "DATABASE_URL="+dbURL)
	if !plaintext {
		// Mutual TLS between master and assistants, as deployed (tls.dir
		// defaults to .data/certs beside rpc.yaml: the run's directory).
		certs := exec.Command(filepath.Join(o.bin, "master"), "certs", "--config", cfgPath)
		certs.Env = env
		if out, err := certs.CombinedOutput(); err != nil {
			return fail(fmt.Errorf("master certs: %v: %s", err, out))
		}
	}
	if o.daemonProcs > 0 {
		// Three daemons share the machine's cores with PostgreSQL and
		// websim. With every daemon scheduling goroutines on every core,
		// their idle threads spin for work the others are running: ~15%
		// of the assistants' CPU per page on 2 cores. An operator
		// co-locating daemons splits the cores the same way.
		env = append(env, fmt.Sprintf("GOMAXPROCS=%d", o.daemonProcs))
	}
	impArgs := []string{"import-tranco", "--config", cfgPath, "--scheme", "http"}
	if w.site {
		// A named crawl in domain scope, default guards, links, no
		// sitemaps, a budget no site reaches.
		create := exec.Command(filepath.Join(o.bin, "master"), "crawl", "create", "bench", "--config", cfgPath,
			"--scope", "domain", "--max-depth", strconv.Itoa(w.depth), "--site-budget", "10000")
		create.Env = env
		if out, err := create.CombinedOutput(); err != nil {
			return fail(fmt.Errorf("crawl create: %v: %s", err, out))
		}
		impArgs = append(impArgs, "--crawl", "bench")
	}
	imp := exec.Command(filepath.Join(o.bin, "master"), append(impArgs, list)...)
	imp.Env = env
	if out, err := imp.CombinedOutput(); err != nil {
		return fail(fmt.Errorf("import: %v: %s", err, out))
	}
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return fail(err)
	}
	defer conn.Close(ctx)
	var total int64
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM frontier`).Scan(&total); err != nil {
		return fail(err)
	}
	// seeds: the imported URLs; expected: the URLs of the whole crawl, for
	// looking closely near its end and sampling slots before it.
	seeds, expected := total, total
	if w.site {
		expected = int64(len(truth))
	}

	var procs []*exec.Cmd
	startProc := func(args ...string) (*exec.Cmd, error) {
		c := exec.Command(filepath.Join(o.bin, args[0]), args[1:]...)
		c.Env = env
		c.Stderr = io.Discard
		if logDir != "" {
			f, err := os.Create(filepath.Join(logDir, fmt.Sprintf("%s-%s-%s-%d.log", workload, r.Tool, args[0], len(procs))))
			if err != nil {
				return nil, err
			}
			defer f.Close() // the child has its own descriptor
			c.Stderr = f
		}
		if err := c.Start(); err != nil {
			return nil, err
		}
		procs = append(procs, c)
		return c, nil
	}
	defer func() {
		for _, p := range procs {
			_ = p.Process.Signal(syscall.SIGTERM)
		}
		for _, p := range procs {
			_ = p.Wait()
		}
	}()
	// The cluster's postmaster: the parent of this connection's backend.
	var backend int
	if err := conn.QueryRow(ctx, `SELECT pg_backend_pid()`).Scan(&backend); err != nil {
		return fail(err)
	}
	postmaster := parentPID(backend)
	if postmaster == 0 {
		return fail(fmt.Errorf("no parent of PostgreSQL backend %d (is the cluster on this machine?)", backend))
	}
	// BENCH_PG_CPU=cluster counts the whole cluster's CPU (background
	// processes included), right on a machine nobody else's database
	// uses; the default counts the run database's backends only.
	pgDB := dbName
	if os.Getenv("BENCH_PG_CPU") == "cluster" {
		pgDB = ""
	}
	pgCPU0 := postgresCPU(postmaster, pgDB)
	a1, err := startProc("assistant", "run", "--config", cfgPath, "--listen", fmt.Sprintf("127.0.0.1:%d", ports[1]))
	if err != nil {
		return fail(err)
	}
	a2, err := startProc("assistant", "run", "--config", cfgPath, "--listen", fmt.Sprintf("127.0.0.1:%d", ports[2]))
	if err != nil {
		return fail(err)
	}
	if err := waitPort(ports[1]); err != nil {
		return fail(err)
	}
	if err := waitPort(ports[2]); err != nil {
		return fail(err)
	}
	start := time.Now()
	m, err := startProc("master", "run", "--config", cfgPath)
	if err != nil {
		return fail(err)
	}

	if o.profile != "" {
		// The daemons are stopped only after their profiles are written.
		var wg sync.WaitGroup
		defer wg.Wait()
		for name, port := range map[string]int{"master": ports[0], "assistant-1": ports[3], "assistant-2": ports[4]} {
			wg.Go(func() {
				path := filepath.Join(o.profile, workload+"-"+strings.TrimPrefix(r.Tool+"-", "crawlmaster-")+name)
				fetchProfile(port, "profile?seconds="+strconv.Itoa(profileSeconds()), path+".pprof")
				fetchProfile(port, "allocs", path+".allocs.pprof")
			})
		}
	}

	// Sample busy slots while work is available (until 90% of URLs are
	// final), for slot utilisation; snapshot the refill histogram then.
	var busySum, samples float64
	var refill []bucket
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	deadline := start.Add(30 * time.Minute)
	lastReport, lastFinal := start, int64(0)
	lastDBCheck, nearEnd := start, false
	for range tick.C {
		// Progress comes from the master's own counter of final results,
		// not from counting the frontier: a scan of it every tick would be
		// PostgreSQL CPU charged to crawlmaster. The database confirms the
		// end, and is asked every few seconds anyway, in case the counter
		// undercounts (a write that committed but was reported failed is
		// retried and then counted as rejected).
		master := scrape(ports[0])
		final := int64(0)
		for _, st := range []string{"done", "failed", "dead"} {
			final += int64(sample(master, "crawlmaster_persist_results_total", "outcome", st))
		}
		if w.site {
			// A site crawl's frontier grows: the seeds plus the links
			// admitted. A result's links are admitted in the write that
			// stores it, and both counters move after that commit, so once
			// every admitted URL is final nothing in flight can add more.
			total = seeds + int64(sample(master, "crawlmaster_persist_links_total", "result", "new"))
		}
		if final >= total || time.Since(lastDBCheck) >= 5*time.Second {
			lastDBCheck = time.Now()
			if err := conn.QueryRow(ctx, `SELECT count(*) FILTER (WHERE state IN ('done','failed','dead')), count(*) FROM frontier`).Scan(&final, &total); err != nil {
				return fail(err)
			}
		}
		if !nearEnd && final >= expected*99/100 {
			// The crawl's end is taken when it is noticed: look closely.
			nearEnd = true
			tick.Reset(50 * time.Millisecond)
		}
		if final < expected*9/10 {
			// Busy-capable slots: an assistant's slots count only while
			// the master holds work ready for it. With domain affinity one
			// assistant can run out of domains before the other; its idle
			// slots then are not a dispatch failure.
			for i, port := range []int{ports[3], ports[4]} {
				ready := sample(master, "crawlmaster_dispatch_ready_urls", "assistant", fmt.Sprintf("127.0.0.1:%d", ports[1+i]))
				busy := metric(port, "crawlmaster_assistant_busy_slots")
				if ready > 0 && !math.IsNaN(busy) {
					busySum += busy / float64(slots)
					samples++
				}
			}
		} else if refill == nil {
			refill = histogram(ports[0], "crawlmaster_dispatch_slot_refill_seconds")
		}
		if time.Since(lastReport) >= 10*time.Second {
			rate := float64(final-lastFinal) / time.Since(lastReport).Seconds()
			fmt.Fprintf(os.Stderr, "   t=%4.0fs final %d/%d, %.0f pages/s, master RSS %s MiB, assistants %s/%s MiB\n",
				time.Since(start).Seconds(), final, total, rate,
				mib(vmHWM(m.Process.Pid)), mib(vmHWM(a1.Process.Pid)), mib(vmHWM(a2.Process.Pid)))
			r.Progress = append(r.Progress, fmt.Sprintf("| %.0fs | %d | %.0f | %s | %s / %s | %s |", time.Since(start).Seconds(), final, rate,
				mib(vmHWM(m.Process.Pid)), mib(vmHWM(a1.Process.Pid)), mib(vmHWM(a2.Process.Pid)), mib(postgresMaxRSS(dbName))))
			lastReport, lastFinal = time.Now(), final
		}
		if final == total {
			break
		}
		if time.Now().After(deadline) {
			return fail(fmt.Errorf("not final after 30 minutes (%d of %d)", final, total))
		}
	}
	r.Wall = time.Since(start)
	var first, lastFetch, lastPersist time.Time
	if err := conn.QueryRow(ctx, `SELECT min(fetched_at), max(fetched_at), max(persisted_at) FROM results`).Scan(&first, &lastFetch, &lastPersist); err == nil {
		// On PostgreSQL's clock (the same machine's here), for the
		// timeline line only; persisted_at is its write's start.
		r.FirstFetch, r.LastFetch, r.LastPersist = first.Sub(start), lastFetch.Sub(start), lastPersist.Sub(start)
	}
	if rows, err := conn.Query(ctx, `SELECT assistant, count(*), max(fetched_at) FROM results GROUP BY 1 ORDER BY 1`); err == nil {
		for rows.Next() {
			var a string
			var n int64
			var last time.Time
			if rows.Scan(&a, &n, &last) == nil {
				r.PerAssistant = append(r.PerAssistant, fmt.Sprintf("%s %d URLs, last fetch started %s", a, n, last.Sub(start).Round(time.Millisecond)))
			}
		}
		rows.Close()
	}
	r.CPUSplit = map[string]time.Duration{}
	for name, p := range map[string]*exec.Cmd{"master": m, "assistant-1": a1, "assistant-2": a2} {
		r.CPUSplit[name] = procCPU(p.Process.Pid)
		r.PeakRSS[name] = vmHWM(p.Process.Pid)
	}
	r.CPUSplit["postgres"] = postgresCPU(postmaster, pgDB) - pgCPU0
	for _, c := range r.CPUSplit {
		r.CPU += c
	}
	r.PeakRSS["postgres (largest backend)"] = postgresMaxRSS(dbName)
	if samples > 0 {
		r.Utilisation = busySum / samples
	}
	r.RefillP50, r.RefillP99 = quantile(refill, 0.5), quantile(refill, 0.99)
	claims := histogram(ports[0], "crawlmaster_dispatch_claim_duration_seconds")
	r.ClaimP50, r.ClaimP99 = quantile(claims, 0.5), quantile(claims, 0.99)
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM results WHERE state = 'done' AND http_status = 200`).Scan(&r.PagesOK); err != nil {
		return fail(err)
	}
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM results WHERE http_status > 0`).Scan(&r.Responses); err != nil {
		return fail(err)
	}
	r.Errors = map[string]int64{}
	rows, err := conn.Query(ctx, `SELECT coalesce(last_class, ''), count(*) FROM frontier WHERE state IN ('failed', 'dead') GROUP BY 1`)
	if err != nil {
		return fail(err)
	}
	for rows.Next() {
		var c string
		var n int64
		if err := rows.Scan(&c, &n); err != nil {
			return fail(err)
		}
		r.Errors[c] = n
	}
	if w.site {
		master := scrape(ports[0])
		var parts []string
		for _, k := range []string{"new", "known", "over_budget"} {
			parts = append(parts, fmt.Sprintf("%s %.0f", k, sample(master, "crawlmaster_persist_links_total", "result", k)))
		}
		var refused []string
		for _, l := range master {
			if rest, ok := strings.CutPrefix(l, `crawlmaster_dispatch_links_refused_total{reason="`); ok {
				if reason, v, ok := strings.Cut(rest, `"} `); ok && v != "0" {
					refused = append(refused, reason+" "+v)
				}
			}
		}
		r.Links = fmt.Sprintf("offered to the frontier: %s; refused before: %s", strings.Join(parts, ", "), cmpOr(strings.Join(refused, ", "), "none"))
		tc, err := checkTruth(ctx, conn, truth)
		if err != nil {
			return fail(err)
		}
		r.Truth = tc
	}
	return r
}

// cpuSplit is crawlmaster's CPU per 200 OK page, by process.
func cpuSplit(r result) string {
	var parts []string
	for _, k := range sortedKeys(r.CPUSplit) {
		parts = append(parts, fmt.Sprintf("%s %.0f µs", k, float64(r.CPUSplit[k].Microseconds())/float64(max(r.PagesOK, 1))))
	}
	return strings.Join(parts, ", ")
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// truthCheck compares crawlmaster's frontier with websim's crawl truth.
type truthCheck struct {
	Truth, Frontier int
	Extra, Missing  []string // URLs in one and not the other
	Wrong           []string // in both, with another depth, state or class
}

func (t *truthCheck) String() string {
	verdict := "yes"
	if len(t.Extra)+len(t.Missing)+len(t.Wrong) > 0 {
		verdict = "no"
	}
	s := fmt.Sprintf("matches truth: %s, %d extra, %d missing, %d with another depth or outcome (truth %d URLs, frontier %d)",
		verdict, len(t.Extra), len(t.Missing), len(t.Wrong), t.Truth, t.Frontier)
	for _, l := range []struct {
		name string
		urls []string
	}{{"extra", t.Extra}, {"missing", t.Missing}, {"other depth or outcome", t.Wrong}} {
		if len(l.urls) > 0 {
			s += fmt.Sprintf("; %s, e.g. %s", l.name, strings.Join(l.urls[:min(3, len(l.urls))], ", "))
		}
	}
	return s
}

// checkTruth reads the site crawl's frontier: every URL, its depth, state
// and class, against the truth's.
func checkTruth(ctx context.Context, conn *pgx.Conn, truth []websim.TruthURL) (*truthCheck, error) {
	want := make(map[string]websim.TruthURL, len(truth))
	for _, u := range truth {
		want[u.URL] = u
	}
	rows, err := conn.Query(ctx, `SELECT url, depth, state, coalesce(last_class, '') FROM frontier WHERE crawl_id <> 1`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	tc := &truthCheck{Truth: len(truth)}
	seen := make(map[string]bool, len(truth))
	for rows.Next() {
		var u, state, class string
		var depth int16
		if err := rows.Scan(&u, &depth, &state, &class); err != nil {
			return nil, err
		}
		tc.Frontier++
		seen[u] = true
		t, ok := want[u]
		switch {
		case !ok:
			tc.Extra = append(tc.Extra, fmt.Sprintf("%s (depth %d, %s %s)", u, depth, state, class))
		case int(depth) != t.Depth || state != string(t.State) || class != string(t.Class):
			tc.Wrong = append(tc.Wrong, fmt.Sprintf("%s: depth %d, %s %s; truth depth %d, %s %s", u, depth, state, class, t.Depth, t.State, t.Class))
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for _, t := range truth {
		if !seen[t.URL] {
			tc.Missing = append(tc.Missing, fmt.Sprintf("%s (depth %d, %s %s)", t.URL, t.Depth, t.State, t.Class))
		}
	}
	for _, l := range [][]string{tc.Extra, tc.Missing, tc.Wrong} {
		sort.Strings(l)
	}
	return tc, nil
}

// webStats is websim's view of one contender's run: its requests, from the
// per-host timeline.
type webStats struct {
	Requests int // page requests (robots.txt not included)
	Robots   int // robots.txt requests
	Repeated int // page requests beyond the first for their URL
	Extra    int // distinct URLs requested that a correct crawl does not request
	Missed   int // URLs a correct crawl requests that were not requested
	ExtraEg  []string
	// Politeness (workloads with a delay): consecutive requests to one
	// host, start to start.
	Pairs       int
	Close       int           // pairs that started closer than the delay minus gapSlack
	CloseRobots int           // of those, pairs whose first request was robots.txt
	Short       int           // pairs closer than the delay at all (jitter included)
	Overlaps    int           // pairs where the second started before the first ended
	MinGap      time.Duration // smallest start-to-start gap
}

// gapSlack is how much shorter than the delay two request starts may be
// at websim and still count as spaced by the delay: a crawler spaces the
// moments it sends, websim sees when each request's handler starts, after
// a connect for the first request on a connection and the loopback and
// scheduler's jitter on a busy machine (measured: the raw limit, which
// books its starts exactly one delay apart, shows gaps down to 996 ms).
const gapSlack = 10 * time.Millisecond

// analyseRequests reads the requests that started within [from, to) out
// of websim's timeline.
func analyseRequests(web *webRun, w workload, from, to time.Time) *webStats {
	st := &webStats{MinGap: -1}
	requested := make(map[string]bool, len(web.truth))
	for _, u := range web.truth {
		if u.Requested() {
			requested[u.URL] = true
		}
	}
	count := map[string]int{}
	var prev *websim.RequestSpan
	for i := range web.spans {
		sp := &web.spans[i] // by host, then start
		if sp.Start.Before(from) || !sp.Start.Before(to) {
			continue
		}
		if prev != nil && prev.Host == sp.Host {
			gap := sp.Start.Sub(prev.Start)
			st.Pairs++
			if st.MinGap < 0 || gap < st.MinGap {
				st.MinGap = gap
			}
			if w.delay > 0 && gap < w.delay {
				st.Short++
			}
			if w.delay > 0 && gap < w.delay-gapSlack {
				st.Close++
				if prev.Path == "/robots.txt" {
					st.CloseRobots++
				}
			}
			if !prev.End.IsZero() && sp.Start.Before(prev.End) {
				st.Overlaps++
			}
		}
		prev = sp
		if sp.Path == "/robots.txt" {
			st.Robots++
			continue
		}
		st.Requests++
		u := "http://" + sp.Host + sp.Path
		count[u]++
		if count[u] > 1 {
			st.Repeated++
		} else if !requested[u] {
			st.Extra++
			if len(st.ExtraEg) < 3 {
				st.ExtraEg = append(st.ExtraEg, u)
			}
		}
	}
	for u := range requested {
		if count[u] == 0 {
			st.Missed++
		}
	}
	return st
}

// politeLimit is the fastest a crawl can go when every host allows one
// request per delay: every host needs (requests - 1) x delay from its
// first request to its last, robots.txt included, so the crawl takes at
// least the longest of those, and its pages/s are at most the truth's
// 200 pages over that time. It assumes enough concurrency to keep every
// host busy (the crawl's requests in flight at a time are about hosts x
// latency / delay, far below the concurrency here), latency below the
// delay, every host starting at once, and it leaves out the last
// request's own latency.
type politeLimit struct {
	Pages    int           // 200 OK pages of the truth
	Requests int           // requests to the busiest host, robots.txt included
	Host     string        // that host
	MinTime  time.Duration // (Requests - 1) x delay
	PagesPS  float64       // Pages / MinTime
}

func politenessLimit(truth []websim.TruthURL, delay time.Duration) politeLimit {
	perHost := map[string]int{}
	var l politeLimit
	for _, u := range truth {
		if u.State == websim.StateDone && u.HTTPStatus == http.StatusOK {
			l.Pages++
		}
		host := hostOf(u.URL)
		if u.Class == websim.ClassDNSNotFound {
			continue // never requested, not even robots.txt
		}
		if _, ok := perHost[host]; !ok {
			perHost[host] = 1 // robots.txt
		}
		if u.Requested() {
			perHost[host]++
		}
	}
	for h, n := range perHost {
		if n > l.Requests || (n == l.Requests && h < l.Host) {
			l.Requests, l.Host = n, h
		}
	}
	l.MinTime = time.Duration(max(l.Requests-1, 1)) * delay
	l.PagesPS = float64(l.Pages) / l.MinTime.Seconds()
	return l
}

func hostOf(u string) string {
	rest, _ := strings.CutPrefix(u, "http://")
	rest, _ = strings.CutPrefix(rest, "https://")
	h, _, _ := strings.Cut(rest, "/")
	return h
}

// profileSeconds is how long CPU profiles run: BENCH_PROFILE_SECONDS,
// default 10.
func profileSeconds() int {
	if d, err := strconv.Atoi(os.Getenv("BENCH_PROFILE_SECONDS")); err == nil && d > 0 {
		return d
	}
	return 10
}

// fetchProfile writes the daemon's /debug/pprof/<what> (its admin server is
// on port) into path, once the admin server is up.
func fetchProfile(port int, what, path string) {
	if err := waitPort(port); err != nil {
		fmt.Fprintln(os.Stderr, "profile:", err)
		return
	}
	c := http.Client{Timeout: time.Duration(profileSeconds()+30) * time.Second}
	resp, err := c.Get(fmt.Sprintf("http://127.0.0.1:%d/debug/pprof/%s", port, what))
	if err != nil {
		fmt.Fprintln(os.Stderr, "profile:", err)
		return
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		fmt.Fprintln(os.Stderr, "profile:", resp.Status, err)
		return
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "profile:", err)
	}
}

func withDatabase(url, db string) string {
	base, query, _ := strings.Cut(url, "?")
	i := strings.LastIndex(base, "/")
	u := base[:i+1] + db
	if query != "" {
		u += "?" + query
	}
	return u
}

func freePorts(n int) []int {
	var ports []int
	var lns []net.Listener
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			fatal(err)
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	for _, ln := range lns {
		ln.Close()
	}
	return ports
}

func waitPort(port int) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			c.Close()
			return nil
		}
		<-time.After(50 * time.Millisecond)
	}
	return fmt.Errorf("nothing listening on port %d after 30 s", port)
}

func waitFile(path string, timeout time.Duration) (string, error) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(path); err == nil && len(b) > 0 {
			return strings.TrimSpace(string(b)), nil
		}
		<-time.After(50 * time.Millisecond)
	}
	return "", fmt.Errorf("%s not written within %s", path, timeout)
}

// procCPU is a live process's user+system CPU time.
func procCPU(pid int) time.Duration { return procstat.CPU(pid, false) }

// postgresCPU is the CPU time of the benchmark cluster's processes: its
// postmaster (whose reaped-children time holds the backends that exited)
// and the postmaster's live children. Other PostgreSQL clusters on the
// machine are not counted; other databases of the same cluster are
// (their backends cannot be told apart once they exited), so a cluster
// shared with other users inflates the figure. With db set, only the
// live backends connected to database db are counted (the run's own
// database: the daemons' pools stay connected until they stop, and the
// harness measures before stopping them); the cluster's background
// processes (WAL writer, checkpointer, autovacuum) are then left out.
func postgresCPU(postmaster int, db string) time.Duration {
	var total time.Duration
	if db == "" {
		total = procstat.CPU(postmaster, true)
	}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || parentPID(pid) != postmaster {
			continue
		}
		if db != "" {
			b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
			if err != nil || !strings.HasPrefix(string(b), "postgres:") || !strings.Contains(string(b), " "+db+" ") {
				continue
			}
		}
		total += procstat.CPU(pid, db == "")
	}
	return total
}

// parentPID is a live process's parent (0 when unknown).
func parentPID(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// pid (comm) state ppid ...: comm may hold spaces, so read after the
	// last ')'.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 2 {
		return 0
	}
	ppid, _ := strconv.Atoi(f[1])
	return ppid
}

// postgresMaxRSS is the largest peak RSS of the client backends connected
// to database db (their process titles name it). The cluster's own
// processes are left out: the checkpointer and background writer outlive
// the run and end up touching all of shared_buffers (256 MiB), whatever
// the run did. A backend's RSS counts the shared buffers it touched.
func postgresMaxRSS(db string) int64 {
	var m int64
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); err == nil &&
			strings.HasPrefix(string(b), "postgres:") && strings.Contains(string(b), " "+db+" ") {
			m = max(m, vmHWM(pid))
		}
	}
	return m
}

func vmHWM(pid int) int64 { return procstat.PeakRSS(pid) }

// metric reads one unlabelled sample from a daemon's /metrics.
func metric(port int, name string) float64 {
	for _, l := range scrape(port) {
		if strings.HasPrefix(l, name+" ") {
			v, err := strconv.ParseFloat(strings.TrimSpace(l[len(name):]), 64)
			if err == nil {
				return v
			}
		}
	}
	return math.NaN()
}

// sample reads the sample of name whose only label is label="value"; 0
// when there is none (a counter not yet incremented is not exported).
func sample(lines []string, name, label, value string) float64 {
	prefix := name + "{" + label + `="` + value + `"} `
	for _, l := range lines {
		if strings.HasPrefix(l, prefix) {
			if v, err := strconv.ParseFloat(strings.TrimSpace(l[len(prefix):]), 64); err == nil {
				return v
			}
		}
	}
	return 0
}

// scrape reads a daemon's /metrics (promscrape.Lines).
func scrape(port int) []string { return promscrape.Lines(port) }

type bucket struct {
	le    float64
	count float64
}

func histogram(port int, name string) []bucket {
	byLe := map[float64]float64{} // summed over the series' other labels (per assistant)
	for _, l := range scrape(port) {
		if !strings.HasPrefix(l, name+"_bucket{") {
			continue
		}
		i, j := strings.Index(l, `le="`), strings.LastIndex(l, `"}`)
		if i < 0 || j < i {
			continue
		}
		le, err1 := strconv.ParseFloat(l[i+4:j], 64)
		c, err2 := strconv.ParseFloat(strings.TrimSpace(l[j+2:]), 64)
		if err1 != nil || err2 != nil {
			continue
		}
		byLe[le] += c
	}
	var bs []bucket
	for le, c := range byLe {
		bs = append(bs, bucket{le, c})
	}
	sort.Slice(bs, func(a, b int) bool { return bs[a].le < bs[b].le })
	return bs
}

// quantile interpolates within cumulative histogram buckets.
func quantile(bs []bucket, q float64) time.Duration {
	if len(bs) == 0 || bs[len(bs)-1].count == 0 {
		return 0
	}
	rank := q * bs[len(bs)-1].count
	prevLe, prevC := 0.0, 0.0
	for _, b := range bs {
		if b.count >= rank {
			if math.IsInf(b.le, 1) {
				return time.Duration(prevLe * float64(time.Second))
			}
			frac := 0.0
			if b.count > prevC {
				frac = (rank - prevC) / (b.count - prevC)
			}
			return time.Duration((prevLe + frac*(b.le-prevLe)) * float64(time.Second))
		}
		prevLe, prevC = b.le, b.count
	}
	return 0
}

func mib(b int64) string { return fmt.Sprintf("%.0f", float64(b)/(1<<20)) }

func table(o options, w workload, rs []result, web *webRun) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "### %s: %d domains, concurrency %d, timeout %s\n\n", w.title, w.domains, o.concurrency, o.timeout)
	var limit politeLimit
	if w.site {
		sites := map[string]bool{}
		for _, u := range web.truth {
			if u.Depth > 0 {
				sites[hostOf(u.URL)] = true
			}
		}
		fmt.Fprintf(&sb, "Crawl truth (websim, scope domain, depth %d, default guards): %d URLs, %d of them 200 OK pages, on %d sites with links followed; "+
			"websim site features kept: %s (the others switched off so that every contender crawls the same pages: see How to reproduce).\n\n",
			w.depth, len(web.truth), politenessLimit(web.truth, time.Second).Pages, len(sites), w.features)
	}
	if w.delay > 0 {
		limit = politenessLimit(web.truth, w.delay)
		fmt.Fprintf(&sb, "Politeness limit: %d pages / ((%d requests − 1) × %s) = %d / %s = **%.1f pages/s**. "+
			"Every host needs (requests − 1) × delay between its first request and its last, robots.txt included; the busiest host (%s) has %d. "+
			"Assumes enough concurrency to keep every host busy, latency below the delay, every host starting at once; the last request's own latency is left out.\n\n",
			limit.Pages, limit.Requests, w.delay, limit.Pages, limit.MinTime, limit.PagesPS, limit.Host, limit.Requests)
	}
	head := "| contender | pages/s (200 OK) | pages | wall | CPU-s / 1000 pages | peak RSS MiB | errors | websim CPU |"
	sep := "|---|---:|---:|---:|---:|---|---|---:|"
	if w.site {
		head += " requests (robots.txt) | repeated | not in truth | truth missed |"
		sep += "---:|---:|---:|---:|"
	}
	if w.delay > 0 {
		head += " × limit | pairs < delay − 10 ms (after robots.txt) | pairs < delay | overlaps | min gap |"
		sep += "---:|---:|---:|---:|---:|"
	}
	fmt.Fprintln(&sb, head)
	fmt.Fprintln(&sb, sep)
	for _, r := range rs {
		if r.Failed != "" {
			fmt.Fprintf(&sb, "| %s | failed: %s | | | | | | |\n", r.Tool, r.Failed)
			continue
		}
		var rss []string
		for _, k := range sortedKeys(r.PeakRSS) {
			rss = append(rss, k+" "+mib(r.PeakRSS[k]))
		}
		var errs []string
		for _, k := range sortedKeys(r.Errors) {
			errs = append(errs, fmt.Sprintf("%s %d", k, r.Errors[k]))
		}
		fmt.Fprintf(&sb, "| %s | %.0f | %d | %s | %.2f | %s | %s | %s |", r.Tool, r.pagesPerSec(), r.PagesOK,
			r.Wall.Round(100*time.Millisecond), r.cpuPer1000(), strings.Join(rss, ", "), strings.Join(errs, ", "), r.Extra["websim_cpu"])
		if ws := r.Web; w.site && ws != nil {
			fmt.Fprintf(&sb, " %d (%d) | %d | %d | %d |", ws.Requests, ws.Robots, ws.Repeated, ws.Extra, ws.Missed)
		} else if w.site {
			fmt.Fprint(&sb, " | | | |")
		}
		if ws := r.Web; w.delay > 0 && ws != nil {
			fmt.Fprintf(&sb, " %.2f | %d (%d) | %d | %d | %s |", r.pagesPerSec()/limit.PagesPS, ws.Close, ws.CloseRobots, ws.Short, ws.Overlaps, ws.MinGap.Round(time.Millisecond))
		}
		fmt.Fprintln(&sb)
	}
	if w.site {
		fmt.Fprintf(&sb, "\nwebsim's view of each run (its request timeline): page requests and robots.txt requests; repeated: requests of a URL already requested in the run; not in truth: distinct URLs a correct crawl does not request (e.g. behind a redirect robots.txt disallows); truth missed: URLs a correct crawl requests that the run did not.")
		if w.delay > 0 {
			fmt.Fprintf(&sb, " Pairs < delay − 10 ms: consecutive requests to one host whose starts, as websim saw them, are closer than %s by more than 10 ms (in brackets: those right after the host's robots.txt); pairs < delay: closer at all, which includes a few ms of connect and scheduling jitter between a crawler sending and websim's handler starting (the raw limit, which spaces its sends exactly, shows them too); overlaps: a request to a host starting before the previous one ended; min gap: the smallest start-to-start gap on one host.", w.delay)
		}
		fmt.Fprintln(&sb)
		for _, r := range rs {
			if r.Web != nil && len(r.Web.ExtraEg) > 0 {
				fmt.Fprintf(&sb, "%s requested outside the truth, e.g. %s.\n", r.Tool, strings.Join(r.Web.ExtraEg, ", "))
			}
		}
	}
	for _, r := range rs {
		if r.Tool == "crawlmaster-plaintext" && r.Failed == "" {
			fmt.Fprintf(&sb, "\ncrawlmaster-plaintext (tls.plaintext, otherwise the same): CPU per page: %s.\n", cpuSplit(r))
			if r.Truth != nil {
				fmt.Fprintf(&sb, "crawlmaster-plaintext's frontier against websim's crawl truth: %s.\n", r.Truth)
			}
		}
		if r.Tool == "crawlmaster" && r.Failed == "" {
			fmt.Fprintf(&sb, "\ncrawlmaster: slot utilisation %.3f (busy slots / slots, sampled while the assistant had work ready), refill latency p50 %s, p99 %s.\n",
				r.Utilisation, r.RefillP50.Round(time.Microsecond), r.RefillP99.Round(time.Microsecond))
			fmt.Fprintf(&sb, "crawlmaster CPU per page: %s.\n", cpuSplit(r))
			fmt.Fprintf(&sb, "crawlmaster timeline from the master's start: first fetch %s, last fetch started %s, last result persisted %s.\n",
				r.FirstFetch.Round(time.Millisecond), r.LastFetch.Round(time.Millisecond), r.LastPersist.Round(time.Millisecond))
			fmt.Fprintf(&sb, "crawlmaster per assistant: %s.\n", strings.Join(r.PerAssistant, "; "))
			fmt.Fprintf(&sb, "crawlmaster claim latency: p50 %s, p99 %s.\n", r.ClaimP50.Round(time.Microsecond), r.ClaimP99.Round(time.Microsecond))
			if r.Links != "" {
				fmt.Fprintf(&sb, "crawlmaster links: %s.\n", r.Links)
			}
			if r.Truth != nil {
				fmt.Fprintf(&sb, "crawlmaster's frontier against websim's crawl truth: %s.\n", r.Truth)
			}
			if len(r.Progress) > 0 {
				fmt.Fprintf(&sb, "\ncrawlmaster over time (every 10 s; final URLs are done, failed or dead; RSS is the peak so far):\n\n")
				fmt.Fprintf(&sb, "| t | final URLs | final/s | master MiB | assistants MiB | postgres MiB (largest backend) |\n|---:|---:|---:|---:|---|---:|\n")
				fmt.Fprintf(&sb, "%s\n\n", strings.Join(r.Progress, "\n"))
			}
		}
	}
	byTool := map[string]result{}
	for _, r := range rs {
		byTool[r.Tool] = r
	}
	rate := func(a, b string) (float64, bool) {
		x, y := byTool[a], byTool[b]
		if x.Tool == "" || y.Tool == "" || x.Failed != "" || y.Failed != "" || y.pagesPerSec() == 0 {
			return 0, false
		}
		return x.pagesPerSec() / y.pagesPerSec(), true
	}
	ratio := func(a, b string) string {
		if v, ok := rate(a, b); ok {
			return fmt.Sprintf("%.2f", v)
		}
		return "n/a"
	}
	fmt.Fprintf(&sb, "\ncrawlmaster / raw limit: %s; crawlmaster / Colly: %s; crawlmaster / Scrapy: %s.\n",
		ratio("crawlmaster", "raw"), ratio("crawlmaster", "colly"), ratio("crawlmaster", "scrapy"))
	if tls, plain := byTool["crawlmaster"], byTool["crawlmaster-plaintext"]; tls.Tool != "" && plain.Tool != "" && tls.Failed == "" && plain.Failed == "" && tls.PagesOK > 0 && plain.PagesOK > 0 {
		// What mutual TLS costs: the same crawl in the same run, with and
		// without it. The daemons' CPU only: PostgreSQL's does not depend
		// on the master-assistant transport.
		daemons := func(r result) float64 {
			return (r.CPUSplit["master"] + r.CPUSplit["assistant-1"] + r.CPUSplit["assistant-2"]).Seconds() / float64(r.PagesOK) * 1000
		}
		dt, dp := daemons(tls), daemons(plain)
		fmt.Fprintf(&sb, "TLS cost (mutual TLS, the default, against tls.plaintext; same workload, same run): %.0f vs %.0f pages/s (mTLS / plaintext %s); "+
			"master + assistants %.3f vs %.3f CPU-s per 1000 pages (%.2f×, %+.0f µs per page); all of crawlmaster with PostgreSQL %.2f vs %.2f.\n",
			tls.pagesPerSec(), plain.pagesPerSec(), ratio("crawlmaster", "crawlmaster-plaintext"), dt, dp, dt/dp, (dt-dp)*1000, tls.cpuPer1000(), plain.cpuPer1000())
	}
	target := func(name string, v float64, ok bool, want float64) {
		if !ok {
			fmt.Fprintf(&sb, "- %s: n/a\n", name)
			return
		}
		verdict := "met"
		if v < want {
			verdict = "**not met**"
		}
		fmt.Fprintf(&sb, "- %s: %.2f (%s)\n", name, v, verdict)
	}
	switch {
	case w.delay > 0:
		fmt.Fprintf(&sb, "\nTarget:\n\n")
		cm, ok := byTool["crawlmaster"]
		target("crawlmaster ≥ 0.9 × the politeness limit", cm.pagesPerSec()/limit.PagesPS, ok && cm.Failed == "", 0.9)
		if ok && cm.Web != nil {
			verdict := "met"
			if cm.Web.Close > 0 {
				verdict = "**not met**"
			}
			fmt.Fprintf(&sb, "- crawlmaster: no two requests to one host closer than %s (less 10 ms of jitter): %d such pairs of %d, min gap %s (%s)\n", w.delay, cm.Web.Close, cm.Web.Pairs, cm.Web.MinGap.Round(time.Millisecond), verdict)
		}
	case w.site:
		fmt.Fprintf(&sb, "\nTargets:\n\n")
		v, ok := rate("crawlmaster", "colly")
		target("crawlmaster ≥ 1 × Colly's pages/s", v, ok, 1)
		v, ok = rate("crawlmaster", "scrapy")
		target("crawlmaster ≥ 10 × Scrapy's pages/s", v, ok, 10)
		if cm, ok := byTool["crawlmaster"]; ok && cm.Truth != nil {
			verdict := "met"
			if len(cm.Truth.Extra)+len(cm.Truth.Missing)+len(cm.Truth.Wrong) > 0 {
				verdict = "**not met**"
			}
			fmt.Fprintf(&sb, "- crawlmaster's crawl equals websim's truth: %s\n", verdict)
		}
	}
	return sb.String()
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func writeMarkdown(o options, sections []string) error {
	host, _ := os.Hostname()
	cpu := "unknown"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "model name") {
				cpu = strings.TrimSpace(strings.SplitN(l, ":", 2)[1])
				break
			}
		}
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "<!-- generated by `make bench` on %s (%s); edit the prose below the marker only -->\n", time.Now().UTC().Format(time.DateTime), host)
	fmt.Fprintf(&sb, "## Latest run\n\nMachine: %d cores (%s), %s, Go %s. All contenders, websim and PostgreSQL share the machine.\n\n",
		runtime.NumCPU(), cpu, memTotal(), runtime.Version())
	for _, s := range sections {
		sb.WriteString(s)
		sb.WriteString("\n")
	}
	prev, _ := os.ReadFile(o.out)
	const marker = "<!-- end of generated part -->"
	rest := ""
	if _, after, ok := strings.Cut(string(prev), marker); ok {
		rest = after
	}
	sb.WriteString(marker)
	sb.WriteString(rest)
	return os.WriteFile(o.out, []byte(sb.String()), 0o644)
}

func memTotal() string {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return ""
	}
	for _, l := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(l, "MemTotal:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return fmt.Sprintf("%.0f GiB RAM", float64(kb)/(1<<20))
		}
	}
	return ""
}
