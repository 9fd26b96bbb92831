package netguard

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"
)

// last returns the last address of p.
func last(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// mid returns an address inside p, neither its first nor its last.
func mid(p netip.Prefix) netip.Addr {
	a := p.Masked().Addr()
	if p.Bits() < a.BitLen()-1 {
		b := a.AsSlice()
		b[len(b)-1] |= 0x5 // low bits are host bits when at least 3 are free
		if p.Bits() <= a.BitLen()-3 {
			a, _ = netip.AddrFromSlice(b)
		}
	}
	return a
}

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }

// nat64Of returns the NAT64 well-known-prefix form of IPv4 address a.
func nat64Of(a netip.Addr) netip.Addr {
	b := mustAddr("64:ff9b::").As16()
	v := a.As4()
	copy(b[12:], v[:])
	return netip.AddrFrom16(b)
}

// TestEveryRange checks the first, a middle and the last address of every
// listed range, and of IPv4 ranges their IPv4-mapped and NAT64 forms: each
// is refused, by that range (or a more specific one listed before it).
func TestEveryRange(t *testing.T) {
	g := New(nil)
	for _, rg := range Ranges() {
		for _, a := range []netip.Addr{rg.Prefix.Masked().Addr(), mid(rg.Prefix), last(rg.Prefix)} {
			forms := []netip.Addr{a}
			if a.Is4() {
				forms = append(forms, netip.AddrFrom16(a.As16()), nat64Of(a))
			}
			for _, f := range forms {
				got, ok := Lookup(f)
				if !ok {
					t.Errorf("%s (%s, form of %s): not special", f, rg, a)
					continue
				}
				if !got.Prefix.Contains(a) {
					t.Errorf("%s: named by %s, which does not hold %s", f, got, a)
				}
				err := g.Check(f)
				var be *BlockedError
				if !errors.As(err, &be) || !errors.Is(err, ErrBlocked) || be.Addr != f {
					t.Errorf("Check(%s) = %v, want a *BlockedError", f, err)
				}
			}
		}
	}
}

// TestNamedRanges pins the name of representative addresses, including
// each range the issue lists by name.
func TestNamedRanges(t *testing.T) {
	for _, tc := range []struct{ addr, want string }{
		{"0.0.0.0", `"this network" (RFC 791) 0.0.0.0/8`},
		{"10.1.2.3", "private-use (RFC 1918) 10.0.0.0/8"},
		{"100.64.0.1", "shared address space (RFC 6598) 100.64.0.0/10"},
		{"100.127.255.255", "shared address space (RFC 6598) 100.64.0.0/10"},
		{"127.0.0.1", "loopback (RFC 1122) 127.0.0.0/8"},
		{"169.254.169.254", "link-local (RFC 3927) 169.254.0.0/16"},
		{"172.31.255.255", "private-use (RFC 1918) 172.16.0.0/12"},
		{"192.168.1.1", "private-use (RFC 1918) 192.168.0.0/16"},
		{"192.0.0.170", "IETF protocol assignments (RFC 6890) 192.0.0.0/24"},
		{"192.0.2.1", "documentation TEST-NET-1 (RFC 5737) 192.0.2.0/24"},
		{"198.18.0.1", "benchmarking (RFC 2544) 198.18.0.0/15"},
		{"198.19.255.255", "benchmarking (RFC 2544) 198.18.0.0/15"},
		{"224.0.0.1", "multicast (RFC 5771) 224.0.0.0/4"},
		{"239.255.255.250", "multicast (RFC 5771) 224.0.0.0/4"},
		{"240.0.0.1", "reserved (RFC 1112) 240.0.0.0/4"},
		{"255.255.255.255", "limited broadcast (RFC 919) 255.255.255.255/32"},
		{"::", "unspecified (RFC 4291) ::/128"},
		{"::1", "loopback (RFC 4291) ::1/128"},
		{"::127.0.0.1", "IPv4-compatible, deprecated (RFC 4291) ::/96"},
		{"::ffff:127.0.0.1", "IPv4-mapped form of loopback (RFC 1122) 127.0.0.0/8"},
		{"::ffff:169.254.169.254", "IPv4-mapped form of link-local (RFC 3927) 169.254.0.0/16"},
		{"64:ff9b::7f00:1", "NAT64 form of loopback (RFC 1122) 127.0.0.0/8"},
		{"64:ff9b::a00:1", "NAT64 form of private-use (RFC 1918) 10.0.0.0/8"},
		{"64:ff9b:1::1", "local-use NAT64 (RFC 8215) 64:ff9b:1::/48"},
		{"64:ff9b:1:ffff:ffff:ffff:ffff:ffff", "local-use NAT64 (RFC 8215) 64:ff9b:1::/48"},
		{"fc00::1", "unique-local (RFC 4193) fc00::/7"},
		{"fdff:ffff::1", "unique-local (RFC 4193) fc00::/7"},
		{"fe80::1", "link-local (RFC 4291) fe80::/10"},
		{"fe80::1%eth0", "link-local (RFC 4291) fe80::/10"},
		{"febf::1", "link-local (RFC 4291) fe80::/10"},
		{"fec0::1", "site-local, deprecated (RFC 3879) fec0::/10"},
		{"ff02::1", "multicast (RFC 4291) ff00::/8"},
		{"2001::1", "Teredo (RFC 4380) 2001::/32"},
		{"2001:1::1", "IETF protocol assignments (RFC 2928) 2001::/23"},
		{"2001:db8::1", "documentation (RFC 3849) 2001:db8::/32"},
		{"2002:7f00:1::1", "6to4 (RFC 3056) 2002::/16"},
		{"3fff::1", "documentation (RFC 9637) 3fff::/20"},
		{"100::1", "discard-only (RFC 6666) 100::/64"},
		{"4000::1", "not global unicast (outside 2000::/3)"},
		{"1::1", "not global unicast (outside 2000::/3)"},
		{"64:ff9a::1", "not global unicast (outside 2000::/3)"},
	} {
		got, ok := Lookup(mustAddr(tc.addr))
		if !ok || got.String() != tc.want {
			t.Errorf("Lookup(%s) = %q, %v; want %q", tc.addr, got, ok, tc.want)
		}
	}
	if r, ok := Lookup(netip.Addr{}); !ok || r.Name != "invalid address" {
		t.Errorf("Lookup(zero) = %v, %v", r, ok)
	}
}

