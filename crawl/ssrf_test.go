package crawl_test

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/crawlmaster/crawlmaster/crawl"
	"github.com/crawlmaster/crawlmaster/crawl/errclass"
	"github.com/crawlmaster/crawlmaster/crawl/fetchconfig"
	"github.com/crawlmaster/crawlmaster/crawl/netguard"
	"github.com/crawlmaster/crawlmaster/internal/promtest"
)

// dialLog is the hook behind the SSRF guard: it records every address the
// guard let through, and lets only the addresses of the test's own
// servers be connected, so that even a broken guard sends nothing off
// this machine (nor to a loopback port that is not ours).
type dialLog struct {
	mu     sync.Mutex
	ours   map[string]bool
	passed []string
}

func newDialLog(ours ...string) *dialLog {
	l := &dialLog{ours: map[string]bool{}}
	for _, a := range ours {
		l.ours[a] = true
	}
	return l
}

func (l *dialLog) hook(_, address string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.passed = append(l.passed, address)
	if !l.ours[address] {
		return fmt.Errorf("test: %s passed the guard; not connecting", address)
	}
	return nil
}

func (l *dialLog) seen() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.passed...)
}

func guardedFetcher(t *testing.T, cfg fetchconfig.Config, l *dialLog, reg prometheus.Registerer) crawl.Fetcher {
	t.Helper()
	f, err := crawl.NewWithDialHook(cfg, crawl.Deps{Metrics: crawl.NewMetrics(reg)}, l.hook)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.(interface{ CloseIdleConnections() }).CloseIdleConnections)
	return f
}

