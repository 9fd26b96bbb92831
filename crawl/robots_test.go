package crawl_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/crawlmaster/crawlmaster/crawl"
	"github.com/crawlmaster/crawlmaster/crawl/errclass"
	"github.com/crawlmaster/crawlmaster/internal/promtest"
)

const robotsPrivate = "User-agent: *\nDisallow: /private\n\nUser-agent: otherbot\nDisallow: /\n"

func TestRobotsAllowAndDisallow(t *testing.T) {
	s := newSite(t)
	s.robots("a.test", robotsPrivate)
	f := newFetcher(t, testConfig(s.addr()))

	res := fetch(t, f, "http://a.test/public")
	wantClass(t, res, errclass.OK)
	if res.Robots != crawl.RobotsAllowed {
		t.Errorf("robots = %v, want allowed", res.Robots)
	}
	if res.Title != "page /public" {
		t.Errorf("title = %q", res.Title)
	}

	res = fetch(t, f, "http://a.test/private/x?y=1")
	wantClass(t, res, errclass.RobotsDisallowed)
	if res.Robots != crawl.RobotsDisallowed || res.Status != 0 || res.Class.Transient() {
		t.Errorf("robots=%v status=%d transient=%v", res.Robots, res.Status, res.Class.Transient())
	}
	if n := s.count("a.test/private/x"); n != 0 {
		t.Errorf("disallowed page requested %d times", n)
	}
	if n := s.count("a.test/robots.txt"); n != 1 {
		t.Errorf("robots.txt requested %d times, want 1 (cached)", n)
	}
}

func TestRobotsGroupForProductToken(t *testing.T) {
	s := newSite(t)
	s.robots("a.test", "User-agent: *\nDisallow:\n\nUser-agent: TestBot\nDisallow: /mine\n")
	f := newFetcher(t, testConfig(s.addr()))
	wantClass(t, fetch(t, f, "http://a.test/mine"), errclass.RobotsDisallowed)
	wantClass(t, fetch(t, f, "http://a.test/other"), errclass.OK)
}

func TestRobots4xxAllowsAll(t *testing.T) {
	for _, status := range []int{401, 403, 404, 410} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			s := newSite(t)
			s.handle("a.test/robots.txt", func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(status)
				fmt.Fprint(w, "User-agent: *\nDisallow: /\n") // must be ignored
			})
			f := newFetcher(t, testConfig(s.addr()))
			res := fetch(t, f, "http://a.test/private")
			wantClass(t, res, errclass.OK)
			if res.Robots != crawl.RobotsAllowed {
				t.Errorf("robots = %v", res.Robots)
			}
		})
	}
}

func TestRobotsUnavailable(t *testing.T) {
	for _, status := range []int{500, 503, 429} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			s := newSite(t)
			s.handle("a.test/robots.txt", func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(status)
			})
			clock := newFakeClock()
			cfg := testConfig(s.addr())
			cfg.RobotsErrorTTL = time.Minute
			f := newClockedFetcher(t, cfg, clock)
			res := fetch(t, f, "http://a.test/page")
			wantClass(t, res, errclass.RobotsUnavailable)
			if !res.Class.Transient() || res.Robots != crawl.RobotsUnavailable {
				t.Errorf("transient=%v robots=%v", res.Class.Transient(), res.Robots)
			}
			if n := s.count("a.test/page"); n != 0 {
				t.Errorf("page requested %d times while robots unavailable", n)
			}
			if res.NotRequested {
				t.Error("the fetch that requested robots.txt says it requested nothing")
			}
			// Cached for RobotsErrorTTL, then retried. A fetch decided by
			// the remembered failure says it sent nothing, and when the
			// failure is forgotten.
			clock.Advance(20 * time.Second)
			cached := fetch(t, f, "http://a.test/page")
			wantClass(t, cached, errclass.RobotsUnavailable)
			if !cached.NotRequested || cached.RetryAfter != 40*time.Second {
				t.Errorf("cached verdict: not requested %v, retry after %v; want true, 40s (the rest of the error TTL)", cached.NotRequested, cached.RetryAfter)
			}
			if n := s.count("a.test/robots.txt"); n != 1 {
				t.Errorf("robots.txt requested %d times within error TTL, want 1", n)
			}
			clock.Advance(40 * time.Second)
			if again := fetch(t, f, "http://a.test/page"); again.NotRequested {
				t.Error("a fetch that requested robots.txt again says it requested nothing")
			}
			if n := s.count("a.test/robots.txt"); n != 2 {
				t.Errorf("robots.txt requested %d times after error TTL, want 2", n)
			}
		})
	}
}

