package crawl

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/crawlmaster/crawlmaster/crawl/errclass"
	"github.com/crawlmaster/crawlmaster/crawl/fetchconfig"
)

// minBackoff is the first host backoff after a 429 or 503 without
// Retry-After when the host's delay is shorter.
const minBackoff = time.Second

// politeness spaces the requests to one host. Every request the crawler
// sends to a host (robots.txt, pages, sitemaps) first books a start time
// with reserve: max(now, next[host]); the booking moves next[host] to
// start + delay, delay = max(DefaultDelay, min(Crawl-delay,
// MaxCrawlDelay)). The slot is booked under the lock before waiting, so
// concurrent callers for one host queue up one delay apart instead of all
// waking at once. Once the request is written to its connection,
// next[host] moves to the write time + delay if that is later (fromWire,
// onwire.go): a request that left late (slow dial, busy process) still
// leaves the server the full delay before the next one. Redirect hops followed inside a fetch are not delayed
// but push next[host] to now + delay (note).
//
// A 429 or 503 answer slows the whole host (answered): next[host] moves
// to now + its Retry-After when it has one, else now + the host's backoff,
// which starts at max(delay, 1s) and doubles with every further 429/503;
// both are capped at max(MaxCrawlDelay, 1s), the longest a slot is ever
// made to wait for one host. A 2xx answer resets the backoff.
//
// The host key is hostKey: host[:port] lowercased without a default port;
// http and https of one host share it (it is one server). With no delay
// and no backoff a host has no entry at all, so the common no-delay case
// costs one map lookup under the lock.
type politeness struct {
	cfg     fetchconfig.Config
	clock   Clock
	next    Fetcher
	backCap time.Duration

	mu      sync.Mutex
	hosts   map[string]hostState
	sweepAt int // map size that triggers the next sweep
}

// hostState is what politeness remembers of one host.
type hostState struct {
	next    time.Time     // earliest start of the next request
	backoff time.Duration // last 429/503 backoff; 0 when the last answer was fine
}

// minSweep keeps sweeps rare for small maps; above it a sweep runs when the
// map has doubled since the last one, so the cost is amortised O(1) per
// request and the map holds at most ~2x the hosts still inside their delay
// (or backoff).
const minSweep = 1024

func newPoliteness(cfg fetchconfig.Config, clock Clock, next Fetcher) *politeness {
	return &politeness{cfg: cfg, clock: clock, next: next, backCap: max(cfg.MaxCrawlDelay, minBackoff),
		hosts: make(map[string]hostState), sweepAt: minSweep}
}

// effectiveDelay combines the configured floor with the robots.txt
// Crawl-delay, capped.
func (p *politeness) effectiveDelay(crawlDelay time.Duration) time.Duration {
	d := min(crawlDelay, p.cfg.MaxCrawlDelay)
	return max(d, p.cfg.DefaultDelay)
}

// reserve books the next slot for host and returns how long to wait for
// it. When the wait would be longer than maxWait (> 0) nothing is booked
// and booked is false.
func (p *politeness) reserve(host string, delay, maxWait time.Duration) (wait time.Duration, booked bool) {
	now := p.clock.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	st, ok := p.hosts[host]
	start := now
	if ok && st.next.After(now) {
		start = st.next
	}
	if maxWait > 0 && start.Sub(now) > maxWait {
		return start.Sub(now), false
	}
	if delay > 0 || ok {
		st.next = start.Add(delay)
		p.store(host, st, now)
	}
	return start.Sub(now), true
}

// store saves st, sweeping when the map has grown. Called with mu held.
func (p *politeness) store(host string, st hostState, now time.Time) {
	if !st.next.After(now) && st.backoff == 0 {
		delete(p.hosts, host) // nothing to remember: a missing entry means "go now"
		return
	}
	p.hosts[host] = st
	if len(p.hosts) >= p.sweepAt {
		p.sweep(now)
	}
}

// sweep drops hosts that carry no information any more: their next time
// has passed and they are not backing off, or their backoff is older than
// its cap. Called with mu held.
func (p *politeness) sweep(now time.Time) {
	for h, st := range p.hosts {
		if !st.next.After(now) && (st.backoff == 0 || now.Sub(st.next) > p.backCap) {
			delete(p.hosts, h)
		}
	}
	p.sweepAt = max(minSweep, 2*len(p.hosts))
}

// errDeferred ends a wait that would be longer than the caller's MaxWait.
var errDeferred = errors.New("politeness: the host is not ready within the request's MaxWait")

