package master_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/crawlmaster/crawlmaster/crawl/netguard"
	"github.com/crawlmaster/crawlmaster/internal/config"
	"github.com/crawlmaster/crawlmaster/internal/websim"
	"github.com/crawlmaster/crawlmaster/master"
	"github.com/crawlmaster/crawlmaster/master/frontier"
)

// BenchmarkRevisits keeps an adaptive crawl of websim's changing pages
// fresh for a minute, twice on one machine: once with every host
// answering conditional requests, once with every host ignoring them (a
// full 200 each time, unchanged content found by its hash). It prints
// fetches per second and the body bytes websim sent per second over the
// last 40 s, and what conditional requests saved. Run with -benchtime 1x
// (make bench-revisit).
func BenchmarkRevisits(b *testing.B) {
	type run struct {
		fetches, notMod, unchanged int64
		perSec, bodyPerSec         float64
	}
	var runs [2]run
	for i, ignore := range []float64{-1, 1} {
		runs[i] = func() run {
			simCfg := websim.Config{Domains: 5000, Seed: 21, Fractions: websim.DefaultFractions(), HangFor: 30 * time.Second,
				Changing: websim.ChangingConfig{Enabled: true, Intervals: []time.Duration{5 * time.Second, 10 * time.Second, 20 * time.Second, 40 * time.Second},
					IgnoreConditionalShare: ignore, PagesPerHost: 4}}
			pol := frontier.NewCrawl("fresh")
			pol.MaxDepth = 0
			pol.Revisit = frontier.Revisit{Mode: frontier.RevisitAdaptive, Done: 5 * time.Second, Min: time.Second, Max: time.Minute}
			c := newClusterCrawl(b, simCfg, &pol, func(cfg *config.Config) {
				cfg.Dispatch.PollInterval = 200 * time.Millisecond
				cfg.Dispatch.PollTimeout = 150 * time.Millisecond
			}, 2, 100)
			ctx := context.Background()
			cr, err := c.store.Crawl(ctx, "fresh")
			if err != nil {
				b.Fatal(err)
			}
			var urls []string
			for r := 1; r <= simCfg.Domains; r++ {
				urls = append(urls, c.sim.ChangingURLs(r)...)
			}
			if _, err := master.Enqueue(ctx, c.store, cr, strings.NewReader(strings.Join(urls, "\n")), 0,
				netguard.New(c.cfg.Fetch.AllowedPrefixes())); err != nil {
				b.Fatal(err)
			}
			c.startMaster()
			<-time.After(20 * time.Second) // every page fetched once, the intervals adapting
			from, bytes0 := time.Now(), c.sim.ChangingBodyBytes()
			<-time.After(40 * time.Second)
			to, bytes1 := time.Now(), c.sim.ChangingBodyBytes()
			c.stop()
			var r run
			if err := c.pool.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE not_modified), count(*) FILTER (WHERE unchanged)
				FROM results WHERE url LIKE '%/changing/%' AND persisted_at >= $1 AND persisted_at < $2`, from, to).
				Scan(&r.fetches, &r.notMod, &r.unchanged); err != nil {
				b.Fatal(err)
			}
			secs := to.Sub(from).Seconds()
			r.perSec, r.bodyPerSec = float64(r.fetches)/secs, float64(bytes1-bytes0)/secs
			fmt.Printf("revisits of %d changing pages, hosts %s conditional requests: %.0f fetches/s, %.1f%% 304, %.1f%% unchanged, %.2f MB/s of bodies from websim\n",
				len(urls), map[bool]string{true: "answering", false: "ignoring"}[ignore < 0], r.perSec,
				100*float64(r.notMod)/float64(max(r.fetches, 1)), 100*float64(r.unchanged)/float64(max(r.fetches, 1)), r.bodyPerSec/1e6)
			return r
		}()
	}
	saved := 1 - (runs[0].bodyPerSec/runs[0].perSec)/(runs[1].bodyPerSec/runs[1].perSec)
	fmt.Printf("conditional requests: %.0f%% fewer body bytes per fetch; fetches/s ratio %.2f (answering / ignoring)\n",
		100*saved, runs[0].perSec/runs[1].perSec)
	b.ReportMetric(runs[0].perSec, "fetches/s")
	b.ReportMetric(100*saved, "%bytes-saved")
}