func TestRobotsTimeoutUnavailable(t *testing.T) {
	s := newSite(t)
	s.handle("a.test/robots.txt", func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done() // hang until the client gives up
	})
	cfg := testConfig(s.addr())
	cfg.RobotsTimeout = 100 * time.Millisecond
	f := newFetcher(t, cfg)
	start := time.Now()
	res := fetch(t, f, "http://a.test/page")
	wantClass(t, res, errclass.RobotsUnavailable)
	if el := time.Since(start); el > 3*time.Second {
		t.Errorf("took %v, RobotsTimeout is 100ms", el)
	}
	if s.count("a.test/page") != 0 {
		t.Error("page requested")
	}
}

func TestRobotsNetworkErrorUnavailable(t *testing.T) {
	s := newSite(t)
	s.handle("a.test/robots.txt", func(w http.ResponseWriter, r *http.Request) {
		hj := w.(http.Hijacker)
		c, _, _ := hj.Hijack()
		c.Close() // EOF before any response: conn_reset -> unavailable
	})
	f := newFetcher(t, testConfig(s.addr()))
	res := fetch(t, f, "http://a.test/page")
	wantClass(t, res, errclass.RobotsUnavailable)
}

func TestRobotsRedirectFollowed(t *testing.T) {
	s := newSite(t)
	s.handle("a.test/robots.txt", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://b.test/robots.txt", http.StatusMovedPermanently)
	})
	s.robots("b.test", "User-agent: *\nDisallow: /nope\n")
	f := newFetcher(t, testConfig(s.addr()))
	wantClass(t, fetch(t, f, "http://a.test/nope"), errclass.RobotsDisallowed)
	wantClass(t, fetch(t, f, "http://a.test/yes"), errclass.OK)
}

func TestRobotsSingleflight(t *testing.T) {
	s := newSite(t)
	release := make(chan struct{})
	s.handle("a.test/robots.txt", func(w http.ResponseWriter, r *http.Request) {
		<-release
		fmt.Fprint(w, "User-agent: *\nDisallow: /private\n")
	})
	reg := prometheus.NewRegistry()
	f, err := crawl.New(testConfig(s.addr()), crawl.Deps{Metrics: crawl.NewMetrics(reg)})
	if err != nil {
		t.Fatal(err)
	}
	const n = 50
	var wg sync.WaitGroup
	results := make([]*crawl.Result, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = fetch(t, f, fmt.Sprintf("http://a.test/p%d", i))
		}()
	}
	// All n have missed the cache and joined the flight before robots.txt
	// answers.
	waitFor(t, "all fetches to wait for robots.txt", func() bool {
		return promtest.Value(t, reg, "crawl_robots_cache_misses_total", nil) == n
	})
	close(release)
	wg.Wait()
	for i, res := range results {
		if res.Class != errclass.OK {
			t.Errorf("fetch %d: %s %s", i, res.Class, res.Err)
		}
	}
	if got := s.count("a.test/robots.txt"); got != 1 {
		t.Errorf("robots.txt requested %d times by %d concurrent fetches, want 1", got, n)
	}
	if got := promtest.Value(t, reg, "crawl_robots_fetches_total", map[string]string{"result": "2xx"}); got != 1 {
		t.Errorf("robots fetches metric = %v", got)
	}
}

