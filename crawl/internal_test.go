package crawl

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/temoto/robotstxt"

	"github.com/crawlmaster/crawlmaster/crawl/fetchconfig"
)

func TestParseRobotsSanitizes(t *testing.T) {
	cases := []struct {
		name, body string
		path       string
		allowed    bool
		delay      time.Duration
	}{
		{"plain", "User-agent: *\nDisallow: /x\n", "/x/1", false, 0},
		{"rule before user-agent is ignored", "Disallow: /\nUser-agent: *\nDisallow: /x\n", "/y", true, 0},
		{"bad crawl-delay line dropped", "User-agent: *\nCrawl-delay: soon\nDisallow: /x\n", "/x", false, 0},
		{"negative crawl-delay dropped", "User-agent: *\nCrawl-delay: -1\nCrawl-delay: 2\nDisallow: /x\n", "/x", false, 2 * time.Second},
		{"bom and crlf", "\ufeffUser-agent: *\r\nDisallow: /x\r\n", "/x", false, 0},
		{"our token wins", "User-agent: *\nDisallow: /\n\nUser-agent: testbot\nAllow: /\n", "/x", true, 0},
		{"empty", "", "/x", true, 0},
		{"garbage", "\x00\x01 what is this", "/x", true, 0},
		{"wildcard", "User-agent: *\nDisallow: /*.pdf$\n", "/a/b.pdf", false, 0},
		{"query matched", "User-agent: *\nDisallow: /search?q=\n", "/search?q=x", false, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g, delay, _ := parseRobots([]byte(c.body), "testbot")
			e := &robotsEntry{group: g}
			if got := e.allowed(c.path); got != c.allowed {
				t.Errorf("allowed(%q) = %v, want %v", c.path, got, c.allowed)
			}
			if delay != c.delay {
				t.Errorf("delay = %v, want %v", delay, c.delay)
			}
		})
	}
}

func FuzzRobots(f *testing.F) {
	f.Add([]byte("User-agent: *\nDisallow: /private\nCrawl-delay: 2\n"), "/private/x")
	f.Add([]byte("Disallow: /\nuser-agent: TestBot\nallow: /*?$\nSitemap: http://a/s.xml\n"), "/a?")
	f.Add([]byte("User-agent: *\nCrawl-delay: NaN\nCrawl-delay: 1e400\nDisallow: *\n"), "/")
	f.Add([]byte("\ufeffUser-agent:\r\nDisallow:\r\n#\n:::\n"), "")
	f.Fuzz(func(t *testing.T, body []byte, path string) {
		// A file robotstxt rejects must become parsable by dropping lines,
		// never silently turn into allow-all.
		if _, err := robotstxt.FromBytes(body); err != nil {
			if _, err := robotstxt.FromBytes(sanitizeRobots(body, true)); err != nil {
				t.Fatalf("sanitized file still rejected: %q -> %q: %v", body, sanitizeRobots(body, true), err)
			}
		}
		g, delay, _ := parseRobots(body, "testbot")
		if delay < 0 {
			t.Fatalf("negative delay %v", delay)
		}
		e := &robotsEntry{group: g}
		e.allowed(path)
		e.allowed("/")
	})
}

func TestRobotsCacheLRU(t *testing.T) {
	c := newRobotsCache(3)
	now := time.Unix(1000, 0)
	put := func(k string, ttl time.Duration) { c.put(&robotsEntry{key: k, expires: now.Add(ttl)}) }
	for i := range 10 {
		put(fmt.Sprint(i), time.Hour)
		if c.len() > 3 {
			t.Fatalf("len %d > 3", c.len())
		}
	}
	if c.get("6", now) != nil || c.get("7", now) == nil {
		t.Fatal("wrong eviction order")
	}
	put("10", time.Hour) // evicts 8 (7 was just used)
	if c.get("8", now) != nil || c.get("7", now) == nil || c.get("9", now) == nil {
		t.Fatal("LRU did not keep the recently used entry")
	}
	put("short", time.Second)
	if c.get("short", now.Add(time.Second)) != nil {
		t.Fatal("expired entry returned")
	}
	put("9", time.Hour) // replace
	if c.len() > 3 {
		t.Fatalf("len %d after replace", c.len())
	}
	// Concurrent use (run with -race).
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 1000 {
				k := fmt.Sprint((g * i) % 17)
				if c.get(k, now) == nil {
					put(k, time.Hour)
				}
			}
		}()
	}
	wg.Wait()
	if c.len() > 3 {
		t.Fatalf("len %d > 3", c.len())
	}
}

type stepClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *stepClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}
func (c *stepClock) NewTimer(d time.Duration) Timer { return SystemClock{}.NewTimer(d) }

func TestPolitenessStateBounded(t *testing.T) {
	clock := &stepClock{now: time.Unix(1000, 0)}
	p := newPoliteness(fetchconfig.Default(), clock, nil)
	for i := range 3000 {
		if w, _ := p.reserve(fmt.Sprintf("old%d", i), time.Second, 0); w != 0 {
			t.Fatalf("first request waited %v", w)
		}
	}
	clock.now = clock.now.Add(2 * time.Second) // all old entries expired
	for i := range 3000 {
		p.reserve(fmt.Sprintf("new%d", i), time.Second, 0)
	}
	if n := p.size(); n >= 4096 {
		t.Fatalf("politeness map holds %d hosts after 6000 distinct hosts; expired ones not dropped", n)
	}
	if w, _ := p.reserve("new1", time.Second, 0); w != time.Second {
		t.Fatalf("live entry lost: wait %v", w)
	}
}