// TestPublicAllowed checks addresses next to the ranges, and public ones.
func TestPublicAllowed(t *testing.T) {
	g := New(nil)
	for _, s := range []string{
		"1.1.1.1", "8.8.8.8", "9.255.255.255", "11.0.0.0", "100.63.255.255", "100.128.0.0",
		"126.255.255.255", "128.0.0.0", "169.253.255.255", "169.255.0.0", "172.15.255.255", "172.32.0.0",
		"192.0.1.0", "192.0.3.0", "192.167.255.255", "192.169.0.0", "198.17.255.255", "198.20.0.0",
		"203.0.112.255", "203.0.114.0", "223.255.255.255", "93.184.216.34",
		"2000::1", "2001:200::1", "2001:4860:4860::8888", "2606:4700::1111", "2a00:1450::1", "3ffe::1",
		"2001:db7:ffff::1", "2001:db9::1", "2003::1", "3fff:1000::1",
		"::ffff:8.8.8.8", "64:ff9b::808:808", // the mapped and NAT64 forms of a public address
	} {
		a := mustAddr(s)
		if r, ok := Lookup(a); ok {
			t.Errorf("Lookup(%s) = %s, want not special", s, r)
		}
		if err := g.Check(a); err != nil {
			t.Errorf("Check(%s) = %v", s, err)
		}
	}
}

// TestNoShadowedEntry checks that every entry names its own first or
// last address: a broader entry listed before a narrower one would hide
// it (a narrower one first shares only one end with the broader).
func TestNoShadowedEntry(t *testing.T) {
	for _, rg := range Ranges() {
		first, _ := Lookup(rg.Prefix.Addr())
		end, _ := Lookup(last(rg.Prefix))
		if first != rg && end != rg {
			t.Errorf("%s is named by %s and %s", rg, first, end)
		}
		if rg.Prefix != rg.Prefix.Masked() {
			t.Errorf("%s has host bits set", rg)
		}
	}
}

