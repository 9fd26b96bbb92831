package crawl_test

import (
	"context"
	"fmt"
	"net/http"
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
	go func() { ch <- f.Fetch(ctx, crawl.Request{URL: url, FollowRedirects: true}) }()
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

// fetchAfterWait fetches url and expects exactly one politeness wait of
// want before its request, which it lets pass.
func fetchAfterWait(t *testing.T, s *site, clock *fakeClock, f crawl.Fetcher, url string, want time.Duration) *crawl.Result {
	t.Helper()
	before := s.count(hostPath(url))
	r := goFetch(context.Background(), f, url)
	if d := clock.nextTimer(t); d != want {
		t.Fatalf("%s waited %v, want %v", url, d, want)
	}
	if n := s.count(hostPath(url)); n != before {
		t.Fatalf("%s requested before its slot", url)
	}
	clock.Advance(want)
	res := awaitResult(t, url, r)
	if res.Waited != want {
		t.Errorf("%s: Waited = %v, want %v", url, res.Waited, want)
	}
	noTimer(t, clock)
	return res
}

// The first page of a Crawl-delay host waits the delay after robots.txt:
// robots.txt is a request to the host like any other.
func TestRobotsTxtCountsForDelay(t *testing.T) {
	s, clock, f := politeSetup(t, "User-agent: *\nCrawl-delay: 5\n", time.Second, 10*time.Second)
	res := fetchAfterWait(t, s, clock, f, "http://a.test/1", 5*time.Second)
	wantClass(t, res, errclass.OK)
	if s.count("a.test/robots.txt") != 1 || s.count("a.test/1") != 1 {
		t.Errorf("robots.txt %d, page %d requests", s.count("a.test/robots.txt"), s.count("a.test/1"))
	}
	if res.NextRequestAfter != 5*time.Second {
		t.Errorf("NextRequestAfter = %v, want 5s (the Crawl-delay, from the page request)", res.NextRequestAfter)
	}
}

func TestCrawlDelayHonoured(t *testing.T) {
	s, clock, f := politeSetup(t, "User-agent: *\nCrawl-delay: 5\n", time.Second, 10*time.Second)
	fetchAfterWait(t, s, clock, f, "http://a.test/1", 5*time.Second)

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
	res := awaitResult(t, "second fetch", second)
	wantClass(t, res, errclass.OK)
	if res.Waited != 5*time.Second {
		t.Errorf("Waited = %v", res.Waited)
	}
	if s.count("a.test/2") != 1 {
		t.Error("second page not requested")
	}
}

func TestPolitenessQueuesConcurrentRequests(t *testing.T) {
	s, clock, f := politeSetup(t, "User-agent: *\nCrawl-delay: 5\n", time.Second, 10*time.Second)
	fetchAfterWait(t, s, clock, f, "http://a.test/1", 5*time.Second)

	r2 := goFetch(context.Background(), f, "http://a.test/2")
	r3 := goFetch(context.Background(), f, "http://a.test/3")
	waits := []time.Duration{clock.nextTimer(t), clock.nextTimer(t)}
	slices.Sort(waits)
	if waits[0] != 5*time.Second || waits[1] != 10*time.Second {
		t.Fatalf("waits %v, want [5s 10s]: each request gets its own slot", waits)
	}
	clock.Advance(10 * time.Second)
	wantClass(t, awaitResult(t, "r2", r2), errclass.OK)
	wantClass(t, awaitResult(t, "r3", r3), errclass.OK)
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
			s, clock, f := politeSetup(t, c.robots, c.def, c.maxDelay)
			wantClass(t, fetchAfterWait(t, s, clock, f, "http://a.test/1", c.want), errclass.OK)
			wantClass(t, fetchAfterWait(t, s, clock, f, "http://a.test/2", c.want), errclass.OK)
		})
	}
}

func TestPolitenessPerHost(t *testing.T) {
	s, clock, f := politeSetup(t, "User-agent: *\nCrawl-delay: 5\n", 0, 10*time.Second)
	s.robots("b.test", "User-agent: *\nCrawl-delay: 5\n")
	// Two hosts at once: each waits its own delay after its robots.txt,
	// not the other's.
	ra := goFetch(context.Background(), f, "http://a.test/1")
	rb := goFetch(context.Background(), f, "http://b.test/1")
	if w := []time.Duration{clock.nextTimer(t), clock.nextTimer(t)}; w[0] != 5*time.Second || w[1] != 5*time.Second {
		t.Fatalf("waits %v, want 5s each", w)
	}
	clock.Advance(5 * time.Second)
	wantClass(t, awaitResult(t, "a", ra), errclass.OK)
	wantClass(t, awaitResult(t, "b", rb), errclass.OK)
	// A host without delay: robots.txt and its page go at once.
	res := fetch(t, f, "http://c.test/1")
	wantClass(t, res, errclass.OK)
	noTimer(t, clock)
	if res.NextRequestAfter != 0 {
		t.Errorf("NextRequestAfter = %v for a host without delay", res.NextRequestAfter)
	}
	// After the delay has passed no wait at all.
	clock.Advance(5 * time.Second)
	wantClass(t, fetch(t, f, "http://a.test/2"), errclass.OK)
	noTimer(t, clock)
}