func TestRobotsWaitCanceled(t *testing.T) {
	s := newSite(t)
	release := make(chan struct{})
	defer close(release)
	entered := make(chan struct{}, 1)
	s.handle("a.test/robots.txt", func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	f := newFetcher(t, testConfig(s.addr()))
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-entered; cancel() }()
	res := f.Fetch(ctx, crawl.Request{URL: "http://a.test/page", FollowRedirects: true})
	wantClass(t, res, errclass.Canceled)
}

// robotsWaiters counts goroutines parked in the robots layer's lookup,
// waiting for a robots.txt fetch led by another caller.
func robotsWaiters() int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	count := 0
	for _, g := range strings.Split(string(buf), "\n\n") {
		lines := strings.Split(g, "\n")
		if !strings.Contains(lines[0], "[select") {
			continue
		}
		// The first frame outside the runtime is where it blocks.
		for _, l := range lines[1:] {
			if strings.HasPrefix(l, "\t") || strings.HasPrefix(l, "runtime.") {
				continue
			}
			if strings.HasPrefix(l, "github.com/crawlmaster/crawlmaster/crawl.(*robotsFetcher).lookup(") {
				count++
			}
			break
		}
	}
	return count
}

func awaitResult(t *testing.T, what string, ch <-chan *crawl.Result) *crawl.Result {
	t.Helper()
	select {
	case res := <-ch:
		return res
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
		return nil
	}
}

// TestRobotsLeaderCanceledWaiterRetries: the caller running the shared
// robots.txt fetch gives up mid-request. A waiting caller with a live ctx
// must not get a canceled (or timed-out) verdict: it fetches robots.txt
// again itself and gets the real one, which is then cached.
func TestRobotsLeaderCanceledWaiterRetries(t *testing.T) {
	s := newSite(t)
	release := make(chan struct{})
	defer close(release)
	entered := make(chan struct{}, 1)
	var mu sync.Mutex
	requests := 0
	s.handle("a.test/robots.txt", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		requests++
		first := requests == 1
		mu.Unlock()
		if first { // the leader's request: hangs until the leader gives up
			entered <- struct{}{}
			select {
			case <-release:
			case <-r.Context().Done():
			}
			return
		}
		fmt.Fprint(w, "User-agent: *\nDisallow: /private\n")
	})
	reg := prometheus.NewRegistry()
	f, err := crawl.New(testConfig(s.addr()), crawl.Deps{Metrics: crawl.NewMetrics(reg)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.(interface{ CloseIdleConnections() }).CloseIdleConnections)

	lctx, lcancel := context.WithCancel(context.Background())
	defer lcancel()
	leader := make(chan *crawl.Result, 1)
	go func() { leader <- f.Fetch(lctx, crawl.Request{URL: "http://a.test/private/1", FollowRedirects: true}) }()
	<-entered

	waiter := make(chan *crawl.Result, 1)
	go func() { waiter <- fetch(t, f, "http://a.test/private/2") }()
	waitFor(t, "the second fetch to wait for the first one's robots.txt", func() bool {
		return robotsWaiters() == 1
	})

	lcancel()
	res := awaitResult(t, "the cancelled leader", leader)
	wantClass(t, res, errclass.Canceled)
	if res.Robots != crawl.RobotsUnknown {
		t.Errorf("leader: robots = %v, want unknown", res.Robots)
	}

	res = awaitResult(t, "the waiter", waiter)
	wantClass(t, res, errclass.RobotsDisallowed)
	if res.Robots != crawl.RobotsDisallowed {
		t.Errorf("waiter: robots = %v, want disallowed", res.Robots)
	}
	if n := s.count("a.test/robots.txt"); n != 2 {
		t.Errorf("robots.txt requested %d times, want 2 (abandoned by the leader, then by the waiter)", n)
	}

	// The waiter's verdict is cached; the cancelled one never was.
	wantClass(t, fetch(t, f, "http://a.test/private/3"), errclass.RobotsDisallowed)
	wantClass(t, fetch(t, f, "http://a.test/public"), errclass.OK)
	if n := s.count("a.test/robots.txt"); n != 2 {
		t.Errorf("robots.txt requested %d times, want 2 (cached)", n)
	}
	if got := promtest.Value(t, reg, "crawl_robots_cache_hits_total", nil); got != 2 {
		t.Errorf("cache hits = %v, want 2", got)
	}
	if got := promtest.Value(t, reg, "crawl_robots_cache_misses_total", nil); got != 2 {
		t.Errorf("cache misses = %v, want 2 (one per lookup, retries not counted)", got)
	}
}

