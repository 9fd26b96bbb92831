package netguard

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"syscall"
)

// Range is a special-purpose address range: its prefix and what it is
// ("loopback (RFC 1122)").
type Range struct {
	Prefix netip.Prefix
	Name   string
}

// String returns "NAME PREFIX", e.g. "loopback (RFC 1122) 127.0.0.0/8",
// or the name alone for a range without a prefix.
func (r Range) String() string {
	if !r.Prefix.IsValid() {
		return r.Name
	}
	return r.Name + " " + r.Prefix.String()
}

func r(prefix, name string) Range { return Range{netip.MustParsePrefix(prefix), name} }

// v4 are the IPv4 ranges refused: the IANA IPv4 Special-Purpose Address
// Registry (every entry, the globally reachable anycast ones too: no web
// site lives there), multicast and the limited broadcast address. The
// first matching entry names an address, so a more specific entry comes
// before the one containing it.
var v4 = [...]Range{
	r("0.0.0.0/8", `"this network" (RFC 791)`), // 0.0.0.0 reaches the local host on Linux
	r("10.0.0.0/8", "private-use (RFC 1918)"),
	r("100.64.0.0/10", "shared address space (RFC 6598)"),
	r("127.0.0.0/8", "loopback (RFC 1122)"),
	r("169.254.0.0/16", "link-local (RFC 3927)"), // 169.254.169.254: cloud metadata services
	r("172.16.0.0/12", "private-use (RFC 1918)"),
	r("192.0.0.0/24", "IETF protocol assignments (RFC 6890)"),
	r("192.0.2.0/24", "documentation TEST-NET-1 (RFC 5737)"),
	r("192.31.196.0/24", "AS112-v4 (RFC 7535)"),
	r("192.52.193.0/24", "AMT (RFC 7450)"),
	r("192.88.99.0/24", "deprecated 6to4 relay anycast (RFC 7526)"),
	r("192.168.0.0/16", "private-use (RFC 1918)"),
	r("192.175.48.0/24", "AS112 direct delegation (RFC 7534)"),
	r("198.18.0.0/15", "benchmarking (RFC 2544)"),
	r("198.51.100.0/24", "documentation TEST-NET-2 (RFC 5737)"),
	r("203.0.113.0/24", "documentation TEST-NET-3 (RFC 5737)"),
	r("224.0.0.0/4", "multicast (RFC 5771)"),
	r("255.255.255.255/32", "limited broadcast (RFC 919)"),
	r("240.0.0.0/4", "reserved (RFC 1112)"),
}

// v6 are the IPv6 ranges refused. Everything outside 2000::/3, the only
// block IANA allocates global unicast addresses from, is refused
// (notGlobal); these entries name the well-known ranges there, and list
// the special-purpose ranges inside 2000::/3 (IANA IPv6 Special-Purpose
// Address Registry). IPv4-mapped addresses (::ffff:0:0/96) and the NAT64
// well-known prefix (64:ff9b::/96) are judged by the IPv4 address they
// carry instead (see [Lookup]). 6to4 and Teredo embed IPv4 addresses that
// a relay could reach; both are deprecated for servers, so they are
// refused whole rather than unwrapped.
var v6 = [...]Range{
	r("::/128", "unspecified (RFC 4291)"), // :: reaches the local host on Linux
	r("::1/128", "loopback (RFC 4291)"),
	r("::/96", "IPv4-compatible, deprecated (RFC 4291)"),
	r("64:ff9b:1::/48", "local-use NAT64 (RFC 8215)"),
	r("100::/64", "discard-only (RFC 6666)"),
	r("100:0:0:1::/64", "dummy prefix (RFC 9780)"),
	r("2001::/32", "Teredo (RFC 4380)"),
	r("2001::/23", "IETF protocol assignments (RFC 2928)"),
	r("2001:db8::/32", "documentation (RFC 3849)"),
	r("2002::/16", "6to4 (RFC 3056)"),
	r("2620:4f:8000::/48", "AS112 direct delegation (RFC 7534)"),
	r("3fff::/20", "documentation (RFC 9637)"),
	r("5f00::/16", "SRv6 SIDs (RFC 9602)"),
	r("fc00::/7", "unique-local (RFC 4193)"),
	r("fe80::/10", "link-local (RFC 4291)"),
	r("fec0::/10", "site-local, deprecated (RFC 3879)"),
	r("ff00::/8", "multicast (RFC 4291)"),
}

var (
	globalUnicast = netip.MustParsePrefix("2000::/3")
	nat64         = netip.MustParsePrefix("64:ff9b::/96")
	mapped        = netip.MustParsePrefix("::ffff:0:0/96")
	// notGlobal and invalid have no Prefix.
	notGlobal = Range{Name: "not global unicast (outside 2000::/3)"}
	invalid   = Range{Name: "invalid address"}
)

// Ranges returns every listed range, IPv4 then IPv6, in lookup order. It
// does not list the IPv4-mapped and NAT64 prefixes (judged by the IPv4
// address they carry) nor the catch-all "outside 2000::/3".
func Ranges() []Range {
	out := make([]Range, 0, len(v4)+len(v6))
	return append(append(out, v4[:]...), v6[:]...)
}

