package dispatch

import (
	"sync"
	"time"
)

// siteClock remembers, across feeders, the earliest time each site may be
// sent again: its last result's time plus the wait the assistant reported
// (next_request_after). A feeder's ready queue keeps that time for the
// sites it runs; this copy is for the moment a site changes hands (an
// assistant went down, came back or drained, and its shards moved): the
// new owner's assistant has no record of the site's last request, so
// without it the site's next URL, and the robots.txt fetched again for
// it, could go out inside the delay. Only sites with a wait are noted, and
// entries whose time has passed are swept, so it holds about the sites
// fetched within the last delay.
type siteClock struct {
	mu      sync.Mutex
	m       map[string]time.Time
	sweepAt int // map size that triggers the next sweep
}

// note records that site may not be sent before t.
func (c *siteClock) note(site string, t time.Time, now time.Time) {
	if !t.After(now) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m, c.sweepAt = map[string]time.Time{}, minSweep
	}
	if t.After(c.m[site]) {
		c.m[site] = t
	}
	if len(c.m) >= c.sweepAt {
		for s, at := range c.m {
			if !at.After(now) {
				delete(c.m, s)
			}
		}
		c.sweepAt = max(minSweep, 2*len(c.m))
	}
}

// notBefore returns the time noted for site (zero: none).
func (c *siteClock) notBefore(site string) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[site]
}

// minSweep keeps sweeps rare for small maps; above it a sweep runs when
// the map has doubled since the last one (amortised O(1) per note).
const minSweep = 1024