// TestRobotsWaiterCanceled: a caller waiting for another's robots.txt fetch
// returns as soon as its own ctx ends, and the fetch goes on, completes and
// is cached for everyone else.
func TestRobotsWaiterCanceled(t *testing.T) {
	s := newSite(t)
	release := make(chan struct{})
	var releaseOnce sync.Once
	releaseAll := func() { releaseOnce.Do(func() { close(release) }) }
	defer releaseAll()
	entered := make(chan struct{}, 1)
	s.handle("a.test/robots.txt", func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		fmt.Fprint(w, "User-agent: *\nDisallow: /private\n")
	})
	f := newFetcher(t, testConfig(s.addr()))

	leader := make(chan *crawl.Result, 1)
	go func() { leader <- fetch(t, f, "http://a.test/private/1") }()
	<-entered

	wctx, wcancel := context.WithCancel(context.Background())
	defer wcancel()
	waiter := make(chan *crawl.Result, 1)
	go func() { waiter <- f.Fetch(wctx, crawl.Request{URL: "http://a.test/page", FollowRedirects: true}) }()
	waitFor(t, "the second fetch to wait for the first one's robots.txt", func() bool {
		return robotsWaiters() == 1
	})

	wcancel()
	// robots.txt is still unanswered: the waiter must not wait for it.
	res := awaitResult(t, "the cancelled waiter", waiter)
	wantClass(t, res, errclass.Canceled)
	if res.Robots != crawl.RobotsUnknown || !strings.Contains(res.Err, context.Canceled.Error()) {
		t.Errorf("waiter: robots = %v, err = %q", res.Robots, res.Err)
	}
	select {
	case res := <-leader:
		t.Fatalf("leader finished (%s %s) before robots.txt was answered", res.Class, res.Err)
	default:
	}

	releaseAll()
	res = awaitResult(t, "the leader", leader)
	wantClass(t, res, errclass.RobotsDisallowed)
	wantClass(t, fetch(t, f, "http://a.test/private/2"), errclass.RobotsDisallowed)
	wantClass(t, fetch(t, f, "http://a.test/page"), errclass.OK)
	if n := s.count("a.test/robots.txt"); n != 1 {
		t.Errorf("robots.txt requested %d times, want 1", n)
	}
	if n := s.count("a.test/page"); n != 1 {
		t.Errorf("page requested %d times, want 1 (not by the cancelled waiter)", n)
	}
}

func TestRobotsCacheTTL(t *testing.T) {
	s := newSite(t)
	s.robots("a.test", "User-agent: *\nDisallow: /x\n")
	clock := newFakeClock()
	cfg := testConfig(s.addr())
	cfg.RobotsTTL = time.Hour
	f := newClockedFetcher(t, cfg, clock)

	fetch(t, f, "http://a.test/1")
	clock.Advance(time.Hour - time.Second)
	fetch(t, f, "http://a.test/2")
	if n := s.count("a.test/robots.txt"); n != 1 {
		t.Fatalf("robots.txt requested %d times within TTL, want 1", n)
	}
	clock.Advance(time.Second)
	fetch(t, f, "http://a.test/3")
	if n := s.count("a.test/robots.txt"); n != 2 {
		t.Fatalf("robots.txt requested %d times after TTL, want 2", n)
	}
}

