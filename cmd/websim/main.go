// Command websim serves the synthetic web of package websim on a loopback
// port, for testing and benchmarking the crawler.
//
//	websim --domains N --seed S --listen 127.0.0.1:0 --out DIR \
//	    [--latency-median 100ms --latency-sigma 1.0 --hang-fraction 0.01] \
//	    [--sites all --site-pages mean=50,sigma=1,max=1000 --site-features all \
//	     --crawl-truth scope=domain,depth=3] [--timeline-out FILE]
//
// It writes DIR/tranco.csv (the domain list in Tranco format),
// DIR/ground-truth.csv (the expected crawl outcome per domain), with
// --crawl-truth DIR/crawl-truth.csv (every URL a correct crawl of that
// policy admits, with depth and outcome) and, once listening, DIR/addr
// (the actual listen address, no newline; written last and atomically, so
// scripts can wait for it). It serves until SIGINT or SIGTERM, then closes
// cleanly, writes the request count of every requested (host, path) as
// "host,path,count" CSV to the file given by --requests-out, if any, the
// per-host request timeline to --timeline-out, if any, and exits 0. Usage
// errors exit 2.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/crawlmaster/crawlmaster/internal/atomicfile"
	"github.com/crawlmaster/crawlmaster/internal/websim"
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr, nil))
}

const usageHead = `Usage: websim --domains N --seed S --listen ADDR --out DIR [flags]

Serves a deterministic synthetic web of N domains (w<rank>-<word>.test) on
one port, chosen by Host header; with --sites, domains are sites with a link
graph. Writes DIR/tranco.csv, DIR/ground-truth.csv, with --crawl-truth
DIR/crawl-truth.csv, and, once listening, DIR/addr. Runs until SIGINT/SIGTERM.

Flags:
`