func portOf(t *testing.T, hostport string) string {
	t.Helper()
	_, p, err := net.SplitHostPort(hostport)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// ssrfAddrs returns the addresses of the SSRF table: the first, a middle
// and the last address of every special-purpose range, IPv4 and IPv6, and
// the IPv4-mapped and NAT64 forms of the IPv4 ones, plus the addresses the
// issue names.
func ssrfAddrs() []netip.Addr {
	var out []netip.Addr
	add := func(a netip.Addr) {
		out = append(out, a)
		if a.Is4() {
			b := netip.MustParseAddr("64:ff9b::").As16()
			v := a.As4()
			copy(b[12:], v[:])
			out = append(out, netip.AddrFrom16(a.As16()), netip.AddrFrom16(b))
		}
	}
	for _, r := range netguard.Ranges() {
		p := r.Prefix
		first := p.Addr()
		b := first.AsSlice()
		for i := p.Bits(); i < len(b)*8; i++ {
			b[i/8] |= 0x80 >> (i % 8)
		}
		end, _ := netip.AddrFromSlice(b)
		add(first)
		add(end)
		if next := first.Next(); p.Contains(next) && next != end {
			add(next)
		}
	}
	for _, s := range []string{"169.254.169.254", "127.0.0.1", "0.0.0.0", "255.255.255.255", "::1", "::",
		"::ffff:127.0.0.1", "::ffff:169.254.169.254", "64:ff9b::7f00:1", "64:ff9b:1::a00:1", "fe80::1",
		"fd00:ec2::254", "4000::1"} {
		add(netip.MustParseAddr(s))
	}
	return out
}

// TestSSRFTable: a host that resolves to an address of any special-purpose
// range, IPv4 or IPv6 (here through the resolve override, which does not
// lift the guard), yields blocked_address, a permanent class, with
// nothing connected: the guard sees the address before the connect, the
// hook behind it sees nothing, the test's server on 127.0.0.1 (the
// address of some of the cases, with its port) accepts no connection.
// The refusals are counted under crawl_fetch_errors_total{class=
// "blocked_address"}.
func TestSSRFTable(t *testing.T) {
	s := newSite(t)
	port := netip.MustParseAddrPort(s.addr()).Port()
	addrs := ssrfAddrs()
	if len(addrs) < 150 {
		t.Fatalf("only %d addresses", len(addrs))
	}
	cfg := testConfig(s.addr())
	cfg.AllowedNetworks = nil // the default
	cfg.Resolve = nil
	for i, a := range addrs {
		cfg.Resolve = append(cfg.Resolve, fetchconfig.ResolveRule{Pattern: fmt.Sprintf("b%d.test", i),
			Addr: netip.AddrPortFrom(a, port).String()})
	}
	log := newDialLog(s.addr())
	reg := prometheus.NewRegistry()
	f := guardedFetcher(t, cfg, log, reg)
	for i, a := range addrs {
		res := fetch(t, f, fmt.Sprintf("http://b%d.test/page", i))
		dialled := a
		if a.Is4In6() {
			dialled = a.Unmap() // net.Dialer connects an IPv4-mapped address over IPv4
		}
		if res.Class != errclass.BlockedAddress || !strings.Contains(res.Err, "blocked address "+dialled.String()+":") ||
			res.Status != 0 || res.BodySize != 0 {
			t.Errorf("%s: class %s, status %d, err %q", a, res.Class, res.Status, res.Err)
		}
	}
	if seen := log.seen(); len(seen) > 0 {
		t.Errorf("the guard let %d addresses through: %v", len(seen), seen)
	}
	if n := s.connCount(); n != 0 {
		t.Errorf("the server accepted %d connections", n)
	}
	if errclass.BlockedAddress.Transient() {
		t.Error("blocked_address must be permanent")
	}
	if got := promtest.Value(t, reg, "crawl_fetch_errors_total", map[string]string{"class": "blocked_address"}); got != float64(len(addrs)) {
		t.Errorf("crawl_fetch_errors_total{class=blocked_address} = %v, want %d", got, len(addrs))
	}
}

// TestSSRFClosedAndOpenPortAlike: the refusal comes before the connect, so
// an open and a closed port give the same class and the same error.
func TestSSRFClosedAndOpenPortAlike(t *testing.T) {
	s := newSite(t)
	closed := refusedAddr(t)
	cfg := testConfig(s.addr())
	cfg.AllowedNetworks = nil
	cfg.Resolve = []fetchconfig.ResolveRule{{Pattern: "open.test", Addr: s.addr()}, {Pattern: "closed.test", Addr: closed}}
	log := newDialLog(s.addr(), closed)
	f := guardedFetcher(t, cfg, log, nil)
	open := fetch(t, f, "http://open.test/")
	shut := fetch(t, f, "http://closed.test/")
	norm := func(r *crawl.Result, host, addr string) string {
		return strings.NewReplacer(host, "HOST", addr, "ADDR").Replace(r.Err)
	}
	if open.Class != errclass.BlockedAddress || shut.Class != errclass.BlockedAddress ||
		norm(open, "open.test", s.addr()) != norm(shut, "closed.test", closed) {
		t.Errorf("open port: %s %q\nclosed port: %s %q", open.Class, open.Err, shut.Class, shut.Err)
	}
	if len(log.seen()) != 0 || s.connCount() != 0 {
		t.Errorf("dialled %v, %d connections", log.seen(), s.connCount())
	}
}

// TestSSRFViaDNSName: "localhost", resolved by the system (no override),
// is refused; allowing loopback lifts it.
func TestSSRFViaDNSName(t *testing.T) {
	s := newSite(t)
	u := "http://localhost:" + portOf(t, s.addr()) + "/"
	cfg := testConfig(s.addr())
	cfg.Resolve = nil
	cfg.AllowedNetworks = nil
	log := newDialLog(s.addr())
	res := fetch(t, guardedFetcher(t, cfg, log, nil), u)
	if res.Class != errclass.BlockedAddress || !strings.Contains(res.Err, "blocked address ") {
		t.Errorf("localhost: %s %q", res.Class, res.Err)
	}
	if len(log.seen()) != 0 || s.connCount() != 0 {
		t.Fatalf("dialled %v, %d connections", log.seen(), s.connCount())
	}

	cfg.AllowedNetworks = []fetchconfig.Network{{Prefix: netip.MustParsePrefix("127.0.0.0/8")}, {Prefix: netip.MustParsePrefix("::1/128")}}
	res = fetch(t, guardedFetcher(t, cfg, log, nil), u)
	wantClass(t, res, errclass.OK)
	if s.count("localhost/") != 1 {
		t.Errorf("allowed: %d requests for localhost/", s.count("localhost/"))
	}
}

// redirectSetup: a.test (127.0.0.1, allowed) and evil.test (a server on
// 127.0.0.2, not allowed: only 127.0.0.1/32 is; the whole 127/8 is local
// on Linux).
func redirectSetup(t *testing.T) (good, evil *site, f crawl.Fetcher, log *dialLog) {
	good = newSite(t)
	evil = newSiteOn(t, "127.0.0.2:0")
	cfg := testConfig(good.addr())
	cfg.AllowedNetworks = []fetchconfig.Network{{Prefix: netip.MustParsePrefix("127.0.0.1/32")}}
	cfg.Resolve = []fetchconfig.ResolveRule{{Pattern: "a.test", Addr: good.addr()}, {Pattern: "evil.test", Addr: evil.addr()}}
	log = newDialLog(good.addr(), evil.addr())
	return good, evil, guardedFetcher(t, cfg, log, nil), log
}

func onlyDialled(t *testing.T, log *dialLog, addr string) {
	t.Helper()
	for _, a := range log.seen() {
		if a != addr {
			t.Errorf("dialled %s", a)
		}
	}
}

// TestSSRFViaRedirect: an allowed host redirects to a blocked one; the
// hop is refused before anything is sent to it, and FinalURL names it.
func TestSSRFViaRedirect(t *testing.T) {
	good, evil, f, log := redirectSetup(t)
	good.handle("a.test/", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://evil.test/latest/meta-data/", http.StatusFound)
	})
	res := fetch(t, f, "http://a.test/")
	if res.Class != errclass.BlockedAddress || res.FinalURL != "http://evil.test/latest/meta-data/" ||
		!strings.Contains(res.Err, "blocked address 127.0.0.2") {
		t.Errorf("redirect: class %s, final %q, err %q", res.Class, res.FinalURL, res.Err)
	}
	if good.count("a.test/") != 1 || evil.connCount() != 0 {
		t.Errorf("a.test/ requested %d times, evil accepted %d connections", good.count("a.test/"), evil.connCount())
	}
	onlyDialled(t, log, good.addr())
}