// Lookup returns the special-purpose range holding a, and whether there
// is one. A zone is ignored (fe80::1%eth0 is link-local). An IPv4-mapped
// address (::ffff:a.b.c.d) and an address of the NAT64 well-known prefix
// (64:ff9b::a.b.c.d, RFC 6052) are special when the IPv4 address they
// carry is; the range returned then is that IPv4 range, named "IPv4-mapped
// form of ..." or "NAT64 form of ...". An IPv6 address outside 2000::/3
// that no listed range names is special too ("not global unicast", a
// Range without Prefix). The zero Addr is special ("invalid address").
func Lookup(a netip.Addr) (Range, bool) {
	if !a.IsValid() {
		return invalid, true
	}
	a = a.WithZone("") // netip.Prefix.Contains is false for any zoned address
	if a.Is4() {
		for _, r := range v4 {
			if r.Prefix.Contains(a) {
				return r, true
			}
		}
		return Range{}, false
	}
	if mapped.Contains(a) {
		if r, ok := Lookup(a.Unmap()); ok {
			r.Name = "IPv4-mapped form of " + r.Name
			return r, true
		}
		return Range{}, false
	}
	if nat64.Contains(a) {
		b := a.As16()
		if r, ok := Lookup(netip.AddrFrom4([4]byte(b[12:]))); ok {
			r.Name = "NAT64 form of " + r.Name
			return r, true
		}
		return Range{}, false
	}
	for _, r := range v6 {
		if r.Prefix.Contains(a) {
			return r, true
		}
	}
	if !globalUnicast.Contains(a) {
		return notGlobal, true
	}
	return Range{}, false
}

// embedded returns the IPv4 address a carries as an IPv4-mapped or NAT64
// (64:ff9b::/96) address.
func embedded(a netip.Addr) (netip.Addr, bool) {
	switch {
	case mapped.Contains(a):
		return a.Unmap(), true
	case nat64.Contains(a):
		b := a.As16()
		return netip.AddrFrom4([4]byte(b[12:])), true
	}
	return netip.Addr{}, false
}

// ErrBlocked is matched by errors.Is for every *BlockedError.
var ErrBlocked = errors.New("blocked address")

// BlockedError is a refused address or host.
type BlockedError struct {
	// Addr is the address refused: the one dialled, the URL's IP literal,
	// or for a localhost name the loopback address it stands for.
	Addr netip.Addr
	// Host is the host name refused without resolving it ("localhost",
	// "a.localhost"); "" for an address.
	Host string
	// Range is the special-purpose range Addr is in.
	Range Range
}

func (e *BlockedError) Error() string {
	what := "address " + e.Addr.String()
	if e.Host != "" {
		what = "host " + e.Host + " (always the local host, RFC 6761)"
	}
	return fmt.Sprintf("blocked %s: %s, a special-purpose range not in fetch.allowed_networks", what, e.Range)
}

// Is reports whether target is ErrBlocked.
func (e *BlockedError) Is(target error) bool { return target == ErrBlocked }

// Guard decides which addresses may be dialled: every address but those
// of the special-purpose ranges ([Lookup]), unless an allowed network
// holds the address or the IPv4 address it carries (IPv4-mapped, NAT64).
// A Guard is immutable and safe for concurrent use; the zero Guard and a
// nil *Guard allow nothing special.
type Guard struct {
	allowed []netip.Prefix
}

// New returns a Guard that lets the addresses of the allowed networks
// through. Invalid prefixes are ignored (configuration validates them).
// 0.0.0.0/0 and ::/0 turn the guard off for IPv4 and IPv6.
func New(allowed []netip.Prefix) *Guard {
	g := &Guard{}
	for _, p := range allowed {
		if p.IsValid() {
			g.allowed = append(g.allowed, p.Masked())
		}
	}
	return g
}

// Allowed returns the allowed networks.
func (g *Guard) Allowed() []netip.Prefix {
	if g == nil {
		return nil
	}
	return append([]netip.Prefix(nil), g.allowed...)
}

// allows reports whether an allowed network holds a (zone ignored) or the
// IPv4 address it carries.
func (g *Guard) allows(a netip.Addr) bool {
	if g == nil || len(g.allowed) == 0 {
		return false
	}
	a = a.WithZone("")
	e, ok := embedded(a)
	for _, p := range g.allowed {
		if p.Contains(a) || ok && p.Contains(e) {
			return true
		}
	}
	return false
}

// Check returns nil when a may be dialled, else a *BlockedError.
func (g *Guard) Check(a netip.Addr) error {
	r, special := Lookup(a)
	if !special || a.IsValid() && g.allows(a) {
		return nil
	}
	return &BlockedError{Addr: a, Range: r}
}

// Control is a net.Dialer ControlContext hook: it runs for every
// connection attempt, with the address about to be connected (after DNS,
// for each address tried), before the connect system call. So the
// verdict never depends on whether a port is open, and a host name whose
// DNS answer changes between two lookups (rebinding) is judged by the
// address actually dialled. An address that does not parse is refused.
func (g *Guard) Control(_ context.Context, _, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return &BlockedError{Range: Range{Name: fmt.Sprintf("unparsable address %q", address)}}
	}
	return g.Check(ap.Addr())
}

// loopback4 stands for a localhost name in a *BlockedError.
var loopback4 = netip.AddrFrom4([4]byte{127, 0, 0, 1})

// CheckHost judges a URL's host (url.URL.Host: a port is ignored) before
// anything is resolved, for what puts URLs into the frontier (the import
// commands, link admission): an IP literal (IPv6 with or without
// brackets) is checked like a dialled address; "localhost" and the names
// under it ("a.localhost", RFC 6761 6.3) are the local host and are
// refused unless 127.0.0.1 or ::1 is allowed. Other names return nil:
// what they resolve to is judged when they are dialled.
func (g *Guard) CheckHost(host string) error {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	h := strings.TrimSuffix(strings.ToLower(strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")), ".")
	if a, err := netip.ParseAddr(h); err == nil {
		return g.Check(a)
	}
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		if g.allows(loopback4) || g.allows(netip.IPv6Loopback()) {
			return nil
		}
		r, _ := Lookup(loopback4)
		return &BlockedError{Addr: loopback4, Host: h, Range: r}
	}
	return nil
}
