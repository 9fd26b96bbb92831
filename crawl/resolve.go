package crawl

import (
	"context"
	"fmt"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/crawlmaster/crawlmaster/crawl/fetchconfig"
	"github.com/crawlmaster/crawlmaster/crawl/netguard"
)

// ruleIndex answers "which address serves this host" for the Resolve rules.
type ruleIndex struct {
	exact    map[string]string
	suffixes []fetchconfig.ResolveRule // "*.x" patterns stored as ".x", longest first
	any      string                    // "*" rule's Addr, "" if none
}

func newRuleIndex(rules []fetchconfig.ResolveRule) *ruleIndex {
	if len(rules) == 0 {
		return nil
	}
	ix := &ruleIndex{exact: make(map[string]string)}
	for _, r := range rules {
		switch {
		case r.Pattern == "*":
			if ix.any == "" {
				ix.any = r.Addr
			}
		case strings.HasPrefix(r.Pattern, "*."):
			ix.suffixes = append(ix.suffixes, fetchconfig.ResolveRule{Pattern: r.Pattern[1:], Addr: r.Addr})
		default:
			if _, dup := ix.exact[r.Pattern]; !dup {
				ix.exact[r.Pattern] = r.Addr
			}
		}
	}
	// Longest suffix first so the most specific wildcard wins; stable keeps
	// the first of equal patterns.
	for i := 1; i < len(ix.suffixes); i++ {
		for j := i; j > 0 && len(ix.suffixes[j].Pattern) > len(ix.suffixes[j-1].Pattern); j-- {
			ix.suffixes[j], ix.suffixes[j-1] = ix.suffixes[j-1], ix.suffixes[j]
		}
	}
	return ix
}

// lookup returns the address for host (lowercase, no port, no brackets).
func (ix *ruleIndex) lookup(host string) (string, bool) {
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if a, ok := ix.exact[host]; ok {
		return a, true
	}
	for _, s := range ix.suffixes {
		if len(host) > len(s.Pattern) && strings.HasSuffix(host, s.Pattern) {
			return s.Addr, true
		}
	}
	if ix.any != "" {
		return ix.any, true
	}
	return "", false
}

func (ix *ruleIndex) String() string {
	var b strings.Builder
	for h, a := range ix.exact {
		fmt.Fprintf(&b, "%s=%s ", h, a)
	}
	for _, s := range ix.suffixes {
		fmt.Fprintf(&b, "*%s=%s ", s.Pattern, s.Addr)
	}
	if ix.any != "" {
		b.WriteString("*=" + ix.any)
	}
	return strings.TrimSpace(b.String())
}

// dialer dials with ConnectTimeout and applies the Resolve override.
// Every connection attempt, to a rule's address as to a resolved one,
// passes the guard first (control).
type dialer struct {
	d     net.Dialer
	rules *ruleIndex // nil: real DNS
	guard *netguard.Guard
	// afterGuard, when set (tests only), runs for each address the guard
	// let through, before connecting; an error aborts the connection.
	afterGuard func(network, address string) error
}

// newDialer returns a dialer whose every connection attempt is vetted by
// guard: the net.Dialer's control hook runs after DNS and before the
// connect system call, for each address tried.
func newDialer(timeout time.Duration, rules *ruleIndex, guard *netguard.Guard, afterGuard func(network, address string) error) *dialer {
	d := &dialer{rules: rules, guard: guard, afterGuard: afterGuard}
	d.d = net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second, ControlContext: d.control}
	return d
}

func (d *dialer) control(ctx context.Context, network, address string, c syscall.RawConn) error {
	if err := d.guard.Control(ctx, network, address, c); err != nil {
		return err
	}
	if d.afterGuard != nil {
		return d.afterGuard(network, address)
	}
	return nil
}

// DialContext is the http.Transport dial hook. With rules, a matching host
// is dialled at the rule's address (TLS still verifies the original name,
// since the Transport sets ServerName from the URL); a host no rule matches
// fails like NXDOMAIN so the closed world can never leak to real DNS. A
// rule's address is guarded like any other: the override does not lift
// the guard (tests list their loopback network in AllowedNetworks).
// Every connection is a wireConn, so that no request is resent
// silently (see replay.go).
func (d *dialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := d.dial(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return &wireConn{Conn: c}, nil
}

func (d *dialer) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	if d.rules == nil {
		return d.d.DialContext(ctx, network, addr)
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	target, ok := d.rules.lookup(host)
	if !ok {
		return nil, &net.DNSError{
			Err:        "no such host (no resolver-override rule matches)",
			Name:       host,
			IsNotFound: true,
		}
	}
	return d.d.DialContext(ctx, network, target)
}