// wait books a slot for host and sleeps until it comes, or until ctx ends
// (the booking stays: the host just gets a slightly longer pause). It
// returns the time waited. A wait longer than maxWait (> 0) is neither
// booked nor slept: it returns that wait and errDeferred.
func (p *politeness) wait(ctx context.Context, host string, delay, maxWait time.Duration) (time.Duration, error) {
	w, booked := p.reserve(host, delay, maxWait)
	if !booked {
		return w, errDeferred
	}
	if w <= 0 {
		return 0, nil
	}
	began := p.clock.Now()
	t := p.clock.NewTimer(w)
	select {
	case <-t.C():
		return w, nil
	case <-ctx.Done():
		t.Stop()
		return max(0, p.clock.Now().Sub(began)), fmt.Errorf("politeness wait (%v): %w", w, ctx.Err())
	}
}

// note records a request sent without waiting for its slot (a redirect
// hop inside a fetch): the next one waits delay from now.
func (p *politeness) note(host string, delay time.Duration) {
	if delay <= 0 {
		return
	}
	now := p.clock.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	st := p.hosts[host]
	st.next = later(st.next, now.Add(delay))
	p.store(host, st, now)
}

// fromWire returns ctx whose requests to host, once written, move the
// host's next slot to that moment + delay (see onwire.go) and, when wrote
// is not nil, record the moment there. Hops to other hosts are noted by
// the robots layer's redirect check.
func (p *politeness) fromWire(ctx context.Context, host string, delay time.Duration, wrote *atomic.Int64) context.Context {
	if delay <= 0 && wrote == nil {
		return ctx
	}
	return withOnWire(ctx, func(u *url.URL) {
		if hostKey(u) != host {
			return
		}
		if wrote != nil {
			wrote.Store(p.clock.Now().UnixNano())
		}
		p.note(host, delay)
	})
}

// extend makes the next request to host wait until at least t (the
// Crawl-delay learnt from the robots.txt just requested).
func (p *politeness) extend(host string, t time.Time) {
	now := p.clock.Now()
	if !t.After(now) {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	st := p.hosts[host]
	st.next = later(st.next, t)
	p.store(host, st, now)
}

// answered records the status of an answer from host: a 429 or 503 backs
// the host off, a 2xx ends its backoff. delay is the host's delay.
func (p *politeness) answered(host string, status int, retryAfter, delay time.Duration) {
	slow := status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable
	if !slow && (status < 200 || status > 299) {
		return
	}
	now := p.clock.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	st, ok := p.hosts[host]
	if !slow {
		if ok && st.backoff != 0 {
			st.backoff = 0
			p.store(host, st, now)
		}
		return
	}
	if st.backoff == 0 {
		st.backoff = min(max(delay, minBackoff), p.backCap)
	} else {
		st.backoff = min(2*st.backoff, p.backCap)
	}
	w := st.backoff
	if retryAfter > 0 {
		w = min(retryAfter, p.backCap)
	}
	st.next = later(st.next, now.Add(w))
	p.store(host, st, now)
}

// after returns how long the next request to host would wait now.
func (p *politeness) after(host string) time.Duration {
	now := p.clock.Now()
	p.mu.Lock()
	st, ok := p.hosts[host]
	p.mu.Unlock()
	if !ok || !st.next.After(now) {
		return 0
	}
	return st.next.Sub(now)
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// size returns the number of tracked hosts (for tests).
func (p *politeness) size() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.hosts)
}

// Fetch waits for the host's slot, then calls next, and records the
// answer's status for the backoff. The wait uses a timer and ends early
// with errclass.Canceled if ctx is done; a wait longer than req.MaxWait
// is not taken (Result.Deferred).
func (p *politeness) Fetch(ctx context.Context, req Request) *Result {
	u, err := parseFetchURL(req.URL)
	if err != nil {
		return newResult(req.URL).fail(errclass.InvalidURL, err)
	}
	delay := p.effectiveDelay(crawlDelayFrom(ctx))
	host := hostKey(u)
	waited, err := p.wait(ctx, host, delay, req.MaxWait)
	if errors.Is(err, errDeferred) {
		res := newResult(req.URL)
		res.Deferred = true
		return res.fail(errclass.Canceled, fmt.Errorf("%w (%v left)", err, waited.Round(time.Millisecond)))
	}
	if err != nil {
		res := newResult(req.URL)
		res.Waited = waited
		return res.fail(errclass.Canceled, err)
	}
	res := p.next.Fetch(p.fromWire(ctx, host, delay, nil), req)
	res.Waited = waited
	if res.Status != 0 {
		if res.FinalURL != req.URL {
			if fu, err := url.Parse(res.FinalURL); err == nil && fu.Host != "" {
				host = hostKey(fu)
			}
		}
		p.answered(host, res.Status, res.RetryAfter, delay)
	}
	return res
}
