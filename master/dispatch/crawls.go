package dispatch

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/crawlmaster/crawlmaster/crawl/netguard"
	"github.com/crawlmaster/crawlmaster/internal/backoff"
	"github.com/crawlmaster/crawlmaster/master/admit"
	"github.com/crawlmaster/crawlmaster/master/frontier"
	pb "github.com/crawlmaster/crawlmaster/proto/crawlmaster/v1"
)

// crawlRefresh is how often the dispatcher rereads the crawls table: a
// paused crawl stops being claimed, a new crawl's policy is known, within
// about this long.
const crawlRefresh = 2 * time.Second

// policies is the dispatcher's view of the crawls: each one's compiled
// admission policy, and which are paused. Readers take a snapshot; the
// refresher replaces it whole.
type policies struct {
	mu       sync.RWMutex
	byID     map[int32]*admit.Policy
	paused   []int32
	anyScope []int32 // active crawls of scope any: their levels advance
	loaded   time.Time
}

// set compiles the crawls' policies, each refusing links to the hosts
// guard refuses (nil: none).
func (p *policies) set(crawls []frontier.Crawl, guard *netguard.Guard) (invalid []string) {
	byID := make(map[int32]*admit.Policy, len(crawls))
	var paused, anyScope []int32
	for _, c := range crawls {
		if c.Paused {
			paused = append(paused, c.ID)
		}
		if c.Scope == frontier.ScopeAny && c.Discovers() {
			anyScope = append(anyScope, c.ID)
		}
		pol, err := admit.Compile(c)
		if err != nil {
			// A policy the database holds but this master cannot compile
			// (written by hand, or by a version with other rules): crawl
			// its URLs without following links rather than not at all.
			fallback := frontier.NewCrawl("invalid")
			fallback.ID, fallback.MaxDepth, fallback.Paused = c.ID, 0, c.Paused
			pol, _ = admit.Compile(fallback)
			invalid = append(invalid, fmt.Sprintf("%s: %v", c.Name, err))
		}
		pol.Guard = guard
		byID[c.ID] = pol
	}
	p.mu.Lock()
	p.byID, p.paused, p.anyScope, p.loaded = byID, paused, anyScope, time.Now()
	p.mu.Unlock()
	return invalid
}

func (p *policies) get(id int32) (*admit.Policy, bool) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	pol, ok := p.byID[id]
	return pol, ok
}

func (p *policies) pausedIDs() []int32 {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.paused
}

func (p *policies) anyScopeIDs() []int32 {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.anyScope
}

// refresh rereads the crawls.
func (d *Dispatcher) refreshPolicies(ctx context.Context) error {
	crawls, err := d.store.Crawls(ctx)
	if err != nil {
		return err
	}
	for _, bad := range d.policies.set(crawls, d.cfg.Guard) {
		d.log.Error("crawl policy does not compile; crawling its URLs without following links", "crawl", bad)
	}
	return nil
}

// policyLoop rereads the crawls every crawlRefresh (jittered) until ctx
// is done, and moves the crawls of scope any on to their next level when
// the current one is done.
func (d *Dispatcher) policyLoop(ctx context.Context) {
	for backoff.Sleep(ctx, backoff.Jitter(crawlRefresh, 0.2)) == nil {
		if n, err := d.store.AdvanceLevels(ctx, d.policies.anyScopeIDs()); err != nil && ctx.Err() == nil {
			d.log.Warn("advance crawl levels", "err", err)
		} else if n > 0 {
			d.notifyAll() // URLs one level down may be claimed now
		}
		if err := d.refreshPolicies(ctx); err != nil && ctx.Err() == nil {
			d.log.Warn("read crawls", "err", err)
		}
	}
}

// policy returns the admission policy of a task's crawl. A crawl created
// since the last refresh is read at once (its seeds can be claimed before
// the next refresh).
func (d *Dispatcher) policy(crawlID int32) *admit.Policy {
	if pol, ok := d.policies.get(crawlID); ok {
		return pol
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := d.refreshPolicies(ctx); err != nil {
		d.log.Warn("read crawls", "err", err)
	}
	if pol, ok := d.policies.get(crawlID); ok {
		return pol
	}
	pol, _ := d.policies.get(frontier.DefaultCrawlID)
	return pol
}

// fetchPolicy is what a task's crawl asks of its fetch: a crawl of the
// URLs given follows redirects inside the fetch and wants no links; a site
// crawl gets redirects back as links (each URL is fetched once, as its own
// task), links from pages above its depth limit, and sitemaps for seeds.
func fetchPolicy(pol *admit.Policy, t frontier.Task) *pb.FetchPolicy {
	c := &pol.Crawl
	if !c.Discovers() {
		return nil // unset: follow redirects, no links
	}
	fp := &pb.FetchPolicy{Sitemaps: c.Sitemaps && t.Depth == 0}
	if int(t.Depth) < c.MaxDepth {
		fp.MaxLinks = uint32(c.MaxLinks)
	}
	return fp
}
