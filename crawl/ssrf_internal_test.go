package crawl

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"sync/atomic"
	"testing"

	"github.com/crawlmaster/crawlmaster/crawl/errclass"
	"github.com/crawlmaster/crawlmaster/crawl/fetchconfig"
)

// countingServer serves "User-agent: *\nAllow: /\n" and a page on addr,
// counting accepted connections.
func countingServer(t *testing.T, addr string) (string, *atomic.Int32) {
	t.Helper()
	var conns atomic.Int32
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "<title>x</title>")
	}), ConnState: func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().String(), &conns
}

// TestGuardAtEveryRequestKind: the page request, robots.txt and sitemap
// requests of the HTTP layer all go through the guarded dialer.
func TestGuardAtEveryRequestKind(t *testing.T) {
	addr, conns := countingServer(t, "127.0.0.1:0")
	cfg := fetchconfig.Default()
	cfg.Resolve = []fetchconfig.ResolveRule{{Pattern: "*.test", Addr: addr}}
	h := newHTTPFetcher(cfg, slog.New(slog.DiscardHandler), nil)
	defer h.closeIdle()
	ctx := context.Background()

	res := h.Fetch(ctx, Request{URL: "http://a.test/", FollowRedirects: true})
	if res.Class != errclass.BlockedAddress {
		t.Errorf("page: %s %q", res.Class, res.Err)
	}
	_, _, _, err := h.getRobots(ctx, "http://a.test/robots.txt", 1<<10)
	if Classify(err) != errclass.BlockedAddress {
		t.Errorf("robots.txt: %v", err)
	}
	_, _, err = h.getSitemap(ctx, "http://a.test/sitemap.xml", func(io.Reader) error { return nil })
	if Classify(err) != errclass.BlockedAddress {
		t.Errorf("sitemap: %v", err)
	}
	if n := conns.Load(); n != 0 {
		t.Errorf("%d connections accepted", n)
	}
}

// TestGuardDNSRebinding: a host whose robots.txt came from an allowed
// address, and whose name then answers a blocked one (DNS rebinding,
// simulated by changing the resolve rule), is refused at the page's dial.
func TestGuardDNSRebinding(t *testing.T) {
	good, goodConns := countingServer(t, "127.0.0.1:0")
	evil, evilConns := countingServer(t, "127.0.0.2:0")
	cfg := fetchconfig.Default()
	cfg.DefaultDelay = 0
	cfg.Resolve = []fetchconfig.ResolveRule{{Pattern: "a.test", Addr: good}}
	cfg.AllowedNetworks = []fetchconfig.Network{{Prefix: netip.MustParsePrefix("127.0.0.1/32")}}
	f, err := New(cfg, Deps{})
	if err != nil {
		t.Fatal(err)
	}
	sf := f.(*safeFetcher)
	defer sf.CloseIdleConnections()
	h := sf.next.(*robotsFetcher).h
	res := f.Fetch(context.Background(), Request{URL: "http://a.test/one"})
	if res.Class != errclass.OK || goodConns.Load() == 0 {
		t.Fatalf("before: %s %q, %d connections", res.Class, res.Err, goodConns.Load())
	}
	sf.CloseIdleConnections()
	h.dialer.rules = newRuleIndex([]fetchconfig.ResolveRule{{Pattern: "a.test", Addr: evil}}) // the name now answers 127.0.0.2
	res = f.Fetch(context.Background(), Request{URL: "http://a.test/two"})
	if res.Class != errclass.BlockedAddress || res.Robots != RobotsAllowed {
		t.Errorf("after rebinding: %s (robots %s) %q", res.Class, res.Robots, res.Err)
	}
	if n := evilConns.Load(); n != 0 {
		t.Errorf("the rebound address accepted %d connections", n)
	}
}