// TestSSRFViaRobotsRedirect: robots.txt of an allowed host redirects to a
// blocked one: not followed, the page is blocked_address and not requested.
func TestSSRFViaRobotsRedirect(t *testing.T) {
	good, evil, f, log := redirectSetup(t)
	good.handle("a.test/robots.txt", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://evil.test/robots.txt", http.StatusMovedPermanently)
	})
	res := fetch(t, f, "http://a.test/page")
	if res.Class != errclass.BlockedAddress || !strings.Contains(res.Err, "blocked address 127.0.0.2") {
		t.Errorf("robots redirect: class %s, err %q", res.Class, res.Err)
	}
	if good.count("a.test/page") != 0 || evil.connCount() != 0 {
		t.Errorf("page requested %d times, evil accepted %d connections", good.count("a.test/page"), evil.connCount())
	}
	onlyDialled(t, log, good.addr())
}

// TestSSRFAllowListLifts: the same blocked host fetches once its network
// is allowed.
func TestSSRFAllowListLifts(t *testing.T) {
	_, evil, _, _ := redirectSetup(t)
	cfg := testConfig(evil.addr())
	cfg.AllowedNetworks = []fetchconfig.Network{{Prefix: netip.MustParsePrefix("127.0.0.2/32")}}
	log := newDialLog(evil.addr())
	res := fetch(t, guardedFetcher(t, cfg, log, nil), "http://evil.test/")
	wantClass(t, res, errclass.OK)
	if evil.count("evil.test/") != 1 || len(log.seen()) == 0 {
		t.Errorf("evil.test/ requested %d times, dialled %v", evil.count("evil.test/"), log.seen())
	}
}
