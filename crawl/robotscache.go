package crawl

import (
	"sync"
	"time"

	"github.com/temoto/robotstxt"

	"github.com/crawlmaster/crawlmaster/crawl/errclass"
)

// robotsEntry is the cached verdict for one origin (scheme://host[:port]).
// It keeps only the group that applies to our product token, not the whole
// parsed file, so a cached entry costs a few hundred bytes for typical files.
type robotsEntry struct {
	key      string
	group    *robotstxt.Group // nil: everything allowed
	delay    time.Duration    // Crawl-delay of our group, uncapped
	sitemaps []string         // the file's Sitemap URLs, as written
	class    errclass.Class   // errclass.OK when usable, else why not (robots_unavailable, dns_not_found, ...)
	err      string           // detail when class != errclass.OK
	fetched  time.Time        // when the robots.txt request that decided it ended
	expires  time.Time

	prev, next *robotsEntry // LRU list, most recent at head
}

// allowed reports whether path (the URL's request URI) may be fetched.
func (e *robotsEntry) allowed(path string) bool {
	return e.group == nil || e.group.Test(path)
}

// robotsCache is a fixed-size LRU with per-entry expiry. One mutex is fine:
// the critical section is a map lookup and two pointer swaps, far below the
// cost of the fetch it guards.
type robotsCache struct {
	mu         sync.Mutex
	max        int
	m          map[string]*robotsEntry
	head, tail *robotsEntry
}

func newRobotsCache(max int) *robotsCache {
	return &robotsCache{max: max, m: make(map[string]*robotsEntry, min(max, 1024))}
}

// get returns the live entry for key, or nil if absent or expired.
func (c *robotsCache) get(key string, now time.Time) *robotsEntry {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.m[key]
	if e == nil {
		return nil
	}
	if !now.Before(e.expires) {
		c.unlink(e)
		delete(c.m, key)
		return nil
	}
	c.moveToFront(e)
	return e
}

// put inserts or replaces e.key, evicting the least recently used entries
// beyond max.
func (c *robotsCache) put(e *robotsEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if old := c.m[e.key]; old != nil {
		c.unlink(old)
	}
	c.m[e.key] = e
	c.pushFront(e)
	for len(c.m) > c.max && c.tail != nil {
		victim := c.tail
		c.unlink(victim)
		delete(c.m, victim.key)
	}
}

// len returns the number of entries (live or expired-but-not-yet-seen).
func (c *robotsCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}

func (c *robotsCache) pushFront(e *robotsEntry) {
	e.prev, e.next = nil, c.head
	if c.head != nil {
		c.head.prev = e
	}
	c.head = e
	if c.tail == nil {
		c.tail = e
	}
}

func (c *robotsCache) unlink(e *robotsEntry) {
	if e.prev != nil {
		e.prev.next = e.next
	} else if c.head == e {
		c.head = e.next
	}
	if e.next != nil {
		e.next.prev = e.prev
	} else if c.tail == e {
		c.tail = e.prev
	}
	e.prev, e.next = nil, nil
}

func (c *robotsCache) moveToFront(e *robotsEntry) {
	if c.head == e {
		return
	}
	c.unlink(e)
	c.pushFront(e)
}
