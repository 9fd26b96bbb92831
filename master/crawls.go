package master

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/crawlmaster/crawlmaster/master/frontier"
	"github.com/crawlmaster/crawlmaster/master/store"
)

// PolicyLine describes a crawl's policy on one line.
func PolicyLine(c frontier.Crawl) string {
	var b strings.Builder
	if !c.Discovers() {
		b.WriteString("the URLs given (max depth 0)")
	} else {
		discoveryPolicy(&b, c)
	}
	switch rv := c.Revisit; rv.Mode {
	case frontier.RevisitFixed:
		fmt.Fprintf(&b, "; revisit fixed: done %v, failed %v, dead %v", rv.Done, rv.Failed, rv.Dead)
	case frontier.RevisitAdaptive:
		fmt.Fprintf(&b, "; revisit adaptive %v..%v (first %v), failed %v, dead %v", rv.Min, rv.Max, rv.Done, rv.Failed, rv.Dead)
	}
	if sc := c.Schedule; sc.Scheduled() {
		if sc.Cron != "" {
			fmt.Fprintf(&b, "; cron %q", sc.Cron)
		} else {
			fmt.Fprintf(&b, "; every %v", sc.Every)
		}
		fmt.Fprintf(&b, " (overlap %s, %d rounds", sc.Overlap, c.Rounds)
		if !c.NextRound.IsZero() {
			fmt.Fprintf(&b, ", next %s", c.NextRound.UTC().Format(time.RFC3339))
		}
		b.WriteString(")")
	}
	if c.Retention > 0 {
		fmt.Fprintf(&b, "; retention %v", c.Retention)
	}
	return b.String()
}

func discoveryPolicy(b *strings.Builder, c frontier.Crawl) {
	fmt.Fprintf(b, "scope %s, max depth %d, site budget %d, max links %d, guards: url length %d, path segments %d, repeated segments %d",
		c.Scope, c.MaxDepth, c.SiteBudget, c.MaxLinks, c.MaxURLLength, c.MaxPathSegments, c.MaxRepeatedSegments)
	if c.Sitemaps {
		b.WriteString(", sitemaps")
	}
	for _, e := range c.Allow {
		fmt.Fprintf(b, ", allow %q", e)
	}
	for _, e := range c.Deny {
		fmt.Fprintf(b, ", deny %q", e)
	}
}

// crawlProgress is a crawl's line of `master status` and `master crawl`.
type crawlProgress struct {
	crawl  frontier.Crawl
	counts *store.CrawlCounts
	window time.Duration
}

// rates are the final results and the new URLs per second over the window.
func (p crawlProgress) rates() (fetched, found float64) {
	s := p.window.Seconds()
	return float64(p.counts.FetchedSince) / s, float64(p.counts.NewSince) / s
}

// ETA says when the crawl's frontier should be done. While links are
// still being found, the frontier grows as it is fetched: the estimate
// divides what is left by the net rate (fetched minus found per second)
// and also gives the time to fetch only what is known now, the figure the
// crawl reaches once discovery stops. While it grows faster than it is
// fetched there is no estimate.
func (p crawlProgress) ETA() string {
	left := p.counts.Total(frontier.StatePending) + p.counts.Total(frontier.StateLeased)
	fetched, found := p.rates()
	switch {
	case left == 0:
		return "done"
	case fetched == 0:
		return "unknown (nothing fetched in the last minute)"
	case found == 0:
		return round(float64(left) / fetched).String()
	case found >= fetched:
		return fmt.Sprintf("none yet: the frontier grows (%.1f URLs/s found, %.1f fetched)", found, fetched)
	}
	return fmt.Sprintf("%s at the net rate (%.1f found/s); %s for the URLs known now",
		round(float64(left)/(fetched-found)), found, round(float64(left)/fetched))
}

func round(sec float64) time.Duration {
	return time.Duration(sec * float64(time.Second)).Round(time.Second)
}

// write prints the crawl's summary and its table by depth.
func (p crawlProgress) write(w io.Writer) error {
	c, n := p.crawl, p.counts
	state := "active"
	if c.Paused {
		state = "PAUSED"
	}
	fetched, _ := p.rates()
	final := n.Total(frontier.StateDone) + n.Total(frontier.StateFailed) + n.Total(frontier.StateDead)
	fmt.Fprintf(w, "crawl %s (%s): %s\n", c.Name, state, PolicyLine(c))
	// In flight and pages/s show each crawl's share of the assistants:
	// crawls share them by URL priority (a claim takes the due URLs of
	// every unpaused crawl in priority order), not by crawl.
	fmt.Fprintf(w, "  %d URLs (%d seeds, %d discovered), %d fetched (final), %d in flight, %.1f pages/s, ETA %s\n",
		n.Total(""), n.Total("")-n.Discovered(), n.Discovered(), final, n.Total(frontier.StateLeased), fetched, p.ETA())
	if !c.Discovers() {
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "  depth\t")
	for _, s := range frontier.AllStates {
		fmt.Fprintf(tw, "%s\t", s)
	}
	fmt.Fprintln(tw)
	depths := make([]int16, 0, len(n.ByDepth))
	for d := range n.ByDepth {
		depths = append(depths, d)
	}
	slices.Sort(depths)
	for _, d := range depths {
		fmt.Fprintf(tw, "  %d\t", d)
		for _, s := range frontier.AllStates {
			fmt.Fprintf(tw, "%d\t", n.ByDepth[d][s])
		}
		fmt.Fprintln(tw)
	}
	return tw.Flush()
}

// readProgress gathers every crawl's progress over the last minute.
func readProgress(ctx context.Context, st *store.Store) ([]crawlProgress, error) {
	const window = time.Minute
	crawls, err := st.Crawls(ctx)
	if err != nil {
		return nil, err
	}
	counts, err := st.CrawlCounts(ctx, time.Now().Add(-window))
	if err != nil {
		return nil, err
	}
	out := make([]crawlProgress, 0, len(crawls))
	for _, c := range crawls {
		n := counts[c.ID]
		if n == nil {
			n = &store.CrawlCounts{CrawlID: c.ID}
		}
		out = append(out, crawlProgress{crawl: c, counts: n, window: window})
	}
	return out, nil
}

// ListCrawls prints every crawl with its policy and progress.
func ListCrawls(ctx context.Context, st *store.Store, w io.Writer) error {
	ps, err := readProgress(ctx, st)
	if err != nil {
		return err
	}
	for _, p := range ps {
		if err := p.write(w); err != nil {
			return err
		}
	}
	return nil
}

// ShowCrawl prints one crawl: its policy and its frontier by depth.
func ShowCrawl(ctx context.Context, st *store.Store, w io.Writer, name string) error {
	if _, err := st.Crawl(ctx, name); err != nil {
		return err
	}
	ps, err := readProgress(ctx, st)
	if err != nil {
		return err
	}
	for _, p := range ps {
		if p.crawl.Name == name {
			return p.write(w)
		}
	}
	return nil
}
