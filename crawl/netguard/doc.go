// Package netguard keeps the crawler from fetching what it must not reach
// (server-side request forgery): the loopback interface, private and
// link-local networks (169.254.169.254 is the cloud metadata service),
// and every other special-purpose range of IANA's IPv4 and IPv6
// registries, in all their IPv6 disguises (IPv4-mapped, NAT64, 6to4,
// Teredo).
//
// The crawl package installs [Guard.Control] as its dialer's control
// hook, so the check applies to the address actually connected to, after
// DNS, on every connection: pages, each redirect hop, robots.txt and
// sitemaps, and a name that resolves differently the second time (DNS
// rebinding). The verdict is reached before the connect system call, so a
// refused address gives the same error whether its port is open or
// closed: the crawler cannot be used as a port scanner. The master uses
// [Guard.CheckHost] to refuse IP literals and localhost names when URLs
// enter the frontier.
//
// An allow-list of networks (rpc.yaml fetch.allowed_networks) lifts the
// refusal for intranet crawls and for tests against servers on loopback.
//
// # Why a table of our own
//
// code.dny.dev/ssrf (generated from the IANA registries) was considered.
// This package keeps its own table instead because: its allow-list for
// IPv4 does not apply to the IPv4-mapped form of an address, which a
// dual-stack socket connects to just the same; it refuses the whole NAT64
// prefix, or when that prefix is allowed lets 64:ff9b::7f00:1 (loopback
// through NAT64) through, where this package judges the IPv4 address
// inside; it allows only ports 80 and 443 by default; and every one of
// those semantics would need tests of our own anyway. The registries
// change a few times a decade; the table below names each entry with its
// RFC, and the tests check every range's first and last address, the
// mapped and NAT64 forms, and (fuzzing) agreement with net/netip's own
// predicates.
//
// The package imports only the standard library: the master uses it
// without linking the fetcher.
package netguard
