package crawl

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/crawlmaster/crawlmaster/crawl/fetchconfig"
)

// A request that reaches the wire late (here: every dial stalls longer
// than the host's delay) still leaves the full delay before the host's
// next request, as the server sees it: politeness counts from the write,
// not from the slot booked before the dial. Without that, robots.txt →
// first page and a late page → the next page on its connection arrived
// almost together.
func TestPolitenessCountsFromTheWire(t *testing.T) {
	const delay, stall = 150 * time.Millisecond, 250 * time.Millisecond
	var (
		mu      sync.Mutex
		arrived = map[string]time.Time{}
	)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		arrived[r.URL.Path] = time.Now()
		mu.Unlock()
		if r.URL.Path == "/robots.txt" {
			_, _ = w.Write([]byte("User-agent: *\nAllow: /\n"))
			return
		}
		_, _ = w.Write([]byte("<html><title>x</title></html>"))
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })

	cfg := fetchconfig.Default()
	cfg.UserAgent = "testbot/1.0 (+https://example.invalid/bot)"
	cfg.Resolve = []fetchconfig.ResolveRule{{Pattern: "*.test", Addr: ln.Addr().String()}}
	cfg.AllowedNetworks = []fetchconfig.Network{{Prefix: netip.MustParsePrefix("127.0.0.0/8")}}
	cfg.DefaultDelay = delay
	f, err := New(cfg, Deps{})
	if err != nil {
		t.Fatal(err)
	}
	sf := f.(*safeFetcher)
	defer sf.CloseIdleConnections()
	tr := sf.next.(*robotsFetcher).h.transport
	dial := tr.DialContext
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		time.Sleep(stall) // a slow connect: the request leaves well after its slot
		return dial(ctx, network, addr)
	}
	get := func(path string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if res := f.Fetch(ctx, Request{URL: "http://a.test" + path}); res.Err != "" {
			t.Fatalf("%s: %s", path, res.Err)
		}
	}
	get("/1") // robots.txt (dialled, late), then /1
	sf.CloseIdleConnections()
	get("/2") // dialled again, late
	get("/3") // on /2's connection, no dial
	gap := func(a, b string) time.Duration {
		mu.Lock()
		defer mu.Unlock()
		return arrived[b].Sub(arrived[a])
	}
	for _, p := range [][2]string{{"/robots.txt", "/1"}, {"/2", "/3"}} {
		// A small tolerance for the server's own timestamps.
		if g := gap(p[0], p[1]); g < delay-5*time.Millisecond {
			t.Errorf("%s then %s %v apart, want at least the host's delay %v", p[0], p[1], g, delay)
		}
	}
}
