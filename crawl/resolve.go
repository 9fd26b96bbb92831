package crawl

import (
	"context"
	"fmt"
	"net"
	"strings"

	"github.com/crawlmaster/crawlmaster/crawl/fetchconfig"
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
type dialer struct {
	d     net.Dialer
	rules *ruleIndex // nil: real DNS
}

// DialContext is the http.Transport dial hook. With rules, a matching host
// is dialled at the rule's address (TLS still verifies the original name,
// since the Transport sets ServerName from the URL); a host no rule matches
// fails like NXDOMAIN so the closed world can never leak to real DNS.
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