func TestRobotsCacheLRUBound(t *testing.T) {
	s := newSite(t)
	cfg := testConfig(s.addr())
	cfg.RobotsCacheSize = 2
	f := newFetcher(t, cfg)
	robots := func(h string) int { return s.count(h + ".test/robots.txt") }

	for _, h := range []string{"a", "b", "c"} { // c evicts a
		wantClass(t, fetch(t, f, "http://"+h+".test/"), errclass.OK)
	}
	fetch(t, f, "http://c.test/again") // hit
	fetch(t, f, "http://b.test/again") // hit, now most recent: order b, c
	if robots("a") != 1 || robots("b") != 1 || robots("c") != 1 {
		t.Fatalf("robots counts a=%d b=%d c=%d, want 1 each", robots("a"), robots("b"), robots("c"))
	}
	fetch(t, f, "http://a.test/again") // miss (evicted); evicts c
	if robots("a") != 2 {
		t.Errorf("a: robots.txt requested %d times, want 2 (evicted by LRU)", robots("a"))
	}
	fetch(t, f, "http://b.test/3") // still cached
	if robots("b") != 1 {
		t.Errorf("b: robots.txt requested %d times, want 1 (recently used)", robots("b"))
	}
	fetch(t, f, "http://c.test/3")
	if robots("c") != 2 {
		t.Errorf("c: robots.txt requested %d times, want 2 (least recently used)", robots("c"))
	}
}

func TestRedirectToDisallowedNeverRequested(t *testing.T) {
	s := newSite(t)
	s.robots("a.test", "User-agent: *\nDisallow: /private\n")
	s.robots("b.test", "User-agent: *\nDisallow: /secret\n")
	s.handle("a.test/start", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/private/page", http.StatusFound)
	})
	s.handle("a.test/cross", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://b.test/secret", http.StatusMovedPermanently)
	})
	s.handle("a.test/hop", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/start", http.StatusFound)
	})
	f := newFetcher(t, testConfig(s.addr()))

	res := fetch(t, f, "http://a.test/start")
	wantClass(t, res, errclass.RobotsDisallowed)
	if res.FinalURL != "http://a.test/private/page" || res.Robots != crawl.RobotsDisallowed {
		t.Errorf("final=%q robots=%v", res.FinalURL, res.Robots)
	}
	if res.Status != http.StatusFound || res.Redirects != 0 {
		t.Errorf("status=%d redirects=%d, want 302 and 0", res.Status, res.Redirects)
	}

	res = fetch(t, f, "http://a.test/hop")
	wantClass(t, res, errclass.RobotsDisallowed)
	if res.Redirects != 1 {
		t.Errorf("redirects = %d, want 1", res.Redirects)
	}

	res = fetch(t, f, "http://a.test/cross")
	wantClass(t, res, errclass.RobotsDisallowed)
	if res.FinalURL != "http://b.test/secret" {
		t.Errorf("final = %q", res.FinalURL)
	}
	if s.count("a.test/private/page") != 0 || s.count("b.test/secret") != 0 {
		t.Error("a disallowed redirect target was requested")
	}
	if s.count("b.test/robots.txt") != 1 {
		t.Error("robots.txt of the redirect target host was not consulted")
	}
}