// run is main without the process exit: -h prints the usage to stdout,
// logs and errors go to stderr; ready, if set, is called with the listen
// address once DIR/addr is written. It returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, ready func(addr string)) int {
	cfg := websim.DefaultConfig()
	fs := flag.NewFlagSet("websim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {} // parse errors print a one-line hint instead, -h the full usage
	fs.IntVar(&cfg.Domains, "domains", cfg.Domains, "number of domains, ranks 1..N")
	fs.Int64Var(&cfg.Seed, "seed", cfg.Seed, "seed of the deterministic universe")
	fs.StringVar(&cfg.Addr, "listen", cfg.Addr, "TCP listen address")
	out := fs.String("out", "", "output directory for tranco.csv, ground-truth.csv and addr (required)")
	requestsOut := fs.String("requests-out", "", "at shutdown, write every requested host and path with its request count to this CSV file")
	fs.DurationVar(&cfg.LatencyMedian, "latency-median", 0, "median of the log-normal per-request latency (0: answer at once)")
	fs.Float64Var(&cfg.LatencySigma, "latency-sigma", cfg.LatencySigma, "sigma of the log-normal latency")
	fs.DurationVar(&cfg.LatencyMax, "latency-max", cfg.LatencyMax, "cap on any drawn latency")
	fs.DurationVar(&cfg.HangFor, "hang-for", cfg.HangFor, "how long hanging endpoints stall (must exceed the crawler's timeout)")
	fs.Int64Var(&cfg.HugeBodySize, "huge-body-size", cfg.HugeBodySize, "body size in bytes of huge pages")
	fs.DurationVar(&cfg.RobotsSlowDelay, "robots-slow-delay", cfg.RobotsSlowDelay, "delay of slow robots.txt")
	fs.BoolVar(&cfg.GzipBomb, "gzip-bomb", false, "serve "+websim.GzipBombPath+" on every domain: ~1 MiB of gzip that decompresses to 1 GiB")
	fs.Func("hang-fraction", fmt.Sprintf("fraction of domains whose home page hangs (default %v)", cfg.Fractions.Hang),
		func(v string) error { return setFraction(&cfg.Fractions, "hang", v) })
	fs.Func("fraction", "set a profile fraction as NAME=VALUE; repeatable; NAME is one of:\n"+
		wrap(strings.Join(websim.FractionNames(), ", "), 70, "\t"),
		func(v string) error {
			name, val, ok := strings.Cut(v, "=")
			if !ok {
				return errors.New("want NAME=VALUE")
			}
			return setFraction(&cfg.Fractions, name, val)
		})
	fs.Func("sites", "domains that are sites with a link graph: all, none, a fraction (0.3, 30%) or a count (500: the first 500\n"+
		"eligible ranks); only domains whose home page is plain HTML can be sites (default none)",
		func(v string) error { return websim.ParseSites(v, &cfg.Sites) })
	fs.Func("site-pages", fmt.Sprintf("regular pages per site: MEAN or mean=M,sigma=S,max=N, drawn log-normally per site (default mean=%d,sigma=%v,max=%d)",
		websim.DefaultSitePagesMean, websim.DefaultSitePagesSigma, websim.DefaultSitePagesMax),
		func(v string) error { return websim.ParseSitePages(v, &cfg.Sites) })
	fs.Func("site-features", "site features: all, none, a list to keep (calendar,bigpage) or to leave out (-calendar,-junk); names:\n"+
		wrap(strings.Join(websim.SiteFeatureNames(), ", "), 70, "\t"),
		func(v string) error {
			without, err := websim.ParseSiteFeatures(v)
			cfg.Sites.Without = without
			return err
		})
	fs.DurationVar(&cfg.Sites.CrawlDelay, "site-crawl-delay", 0, "Crawl-delay every site's robots.txt advertises (0: none)")
	crawlTruth := fs.String("crawl-truth", "", "write DIR/crawl-truth.csv for this crawl policy, e.g. scope=domain,depth=3,sitemaps=true\n"+
		"(keys: scope, depth, budget, max_links, max_url_length, max_path_segments, max_repeated_segments,\n"+
		"sitemaps, follow_redirects, seeds=N for ranks 1..N; unset keys take the crawl defaults)")
	timelineOut := fs.String("timeline-out", "", "at shutdown, write the start and end of the last --timeline-size requests of every host\n"+
		"as host,path,start_unix_ns,end_unix_ns CSV to this file")
	fs.IntVar(&cfg.TimelineSize, "timeline-size", 0, "requests kept per host for --timeline-out (default 4096 when --timeline-out is set)")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn or error")

	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, usageHead)
			fs.SetOutput(stdout)
			fs.PrintDefaults()
			return 0
		}
		fmt.Fprintln(stderr, "Run 'websim -h' for usage.")
		return 2
	}
	usageErr := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "websim: "+format+"\n", a...)
		fmt.Fprintln(stderr, "Run 'websim -h' for usage.")
		return 2
	}
	if fs.NArg() > 0 {
		return usageErr("unexpected argument %q", fs.Arg(0))
	}
	if *out == "" {
		return usageErr("flag --out is required")
	}
	if cfg.Domains < 1 {
		return usageErr("invalid value %d for flag --domains: must be >= 1", cfg.Domains)
	}
	if cfg.LatencyMedian < 0 {
		return usageErr("invalid value %v for flag --latency-median: must be >= 0", cfg.LatencyMedian)
	}
	if cfg.LatencySigma < 0 || cfg.LatencySigma > 10 {
		return usageErr("invalid value %v for flag --latency-sigma: must be in [0,10]", cfg.LatencySigma)
	}
	if cfg.LatencyMax <= 0 {
		return usageErr("invalid value %v for flag --latency-max: must be > 0", cfg.LatencyMax)
	}
	if cfg.HangFor <= 0 {
		return usageErr("invalid value %v for flag --hang-for: must be > 0", cfg.HangFor)
	}
	if cfg.HugeBodySize <= 0 {
		return usageErr("invalid value %d for flag --huge-body-size: must be > 0", cfg.HugeBodySize)
	}
	if cfg.RobotsSlowDelay <= 0 {
		return usageErr("invalid value %v for flag --robots-slow-delay: must be > 0", cfg.RobotsSlowDelay)
	}
	if err := cfg.Fractions.Validate(); err != nil {
		return usageErr("flags --fraction/--hang-fraction: %v", err)
	}
	if cfg.TimelineSize < 0 {
		return usageErr("invalid value %d for flag --timeline-size: must be >= 0", cfg.TimelineSize)
	}
	if *timelineOut != "" && cfg.TimelineSize == 0 {
		cfg.TimelineSize = 4096
	}
	if _, err := websim.New(cfg); err != nil {
		return usageErr("flags --sites/--site-pages/--site-crawl-delay: %v", strings.TrimPrefix(err.Error(), "websim: "))
	}
	var policy *websim.CrawlPolicy
	if *crawlTruth != "" {
		p, err := websim.ParseCrawlPolicy(*crawlTruth)
		if err != nil {
			return usageErr("invalid value %q for flag --crawl-truth: %v", *crawlTruth, err)
		}
		for _, r := range p.Seeds {
			if r > cfg.Domains {
				return usageErr("invalid value %q for flag --crawl-truth: seeds beyond --domains %d", *crawlTruth, cfg.Domains)
			}
		}
		policy = &p
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return usageErr("invalid value %q for flag --log-level: %v", *logLevel, err)
	}

	base := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	log := base.With("component", "websim")
	cfg.Logger = base

	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	files := outputs{dir: *out, requests: *requestsOut, timeline: *timelineOut, policy: policy}
	if err := serve(ctx, cfg, files, log, ready); err != nil {
		log.Error("failed", "err", err)
		return 1
	}
	return 0
}

