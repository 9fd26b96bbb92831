package crawl_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/crawlmaster/crawlmaster/crawl"
	"github.com/crawlmaster/crawlmaster/crawl/errclass"
)

// politeSetup serves a.test with the given robots.txt under a fake clock.
func politeSetup(t *testing.T, robots string, defaultDelay, maxCrawlDelay time.Duration) (*site, *fakeClock, crawl.Fetcher) {
	t.Helper()
	s := newSite(t)
	s.robots("a.test", robots)
	clock := newFakeClock()
	cfg := testConfig(s.addr())
	cfg.DefaultDelay = defaultDelay
	cfg.MaxCrawlDelay = maxCrawlDelay
	return s, clock, newClockedFetcher(t, cfg, clock)
}

func goFetch(ctx context.Context, f crawl.Fetcher, url string) <-chan *crawl.Result {
	ch := make(chan *crawl.Result, 1)
	go func() { ch <- f.Fetch(ctx, url) }()
	return ch
}

func noTimer(t *testing.T, c *fakeClock) {
	t.Helper()
	select {
	case d := <-c.created:
		t.Fatalf("unexpected politeness wait of %v", d)
	default:
	}
}

func TestCrawlDelayHonoured(t *testing.T) {
	s, clock, f := politeSetup(t, "User-agent: *\nCrawl-delay: 5\n", time.Second, 10*time.Second)

	wantClass(t, fetch(t, f, "http://a.test/1"), errclass.OK)
	noTimer(t, clock) // first request to a host goes at once

	second := goFetch(context.Background(), f, "http://a.test/2")
	if d := clock.nextTimer(t); d != 5*time.Second {
		t.Fatalf("waited %v before the second request, want Crawl-delay 5s", d)
	}
	clock.Advance(4 * time.Second)
	select {
	case res := <-second:
		t.Fatalf("second fetch finished before the delay: %v %s", res.Class, res.Err)
	default:
	}
	if n := s.count("a.test/2"); n != 0 {
		t.Fatalf("second page requested before its slot")
	}
	clock.Advance(time.Second)
	res := <-second
	wantClass(t, res, errclass.OK)
	if res.Waited != 5*time.Second {
		t.Errorf("Waited = %v", res.Waited)
	}
	if s.count("a.test/2") != 1 {
		t.Error("second page not requested")
	}
}

func TestPolitenessQueuesConcurrentRequests(t *testing.T) {
	_, clock, f := politeSetup(t, "User-agent: *\nCrawl-delay: 5\n", time.Second, 10*time.Second)
	wantClass(t, fetch(t, f, "http://a.test/1"), errclass.OK)

	r2 := goFetch(context.Background(), f, "http://a.test/2")
	r3 := goFetch(context.Background(), f, "http://a.test/3")
	waits := []time.Duration{clock.nextTimer(t), clock.nextTimer(t)}
	slices.Sort(waits)
	if waits[0] != 5*time.Second || waits[1] != 10*time.Second {
		t.Fatalf("waits %v, want [5s 10s]: each request gets its own slot", waits)
	}
	clock.Advance(10 * time.Second)
	wantClass(t, <-r2, errclass.OK)
	wantClass(t, <-r3, errclass.OK)
}

func TestCrawlDelayCappedAndDefaultFloor(t *testing.T) {
	cases := []struct {
		name          string
		robots        string
		def, maxDelay time.Duration
		want          time.Duration
	}{
		{"capped", "User-agent: *\nCrawl-delay: 100\n", time.Second, 10 * time.Second, 10 * time.Second},
		{"floor", "User-agent: *\nCrawl-delay: 0.5\n", 2 * time.Second, 10 * time.Second, 2 * time.Second},
		{"none", "User-agent: *\nDisallow:\n", 3 * time.Second, 10 * time.Second, 3 * time.Second},
		{"fraction", "User-agent: *\nCrawl-delay: 1.5\n", time.Second, 10 * time.Second, 1500 * time.Millisecond},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, clock, f := politeSetup(t, c.robots, c.def, c.maxDelay)
			wantClass(t, fetch(t, f, "http://a.test/1"), errclass.OK)
			r := goFetch(context.Background(), f, "http://a.test/2")
			if d := clock.nextTimer(t); d != c.want {
				t.Errorf("wait %v, want %v", d, c.want)
			}
			clock.Advance(c.want)
			wantClass(t, <-r, errclass.OK)
		})
	}
}

func TestPolitenessPerHost(t *testing.T) {
	s, clock, f := politeSetup(t, "User-agent: *\nCrawl-delay: 5\n", time.Second, 10*time.Second)
	s.robots("b.test", "User-agent: *\nCrawl-delay: 5\n")
	wantClass(t, fetch(t, f, "http://a.test/1"), errclass.OK)
	wantClass(t, fetch(t, f, "http://b.test/1"), errclass.OK)
	noTimer(t, clock)
	// Robots fetches are not delayed either: c.test is new, its robots.txt
	// and page go at once.
	wantClass(t, fetch(t, f, "http://c.test/1"), errclass.OK)
	noTimer(t, clock)
	// After the delay has passed no wait at all.
	clock.Advance(5 * time.Second)
	wantClass(t, fetch(t, f, "http://a.test/2"), errclass.OK)
	noTimer(t, clock)
}

func TestPolitenessWaitAbortedByContext(t *testing.T) {
	s, clock, f := politeSetup(t, "User-agent: *\nCrawl-delay: 5\n", time.Second, 10*time.Second)
	wantClass(t, fetch(t, f, "http://a.test/1"), errclass.OK)

	ctx, cancel := context.WithCancel(context.Background())
	r := goFetch(ctx, f, "http://a.test/2")
	clock.nextTimer(t)
	cancel()
	res := <-r
	wantClass(t, res, errclass.Canceled)
	if s.count("a.test/2") != 0 {
		t.Error("page requested after the wait was cancelled")
	}
}