// A redirect hop whose target's robots.txt answers after the page's own
// deadline: the page times out, but the robots.txt fetch finishes on its
// own and is cached, so the next redirect there does not fetch it again.
func TestRedirectHopRobotsOutlivesPageDeadline(t *testing.T) {
	s := newSite(t)
	release := make(chan struct{})
	s.handle("b.test/robots.txt", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
			_, _ = io.WriteString(w, "User-agent: *\nAllow: /\n")
		case <-r.Context().Done():
		}
	})
	s.handle("a.test/old", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://b.test/new", http.StatusMovedPermanently)
	})
	cfg := testConfig(s.addr())
	cfg.Timeout = 300 * time.Millisecond // the page's deadline
	cfg.ConnectTimeout = cfg.Timeout     // may not exceed it
	cfg.RobotsTimeout = time.Minute
	f := newFetcher(t, cfg)
	wantClass(t, fetch(t, f, "http://a.test/old"), errclass.Timeout)
	close(release)
	res := fetch(t, f, "http://a.test/old")
	wantClass(t, res, errclass.OK)
	if res.FinalURL != "http://b.test/new" {
		t.Errorf("final = %q", res.FinalURL)
	}
	if n := s.count("b.test/robots.txt"); n != 1 {
		t.Errorf("b.test/robots.txt requested %d times, want 1 (the first fetch's, finished after its page gave up)", n)
	}
}

func TestRedirectAllowedFollowed(t *testing.T) {
	s := newSite(t)
	s.handle("a.test/old", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://b.test/new", http.StatusMovedPermanently)
	})
	f := newFetcher(t, testConfig(s.addr()))
	res := fetch(t, f, "http://a.test/old")
	wantClass(t, res, errclass.OK)
	if res.FinalURL != "http://b.test/new" || res.Redirects != 1 || res.Title != "page /new" {
		t.Errorf("final=%q redirects=%d title=%q", res.FinalURL, res.Redirects, res.Title)
	}
	if s.count("b.test/robots.txt") != 1 {
		t.Error("redirect target's robots.txt not checked")
	}
}

func TestRobotsAndPageShareConnection(t *testing.T) {
	s := newSite(t)
	s.robots("a.test", "User-agent: *\nAllow: /\n")
	f := newFetcher(t, testConfig(s.addr()))
	wantClass(t, fetch(t, f, "http://a.test/1"), errclass.OK)
	wantClass(t, fetch(t, f, "http://a.test/2"), errclass.OK)
	if n := s.connCount(); n != 1 {
		t.Errorf("%d TCP connections for robots.txt + 2 pages, want 1 (keep-alive)", n)
	}
}

func TestRobotsUnreachableHostKeepsClass(t *testing.T) {
	cfg := testConfig("127.0.0.1:1")
	f := newFetcher(t, cfg)
	res := fetch(t, f, "http://nowhere.example/")
	wantClass(t, res, errclass.DNSNotFound)
	if res.Class.Transient() {
		t.Error("dns_not_found must be permanent")
	}
	if res.Robots != crawl.RobotsUnavailable {
		t.Errorf("robots = %v", res.Robots)
	}
}

// TestConcurrentManyHosts runs many slots over several hosts at once (as
// the daemon does) under -race: every fetch succeeds and each host's
// robots.txt is fetched exactly once.
func TestConcurrentManyHosts(t *testing.T) {
	s := newSite(t)
	const hosts, slots, perSlot = 20, 100, 5
	for h := range hosts {
		s.robots(fmt.Sprintf("h%d.test", h), "User-agent: *\nDisallow: /private\n")
	}
	f := newFetcher(t, testConfig(s.addr()))
	var wg sync.WaitGroup
	errs := make(chan string, slots*perSlot)
	for i := range slots {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range perSlot {
				host := fmt.Sprintf("h%d.test", (i+j)%hosts)
				path, want := fmt.Sprintf("/p%d-%d", i, j), errclass.OK
				if j == 0 {
					path, want = "/private/x", errclass.RobotsDisallowed
				}
				if res := fetch(t, f, "http://"+host+path); res.Class != want {
					errs <- fmt.Sprintf("%s%s: %s %s", host, path, res.Class, res.Err)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	for h := range hosts {
		if n := s.count(fmt.Sprintf("h%d.test/robots.txt", h)); n != 1 {
			t.Errorf("h%d: robots.txt fetched %d times", h, n)
		}
		if n := s.count(fmt.Sprintf("h%d.test/private/x", h)); n != 0 {
			t.Errorf("h%d: disallowed path fetched", h)
		}
	}
}