func TestPolitenessWaitAbortedByContext(t *testing.T) {
	s, clock, f := politeSetup(t, "User-agent: *\nCrawl-delay: 5\n", time.Second, 10*time.Second)
	fetchAfterWait(t, s, clock, f, "http://a.test/1", 5*time.Second)

	ctx, cancel := context.WithCancel(context.Background())
	r := goFetch(ctx, f, "http://a.test/2")
	clock.nextTimer(t)
	cancel()
	res := awaitResult(t, "cancelled fetch", r)
	wantClass(t, res, errclass.Canceled)
	if s.count("a.test/2") != 0 {
		t.Error("page requested after the wait was cancelled")
	}
}

// A 429 or 503 slows the whole host: the next request to it, whatever
// its URL, waits the Retry-After, or else the host's backoff, which starts
// at max(delay, 1s), doubles, is capped at max_crawl_delay and is reset by
// a 2xx. NextRequestAfter says so at the end of each fetch.
func TestHostBackoff(t *testing.T) {
	s, clock, f := politeSetup(t, "User-agent: *\n", 0, 5*time.Second)
	status := http.StatusOK
	retryAfter := ""
	s.handle("a.test*", func(w http.ResponseWriter, r *http.Request) {
		if retryAfter != "" {
			w.Header().Set("Retry-After", retryAfter)
		}
		w.WriteHeader(status)
	})
	step := 0
	do := func(st int, ra string, wait, wantNext time.Duration) {
		t.Helper()
		status, retryAfter = st, ra
		step++
		url := fmt.Sprintf("http://a.test/%d", step)
		var res *crawl.Result
		if wait == 0 {
			res = fetch(t, f, url)
			noTimer(t, clock)
		} else {
			res = fetchAfterWait(t, s, clock, f, url, wait)
		}
		if res.Status != st || res.NextRequestAfter != wantNext {
			t.Fatalf("step %d (%d, Retry-After %q): status %d, NextRequestAfter %v, want %v",
				step, st, ra, res.Status, res.NextRequestAfter, wantNext)
		}
	}
	do(200, "", 0, 0)
	do(429, "3", 0, 3*time.Second) // Retry-After
	do(200, "", 3*time.Second, 0)  // honoured by the next URL of the host; 2xx resets
	do(503, "", 0, time.Second)    // backoff from max(delay 0, 1s)
	do(503, "", time.Second, 2*time.Second)
	do(503, "", 2*time.Second, 4*time.Second)
	do(429, "", 4*time.Second, 5*time.Second)     // capped at max_crawl_delay
	do(429, "3600", 5*time.Second, 5*time.Second) // Retry-After too
	do(404, "", 5*time.Second, 0)                 // no backoff, but no reset either
	do(503, "", 0, 5*time.Second)
	do(200, "", 5*time.Second, 0)
	do(503, "", 0, time.Second) // reset by the 200
	do(500, "", time.Second, 0) // other 5xx: no backoff
}

// A robots.txt answered 503 with Retry-After backs the host off as well.
func TestHostBackoffFromRobots(t *testing.T) {
	s := newSite(t)
	s.handle("a.test/robots.txt", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "7")
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	clock := newFakeClock()
	cfg := testConfig(s.addr())
	cfg.MaxCrawlDelay = 10 * time.Second
	f := newClockedFetcher(t, cfg, clock)
	res := fetch(t, f, "http://a.test/page")
	wantClass(t, res, errclass.RobotsUnavailable)
	if res.NextRequestAfter != 7*time.Second {
		t.Errorf("NextRequestAfter = %v, want 7s", res.NextRequestAfter)
	}
}

// A page whose host is not ready within the request's MaxWait is not
// requested and books nothing: the caller gets it back Deferred with the
// wait left, and a later fetch waits no longer than it would have.
func TestMaxWaitDefers(t *testing.T) {
	s, clock, f := politeSetup(t, "User-agent: *\nCrawl-delay: 5\n", time.Second, 10*time.Second)
	res := f.Fetch(context.Background(), crawl.Request{URL: "http://a.test/1", FollowRedirects: true, MaxWait: time.Second})
	noTimer(t, clock)
	if !res.Deferred || res.Class != errclass.Canceled {
		t.Fatalf("Deferred = %v, class %s (%s); want a deferred result", res.Deferred, res.Class, res.Err)
	}
	if res.NextRequestAfter != 5*time.Second {
		t.Errorf("NextRequestAfter = %v, want 5s (the Crawl-delay after robots.txt)", res.NextRequestAfter)
	}
	if s.count("a.test/robots.txt") != 1 || s.count("a.test/1") != 0 {
		t.Errorf("robots.txt %d, page %d requests; want robots.txt only", s.count("a.test/robots.txt"), s.count("a.test/1"))
	}
	// Within MaxWait: waited and fetched. The deferral booked nothing, so
	// the wait is what is left of robots.txt's delay, not more.
	clock.Advance(4500 * time.Millisecond)
	r := make(chan *crawl.Result, 1)
	go func() {
		r <- f.Fetch(context.Background(), crawl.Request{URL: "http://a.test/1", FollowRedirects: true, MaxWait: time.Second})
	}()
	if d := clock.nextTimer(t); d != 500*time.Millisecond {
		t.Fatalf("waited %v, want the 500ms left", d)
	}
	clock.Advance(500 * time.Millisecond)
	res = awaitResult(t, "http://a.test/1", r)
	wantClass(t, res, errclass.OK)
	if res.Deferred || s.count("a.test/1") != 1 {
		t.Errorf("Deferred = %v, %d page requests; want fetched once", res.Deferred, s.count("a.test/1"))
	}
}