func TestAllowList(t *testing.T) {
	g := New([]netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("10.1.0.0/16"),
		netip.MustParsePrefix("fd00::/8"), netip.MustParsePrefix("127.0.0.1/32"), {}})
	for _, tc := range []struct {
		addr string
		ok   bool
	}{
		{"127.0.0.1", true}, {"127.255.0.1", true}, {"::ffff:127.0.0.1", true}, {"64:ff9b::7f00:1", true},
		{"10.1.2.3", true}, {"10.2.0.1", false}, {"::ffff:10.2.0.1", false},
		{"fd12::1", true}, {"fd12::1%eth0", true}, {"fc00::1", false},
		{"::1", false}, {"169.254.169.254", false}, {"192.168.0.1", false}, {"8.8.8.8", true},
	} {
		err := g.Check(mustAddr(tc.addr))
		if (err == nil) != tc.ok {
			t.Errorf("Check(%s) = %v, want allowed %v", tc.addr, err, tc.ok)
		}
	}
	if got := g.Allowed(); len(got) != 4 {
		t.Errorf("Allowed() = %v (the invalid prefix is dropped)", got)
	}
	all := New([]netip.Prefix{netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("::/0")})
	for _, s := range []string{"127.0.0.1", "::1", "fe80::1%lo", "169.254.169.254", "4000::1"} {
		if err := all.Check(mustAddr(s)); err != nil {
			t.Errorf("0.0.0.0/0 + ::/0: Check(%s) = %v", s, err)
		}
	}
	if err := all.Check(netip.Addr{}); err == nil {
		t.Error("the zero Addr must be refused even with everything allowed")
	}
	var nilGuard *Guard
	if err := nilGuard.Check(mustAddr("127.0.0.1")); err == nil {
		t.Error("a nil Guard must refuse loopback")
	}
	if err := nilGuard.Check(mustAddr("8.8.8.8")); err != nil {
		t.Errorf("a nil Guard: %v", err)
	}
}

func TestControl(t *testing.T) {
	g := New(nil)
	ctx := context.Background()
	for _, tc := range []struct {
		addr, want string
	}{
		{"127.0.0.1:80", "blocked address 127.0.0.1: loopback (RFC 1122) 127.0.0.0/8, a special-purpose range not in fetch.allowed_networks"},
		{"[::1]:443", "blocked address ::1: loopback (RFC 4291) ::1/128"},
		{"[fe80::1%lo]:80", "blocked address fe80::1%lo: link-local (RFC 4291) fe80::/10"},
		{"[::ffff:10.0.0.1]:8080", "blocked address ::ffff:10.0.0.1: IPv4-mapped form of private-use (RFC 1918) 10.0.0.0/8"},
		{"[4000::1]:80", "blocked address 4000::1: not global unicast (outside 2000::/3), a special"},
		{"localhost:80", `unparsable address "localhost:80"`},
		{"", `unparsable address ""`},
	} {
		err := g.Control(ctx, "tcp", tc.addr, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, ErrBlocked) {
			t.Errorf("Control(%q) = %v, want %q", tc.addr, err, tc.want)
		}
	}
	for _, a := range []string{"8.8.8.8:80", "[2606:4700::1111]:443", "1.2.3.4:1"} {
		if err := g.Control(ctx, "tcp4", a, nil); err != nil {
			t.Errorf("Control(%q) = %v", a, err)
		}
	}
}

func TestCheckHost(t *testing.T) {
	g := New(nil)
	for _, tc := range []struct {
		host, want string
	}{
		{"127.0.0.1", "blocked address 127.0.0.1: loopback"},
		{"[::1]", "blocked address ::1: loopback"},
		{"::1", "blocked address ::1: loopback"},
		{"[::ffff:127.0.0.1]", "IPv4-mapped form of loopback"},
		{"169.254.169.254", "link-local"},
		{"localhost", "blocked host localhost (always the local host, RFC 6761): loopback (RFC 1122) 127.0.0.0/8"},
		{"LocalHost.", "blocked host localhost (always"},
		{"a.b.localhost", "blocked host a.b.localhost"},
		{"127.0.0.1:8080", "blocked address 127.0.0.1: loopback"}, // a URL's Host: the port is ignored
		{"[::1]:8443", "blocked address ::1: loopback"},
		{"localhost:80", "blocked host localhost"},
	} {
		err := g.CheckHost(tc.host)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, ErrBlocked) {
			t.Errorf("CheckHost(%q) = %v, want %q", tc.host, err, tc.want)
		}
	}
	for _, h := range []string{"example.com", "localhost.example.com", "notlocalhost", "8.8.8.8", "[2606:4700::1111]", "[2606:4700::1111]:443", "w1-a.test", "w1-a.test:8080"} {
		if err := g.CheckHost(h); err != nil {
			t.Errorf("CheckHost(%q) = %v", h, err)
		}
	}
	for _, allow := range []string{"127.0.0.0/8", "::1/128"} {
		g := New([]netip.Prefix{netip.MustParsePrefix(allow)})
		if err := g.CheckHost("localhost"); err != nil {
			t.Errorf("allowed %s: CheckHost(localhost) = %v", allow, err)
		}
	}
	if err := New([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}).CheckHost("localhost"); err == nil {
		t.Error("allowing 10.0.0.0/8 must not allow localhost")
	}
}

