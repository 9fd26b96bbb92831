package crawl

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/crawlmaster/crawlmaster/crawl/errclass"
	"github.com/crawlmaster/crawlmaster/crawl/fetchconfig"
)

// politeness spaces page requests to one host: a request may start at
// max(now, next[host]), and then next[host] = start + delay where delay =
// max(DefaultDelay, min(Crawl-delay, MaxCrawlDelay)). The slot is reserved
// under the lock before waiting, so concurrent callers for one host queue
// up one delay apart instead of all waking at once.
//
// The host key is hostKey: host[:port] lowercased without a default port;
// http and https of one host share it (it is one server).
type politeness struct {
	cfg   fetchconfig.Config
	clock Clock
	next  Fetcher

	mu      sync.Mutex
	nextAt  map[string]time.Time
	sweepAt int // map size that triggers the next sweep
}

// minSweep keeps sweeps rare for small maps; above it a sweep runs when the
// map has doubled since the last one, so the cost is amortised O(1) per
// request and the map holds at most ~2x the hosts still inside their delay.
const minSweep = 1024

func newPoliteness(cfg fetchconfig.Config, clock Clock, next Fetcher) *politeness {
	return &politeness{cfg: cfg, clock: clock, next: next,
		nextAt: make(map[string]time.Time), sweepAt: minSweep}
}

// effectiveDelay combines the configured floor with the robots.txt
// Crawl-delay, capped.
func (p *politeness) effectiveDelay(crawlDelay time.Duration) time.Duration {
	d := min(crawlDelay, p.cfg.MaxCrawlDelay)
	return max(d, p.cfg.DefaultDelay)
}

// reserve books the next slot for host and returns how long to wait for it.
func (p *politeness) reserve(host string, delay time.Duration) time.Duration {
	now := p.clock.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	start := now
	if t, ok := p.nextAt[host]; ok && t.After(now) {
		start = t
	}
	if delay > 0 {
		p.nextAt[host] = start.Add(delay)
		if len(p.nextAt) >= p.sweepAt {
			p.sweep(now)
		}
	}
	return start.Sub(now)
}

// sweep drops hosts whose next-allowed time has passed: they carry no
// information any more (a missing entry means "go now"). Called with mu held.
func (p *politeness) sweep(now time.Time) {
	for h, t := range p.nextAt {
		if !t.After(now) {
			delete(p.nextAt, h)
		}
	}
	p.sweepAt = max(minSweep, 2*len(p.nextAt))
}

// size returns the number of tracked hosts (for tests).
func (p *politeness) size() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.nextAt)
}

// Fetch waits for the host's slot, then calls next. The wait uses a timer
// and ends early with errclass.Canceled if ctx is done; the slot stays booked
// (the host just gets a slightly longer pause).
func (p *politeness) Fetch(ctx context.Context, raw string) *Result {
	u, err := parseFetchURL(raw)
	if err != nil {
		return newResult(raw).fail(errclass.InvalidURL, err)
	}
	delay := p.effectiveDelay(crawlDelayFrom(ctx))
	wait := p.reserve(hostKey(u), delay)
	if wait > 0 {
		began := p.clock.Now()
		t := p.clock.NewTimer(wait)
		select {
		case <-t.C():
		case <-ctx.Done():
			t.Stop()
			res := newResult(raw)
			res.Waited = max(0, p.clock.Now().Sub(began))
			return res.fail(errclass.Canceled, fmt.Errorf("politeness wait (%v): %w", wait, ctx.Err()))
		}
	}
	res := p.next.Fetch(ctx, raw)
	res.Waited = wait
	return res
}
