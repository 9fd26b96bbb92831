// Command harness runs crawlmaster's benchmark: the same websim domain list
// crawled by the raw-limit fetcher, crawlmaster (PostgreSQL + master + two
// assistants as processes, results persisted), Colly and Scrapy, one after
// another, with robots.txt obeyed, the same total concurrency and the same
// timeouts, for a CPU-bound and a latency-bound workload. It prints one
// table and writes it, with the machine and how to reproduce it, to
// BENCHMARKS.md. Run it through `make bench` (scripts/bench.sh), which
// builds and installs everything it needs.
package main

import (
	"bufio"
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

	"github.com/crawlmaster/crawlmaster/internal/procstat"
)

type options struct {
	bin, out, dbURL, contenders string
	profile                     string // directory for CPU profiles of crawlmaster's processes; empty: none
	domains, concurrency        int
	daemonProcs                 int // GOMAXPROCS of each crawlmaster daemon; 0: Go's default
	timeout                     time.Duration
	workloads                   string
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
	flag.StringVar(&o.contenders, "contenders", "raw,crawlmaster,colly,scrapy", "which contenders to run, in order")
	flag.StringVar(&o.workloads, "workloads", "cpu,latency", "which workloads to run")
	flag.IntVar(&o.daemonProcs, "daemon-procs", 1, "GOMAXPROCS of each crawlmaster daemon (master, two assistants) sharing the machine; 0: Go's default, every core each")
	flag.StringVar(&o.profile, "profile", "", "if set, write CPU profiles of crawlmaster's master and assistants (pprof, over its crawl) into this directory")
	flag.Parse()
	if o.dbURL == "" {
		fatal(errors.New("--database (or DATABASE_URL) is required"))
	}
	var sections []string
	for _, w := range strings.Split(o.workloads, ",") {
		res, err := runWorkload(o, w)
		if err != nil {
			fatal(err)
		}
		sections = append(sections, table(o, w, res))
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

// websimArgs gives each workload its synthetic web. One websim serves every
// contender of a workload, one after another, so it must answer each the
// same: no "flaky" hosts, whose home page fails only on its first request
// (the first contender got 184 more 503s than the others).
func websimArgs(workload string) []string {
	if workload == "latency" {
		// Median 100 ms with a long tail; websim's default share of
		// hanging hosts (0.5%) hang past every contender's timeout.
		return []string{"--fraction", "flaky=0", "--latency-median", "100ms", "--latency-sigma", "0.8", "--latency-max", "3s"}
	}
	// Answers at once, and nothing hangs or stalls: the wall time then
	// measures throughput, not the timeout of a few hosts.
	return []string{"--fraction", "flaky=0", "--hang-fraction", "0", "--fraction", "robots_slow=0", "--fraction", "robots_hang=0"}
}

func runWorkload(o options, workload string) ([]result, error) {
	dir, err := os.MkdirTemp("", "crawlmaster-bench-"+workload)
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	args := append([]string{"--domains", strconv.Itoa(o.domains), "--seed", "1", "--listen", "127.0.0.1:0", "--out", dir}, websimArgs(workload)...)
	sim := exec.Command(filepath.Join(o.bin, "websim"), args...)
	sim.Stderr = io.Discard
	if err := sim.Start(); err != nil {
		return nil, fmt.Errorf("start websim: %w", err)
	}
	defer func() { _ = sim.Process.Signal(syscall.SIGTERM); _ = sim.Wait() }()
	addr, err := waitFile(filepath.Join(dir, "addr"), 30*time.Second)
	if err != nil {
		return nil, fmt.Errorf("websim: %w", err)
	}
	list := filepath.Join(dir, "tranco.csv")
	fmt.Fprintf(os.Stderr, "== workload %s: %d domains on websim %s, concurrency %d, timeout %s\n", workload, o.domains, addr, o.concurrency, o.timeout)
	var out []result
	for _, c := range strings.Split(o.contenders, ",") {
		fmt.Fprintf(os.Stderr, "-- %s\n", c)
		simCPU0 := procCPU(sim.Process.Pid)
		var r result
		switch c {
		case "raw":
			args := peerArgs(o, list, addr)
			if o.profile != "" {
				args = append(args, "--cpuprofile", filepath.Join(o.profile, workload+"-raw.pprof"))
			}
			r = runPeer("raw", filepath.Join(o.bin, "rawlimit"), args)
		case "colly":
			// Colly checks robots.txt synchronously inside Visit (a plain
			// Visit loop fetches robots.txt one at a time), then fetches the
			// page asynchronously under its Parallelism limit. Half the
			// concurrency for each keeps at most the same number of requests
			// in flight as the other contenders.
			colly := peerArgs(options{concurrency: max(1, o.concurrency/2), timeout: o.timeout}, list, addr)
			r = runPeer("colly", filepath.Join(o.bin, "colly-bench"), append(colly, "--visitors", strconv.Itoa(max(1, o.concurrency/2))))
		case "scrapy":
			r = runPeer("scrapy", "bench/scrapy/run.sh", peerArgs(o, list, addr))
		case "crawlmaster":
			r = runCrawlmaster(o, workload, list, addr)
		default:
			return nil, fmt.Errorf("unknown contender %q", c)
		}
		r.Extra = map[string]string{"websim_cpu": (procCPU(sim.Process.Pid) - simCPU0).Round(10 * time.Millisecond).String()}
		if r.Failed != "" {
			fmt.Fprintf(os.Stderr, "   %s FAILED: %s\n", c, r.Failed)
		} else {
			fmt.Fprintf(os.Stderr, "   %d pages ok in %s: %.0f pages/s, %.2f CPU-s per 1000 pages\n", r.PagesOK, r.Wall.Round(time.Millisecond), r.pagesPerSec(), r.cpuPer1000())
		}
		out = append(out, r)
	}
	return out, nil
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
func runCrawlmaster(o options, workload, list, simAddr string) result {
	r := result{Tool: "crawlmaster", PeakRSS: map[string]int64{}}
	fail := func(err error) result { r.Failed = err.Error(); return r }
	ctx := context.Background()
	dbName := fmt.Sprintf("bench_%s_%d", workload, time.Now().Unix())
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
  default_delay: 0s        # the peers have no politeness delay either
  resolve: ["*.test=%s"]
log: {level: %s}
metrics: {pprof: true}     # for profiling a run in progress (loopback only)
`, ports[0], ports[1], slots, ports[3], ports[2], slots, ports[4], dbURL, o.timeout, min(o.timeout, 5*time.Second), o.timeout, simAddr, logLevel)
	cfgPath := filepath.Join(dir, "rpc.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		return fail(err)
	}
	env := append(os.Environ(), "DATABASE_URL="+dbURL)
	if o.daemonProcs > 0 {
		// Three daemons share the machine's cores with PostgreSQL and
		// websim. With every daemon scheduling goroutines on every core,
		// their idle threads spin for work the others are running: ~15%
		// of the assistants' CPU per page on 2 cores. An operator
		// co-locating daemons splits the cores the same way.
		env = append(env, fmt.Sprintf("GOMAXPROCS=%d", o.daemonProcs))
	}
	imp := exec.Command(filepath.Join(o.bin, "master"), "import-tranco", "--config", cfgPath, "--scheme", "http", list)
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

	var procs []*exec.Cmd
	startProc := func(args ...string) (*exec.Cmd, error) {
		c := exec.Command(filepath.Join(o.bin, args[0]), args[1:]...)
		c.Env = env
		c.Stderr = io.Discard
		if logDir != "" {
			f, err := os.Create(filepath.Join(logDir, fmt.Sprintf("%s-%s-%d.log", workload, args[0], len(procs))))
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
	pgCPU0 := postgresCPU()
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
				path := filepath.Join(o.profile, workload+"-"+name)
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
		if final >= total || time.Since(lastDBCheck) >= 5*time.Second {
			lastDBCheck = time.Now()
			if err := conn.QueryRow(ctx, `SELECT count(*) FROM frontier WHERE state IN ('done','failed','dead')`).Scan(&final); err != nil {
				return fail(err)
			}
		}
		if !nearEnd && final >= total*99/100 {
			// The crawl's end is taken when it is noticed: look closely.
			nearEnd = true
			tick.Reset(50 * time.Millisecond)
		}
		if final < total*9/10 {
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
	r.CPUSplit["postgres"] = postgresCPU() - pgCPU0
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
	return r
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

// postgresCPU is the CPU time of every PostgreSQL process on the machine,
// including backends that exited (the postmaster's reaped-children time).
func postgresCPU() time.Duration {
	var total time.Duration
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		if pid, err := strconv.Atoi(e.Name()); err == nil && isPostgres(pid) {
			total += procstat.CPU(pid, true)
		}
	}
	return total
}

func isPostgres(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return err == nil && strings.Contains(string(b), "postgres")
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

// scrapeClient asks for uncompressed metrics: the daemons would otherwise
// gzip every scrape, CPU charged to crawlmaster by the benchmark itself.
var scrapeClient = http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableCompression: true}}

func scrape(port int) []string {
	resp, err := scrapeClient.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", port))
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	var lines []string
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	return lines
}

type bucket struct {
	le    float64
	count float64
}

func histogram(port int, name string) []bucket {
	var bs []bucket
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

func table(o options, workload string, rs []result) string {
	var sb strings.Builder
	title := map[string]string{"cpu": "CPU-bound (websim answers at once)", "latency": "Latency-bound (median 100 ms, long tail, 0.5% hangs)"}[workload]
	fmt.Fprintf(&sb, "### %s: %d domains, concurrency %d, timeout %s\n\n", title, o.domains, o.concurrency, o.timeout)
	fmt.Fprintln(&sb, "| contender | pages/s (200 OK) | pages | wall | CPU-s / 1000 pages | peak RSS MiB | errors | websim CPU |")
	fmt.Fprintln(&sb, "|---|---:|---:|---:|---:|---|---|---:|")
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
		fmt.Fprintf(&sb, "| %s | %.0f | %d | %s | %.2f | %s | %s | %s |\n", r.Tool, r.pagesPerSec(), r.PagesOK,
			r.Wall.Round(100*time.Millisecond), r.cpuPer1000(), strings.Join(rss, ", "), strings.Join(errs, ", "), r.Extra["websim_cpu"])
	}
	for _, r := range rs {
		if r.Tool == "crawlmaster" && r.Failed == "" {
			fmt.Fprintf(&sb, "\ncrawlmaster: slot utilisation %.3f (busy slots / slots, sampled while the assistant had work ready), refill latency p50 %s, p99 %s.\n",
				r.Utilisation, r.RefillP50.Round(time.Microsecond), r.RefillP99.Round(time.Microsecond))
			var parts []string
			for _, k := range sortedKeys(r.CPUSplit) {
				parts = append(parts, fmt.Sprintf("%s %.0f µs", k, float64(r.CPUSplit[k].Microseconds())/float64(max(r.PagesOK, 1))))
			}
			fmt.Fprintf(&sb, "crawlmaster CPU per page: %s.\n", strings.Join(parts, ", "))
			fmt.Fprintf(&sb, "crawlmaster timeline from the master's start: first fetch %s, last fetch started %s, last result persisted %s.\n",
				r.FirstFetch.Round(time.Millisecond), r.LastFetch.Round(time.Millisecond), r.LastPersist.Round(time.Millisecond))
			fmt.Fprintf(&sb, "crawlmaster per assistant: %s.\n", strings.Join(r.PerAssistant, "; "))
			fmt.Fprintf(&sb, "crawlmaster claim latency: p50 %s, p99 %s.\n", r.ClaimP50.Round(time.Microsecond), r.ClaimP99.Round(time.Microsecond))
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
	ratio := func(a, b string) string {
		x, y := byTool[a], byTool[b]
		if x.Failed != "" || y.Failed != "" || y.pagesPerSec() == 0 {
			return "n/a"
		}
		return fmt.Sprintf("%.2f", x.pagesPerSec()/y.pagesPerSec())
	}
	fmt.Fprintf(&sb, "crawlmaster / raw limit: %s; crawlmaster / Colly: %s; crawlmaster / Scrapy: %s.\n",
		ratio("crawlmaster", "raw"), ratio("crawlmaster", "colly"), ratio("crawlmaster", "scrapy"))
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