// outputs are the files websim writes.
type outputs struct {
	dir      string              // tranco.csv, ground-truth.csv, crawl-truth.csv, addr
	requests string              // request counts at exit, "" for none
	timeline string              // request timeline at exit, "" for none
	policy   *websim.CrawlPolicy // crawl-truth.csv's policy, nil for none
}

// serve writes the files, listens, publishes the address and serves until
// ctx ends; then it writes the request counts and the timeline.
func serve(ctx context.Context, cfg websim.Config, files outputs, log *slog.Logger, ready func(string)) error {
	dir, requestsOut := files.dir, files.requests
	sim, err := websim.New(cfg)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	addrPath := filepath.Join(dir, "addr")
	if err := os.Remove(addrPath); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	start := time.Now()
	if err := atomicfile.Write(filepath.Join(dir, "tranco.csv"), sim.WriteTranco); err != nil {
		return err
	}
	if err := atomicfile.Write(filepath.Join(dir, "ground-truth.csv"), sim.WriteGroundTruth); err != nil {
		return err
	}
	log.Info("wrote domain list and ground truth", "dir", dir, "domains", cfg.Domains, "seed", cfg.Seed,
		"sites", len(sim.Sites()), "took", time.Since(start).Round(time.Millisecond))
	if files.policy != nil {
		start := time.Now()
		pol := *files.policy
		if err := atomicfile.Write(filepath.Join(dir, "crawl-truth.csv"), func(w io.Writer) error { return sim.WriteCrawlTruth(w, pol) }); err != nil {
			return err
		}
		log.Info("wrote crawl truth", "file", filepath.Join(dir, "crawl-truth.csv"), "policy", pol.String(),
			"took", time.Since(start).Round(time.Millisecond))
	}

	if err := sim.Start(); err != nil {
		return err
	}
	addr := sim.Addr()
	if err := atomicfile.WriteString(addrPath, addr); err != nil {
		_ = sim.Close()
		return err
	}
	log.Info("serving", "addr", addr, "addr_file", addrPath)
	if ready != nil {
		ready(addr)
	}
	<-ctx.Done()
	log.Info("shutting down", "requests", sim.TotalRequests(), "disallowed_hits", sim.DisallowedHitCount(),
		"misdirected", sim.MisdirectedRequests())
	if err := sim.Close(); err != nil {
		return err
	}
	// After Close: every handler has returned, so the counts are final.
	if requestsOut != "" {
		if err := atomicfile.Write(requestsOut, sim.WriteRequests); err != nil {
			return err
		}
		log.Info("wrote request counts", "file", requestsOut)
	}
	if files.timeline != "" {
		if err := atomicfile.Write(files.timeline, sim.WriteTimeline); err != nil {
			return err
		}
		log.Info("wrote request timeline", "file", files.timeline)
	}
	log.Info("stopped")
	return nil
}

func setFraction(f *websim.Fractions, name, val string) error {
	v, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
	if err != nil {
		return errors.New("not a number")
	}
	return f.Set(strings.TrimSpace(name), v)
}

// wrap breaks s at ", " into lines of at most width bytes, each prefixed.
func wrap(s string, width int, prefix string) string {
	var b strings.Builder
	line := prefix
	for i, w := range strings.Split(s, ", ") {
		if i > 0 {
			w = ", " + w
		}
		if len(line)+len(w) > width && line != prefix {
			b.WriteString(strings.TrimRight(line, " ") + ",\n")
			line = prefix + strings.TrimPrefix(w, ", ")
			continue
		}
		line += w
	}
	b.WriteString(line)
	return b.String()
}
