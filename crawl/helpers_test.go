package crawl_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crawlmaster/crawlmaster/crawl"
	"github.com/crawlmaster/crawlmaster/crawl/errclass"
	"github.com/crawlmaster/crawlmaster/crawl/fetchconfig"
	"github.com/crawlmaster/crawlmaster/internal/testwait"
)

// site is a real HTTP server on 127.0.0.1 that serves many fake hosts
// (routed to it by the Resolve override) and counts requests per host+path.
type site struct {
	t   testing.TB
	srv *httptest.Server

	mu       sync.Mutex
	counts   map[string]int
	handlers map[string]http.HandlerFunc
	conns    int // TCP connections accepted
}

func newSite(t testing.TB) *site { return newSiteOn(t, "") }

// newSiteOn is newSite listening on addr ("": 127.0.0.1, a free port).
func newSiteOn(t testing.TB, addr string) *site {
	s := &site{t: t, counts: map[string]int{}, handlers: map[string]http.HandlerFunc{}}
	s.srv = httptest.NewUnstartedServer(s)
	if addr != "" {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatalf("listen %s: %v", addr, err)
		}
		s.srv.Listener.Close()
		s.srv.Listener = ln
	}
	s.srv.Config.ConnState = func(c net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.mu.Lock()
			s.conns++
			s.mu.Unlock()
		}
	}
	s.srv.Start()
	t.Cleanup(s.srv.Close)
	return s
}

func (s *site) addr() string { return s.srv.Listener.Addr().String() }

func hostOnly(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return h
	}
	return hostport
}

func (s *site) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	key := hostOnly(r.Host) + r.URL.Path
	s.mu.Lock()
	s.counts[key]++
	h := s.handlers[key]
	if h == nil {
		h = s.handlers[hostOnly(r.Host)+"*"]
	}
	s.mu.Unlock()
	if h != nil {
		h(w, r)
		return
	}
	if r.URL.Path == "/robots.txt" {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	fmt.Fprintf(w, "<html><head><title>page %s</title></head><body>hi</body></html>", r.URL.Path)
}

// handle registers h for "host/path" (or "host*" for every path of host).
func (s *site) handle(hostPath string, h http.HandlerFunc) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.handlers[hostPath] = h
}

func (s *site) robots(host, body string) {
	s.handle(host+"/robots.txt", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprint(w, body)
	})
}

func (s *site) count(hostPath string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts[hostPath]
}

func (s *site) connCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conns
}

// loopbackV4 is the allow-list of tests whose servers listen on 127.0.0.1:
// the resolve override does not lift the SSRF guard.
var loopbackV4 = []fetchconfig.Network{{Prefix: netip.MustParsePrefix("127.0.0.0/8")}}

// testConfig routes *.test (and any extra rules) to addr, with no
// politeness delay and short timeouts so failures are fast, and allows
// loopback (127.0.0.0/8), where the tests' servers listen.
func testConfig(addr string) fetchconfig.Config {
	cfg := fetchconfig.Default()
	cfg.UserAgent = "testbot/1.0 (+https://example.invalid/bot)"
	cfg.Resolve = []fetchconfig.ResolveRule{{Pattern: "*.test", Addr: addr}}
	cfg.AllowedNetworks = loopbackV4
	cfg.DefaultDelay = 0
	cfg.ConnectTimeout = 2 * time.Second
	cfg.Timeout = 5 * time.Second
	cfg.RobotsTimeout = 5 * time.Second
	return cfg
}

func newFetcher(t testing.TB, cfg fetchconfig.Config) crawl.Fetcher {
	t.Helper()
	return newClockedFetcher(t, cfg, nil)
}

// newClockedFetcher is newFetcher with a clock (nil: the system's).
func newClockedFetcher(t testing.TB, cfg fetchconfig.Config, clock crawl.Clock) crawl.Fetcher {
	t.Helper()
	f, err := crawl.New(cfg, crawl.Deps{Clock: clock})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(f.(interface{ CloseIdleConnections() }).CloseIdleConnections)
	return f
}

func fetch(t testing.TB, f crawl.Fetcher, url string) *crawl.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	return f.Fetch(ctx, crawl.Request{URL: url, FollowRedirects: true})
}

func contextWithTimeout(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d)
}

func wantClass(t testing.TB, res *crawl.Result, want errclass.Class) {
	t.Helper()
	if res.Class != want {
		t.Fatalf("class = %q (err %q, status %d), want %q", res.Class, res.Err, res.Status, want)
	}
}

// waitFor polls cond until it holds or the deadline passes. It is for
// conditions on other goroutines' progress, not for letting time pass.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	testwait.Until(t, what, 10*time.Second, time.Millisecond, cond)
}

// fakeClock is a manual Clock: time moves only on Advance.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	timers  []*fakeTimer
	created chan time.Duration // one send per NewTimer
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC), created: make(chan time.Duration, 1000)}
}

type fakeTimer struct {
	c     chan time.Time
	when  time.Time
	clock *fakeClock
	done  bool
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) NewTimer(d time.Duration) crawl.Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{c: make(chan time.Time, 1), when: c.now.Add(d), clock: c}
	if d <= 0 {
		t.c <- c.now
		t.done = true
	} else {
		c.timers = append(c.timers, t)
	}
	c.created <- d
	return t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	keep := c.timers[:0]
	for _, t := range c.timers {
		if t.done {
			continue
		}
		if !t.when.After(c.now) {
			t.c <- c.now
			t.done = true
			continue
		}
		keep = append(keep, t)
	}
	c.timers = keep
}

// nextTimer waits until some goroutine creates a timer and returns its
// duration.
func (c *fakeClock) nextTimer(t testing.TB) time.Duration {
	t.Helper()
	select {
	case d := <-c.created:
		return d
	case <-time.After(10 * time.Second):
		t.Fatal("no timer was created")
		return 0
	}
}

func (t *fakeTimer) C() <-chan time.Time { return t.c }

func (t *fakeTimer) Stop() bool {
	t.clock.mu.Lock()
	defer t.clock.mu.Unlock()
	if t.done {
		return false
	}
	t.done = true
	return true
}

func htmlPage(title string) string {
	return "<!doctype html><html><head><title>" + title + "</title></head><body>" + strings.Repeat("x", 10) + "</body></html>"
}

func slogToBuffer(b *bytes.Buffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(&lockedWriter{w: b}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