// FuzzLookup checks invariants on any address: no panic; whatever
// net/netip calls loopback, private, link-local, multicast or unspecified
// is special; a zone changes nothing; the IPv4-mapped form of an IPv4
// address gets its verdict; and an allow-list holding the address lets it
// through.
func FuzzLookup(f *testing.F) {
	for _, s := range []string{"127.0.0.1", "::1", "fe80::1", "10.0.0.1", "8.8.8.8", "2606:4700::1111",
		"64:ff9b::7f00:1", "::ffff:192.168.0.1", "255.255.255.255", "2002::1", "ff02::1"} {
		a := mustAddr(s)
		f.Add(a.AsSlice(), "")
	}
	f.Add(mustAddr("fe80::1").AsSlice(), "eth0")
	f.Fuzz(func(t *testing.T, b []byte, zone string) {
		a, ok := netip.AddrFromSlice(b)
		if !ok {
			return
		}
		r, special := Lookup(a)
		if (a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() ||
			a.IsInterfaceLocalMulticast() || a.IsMulticast() || a.IsUnspecified()) && !special {
			t.Fatalf("%s: netip says special, Lookup does not", a)
		}
		if special && r.Name == "" {
			t.Fatalf("%s: special range without a name", a)
		}
		if a.Is6() && zone != "" && !strings.ContainsAny(zone, "%") {
			rz, sz := Lookup(a.WithZone(zone))
			if rz != r || sz != special {
				t.Fatalf("%s%%%s: %v %v, without the zone %v %v", a, zone, rz, sz, r, special)
			}
		}
		if a.Is4() {
			rm, sm := Lookup(netip.AddrFrom16(a.As16()))
			if sm != special || special && rm.Prefix != r.Prefix {
				t.Fatalf("%s: mapped form %v %v, IPv4 %v %v", a, rm, sm, r, special)
			}
			if special != !globalUnicastV4(a) {
				t.Fatalf("%s: special %v", a, special)
			}
		}
		g := New(nil)
		if err := g.Check(a); (err != nil) != special {
			t.Fatalf("Check(%s) = %v, special %v", a, err, special)
		}
		if a.IsValid() {
			allowed := New([]netip.Prefix{netip.PrefixFrom(a, a.BitLen())})
			if err := allowed.Check(a); err != nil {
				t.Fatalf("%s allowed: %v", a, err)
			}
		}
	})
}

// globalUnicastV4 is an independent statement of which IPv4 addresses are
// ordinary: not in any range of the IANA special-purpose registry, nor
// multicast, nor 240/4, compared octet by octet.
func globalUnicastV4(a netip.Addr) bool {
	b := a.As4()
	o0, o1, o2 := b[0], b[1], b[2]
	switch {
	case o0 == 0, o0 == 10, o0 == 127, o0 >= 224:
		return false
	case o0 == 100 && o1 >= 64 && o1 <= 127:
		return false
	case o0 == 169 && o1 == 254, o0 == 172 && o1 >= 16 && o1 <= 31, o0 == 192 && o1 == 168:
		return false
	case o0 == 192 && o1 == 0 && (o2 == 0 || o2 == 2):
		return false
	case o0 == 192 && (o1 == 31 && o2 == 196 || o1 == 52 && o2 == 193 || o1 == 88 && o2 == 99 || o1 == 175 && o2 == 48):
		return false
	case o0 == 198 && (o1 == 18 || o1 == 19), o0 == 198 && o1 == 51 && o2 == 100, o0 == 203 && o1 == 0 && o2 == 113:
		return false
	}
	return true
}
