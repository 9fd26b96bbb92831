package config

import (
	"fmt"
	"net"
	"strconv"
	"strings"
)

// ResolveRule is one parsed fetch.resolve entry "PATTERN=IP:PORT": a fetch
// of a host matching Pattern connects to Addr instead of resolving the host
// (the request keeps the original Host header and TLS server name).
type ResolveRule struct {
	// Pattern is "*" (every host), "*.suffix" (every subdomain of suffix,
	// not suffix itself) or an exact host name or IPv4 address. Lower case,
	// without a trailing dot.
	Pattern string
	// Addr is the "IP:PORT" to connect to (IPv6 in brackets).
	Addr string
}

// String returns the rule in its configuration form.
func (r ResolveRule) String() string { return r.Pattern + "=" + r.Addr }

// Matches reports whether host (without port; case and a trailing dot are
// ignored) matches the rule's pattern.
func (r ResolveRule) Matches(host string) bool {
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	switch {
	case r.Pattern == "*":
		return true
	case strings.HasPrefix(r.Pattern, "*."):
		suffix := r.Pattern[1:] // ".suffix"
		return len(host) > len(suffix) && strings.HasSuffix(host, suffix)
	}
	return host == r.Pattern
}

// ParseResolveRule parses "PATTERN=IP:PORT", e.g. "*.test=127.0.0.1:8080".
func ParseResolveRule(s string) (ResolveRule, error) {
	pattern, addr, ok := strings.Cut(s, "=")
	if !ok {
		return ResolveRule{}, fmt.Errorf("invalid rule %q: expected PATTERN=IP:PORT, e.g. \"*.test=127.0.0.1:8080\"", s)
	}
	pattern = strings.ToLower(strings.TrimSpace(pattern))
	addr = strings.TrimSpace(addr)
	if err := checkPattern(pattern); err != nil {
		return ResolveRule{}, fmt.Errorf("invalid rule %q: %v", s, err)
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return ResolveRule{}, fmt.Errorf("invalid rule %q: address %q is not IP:PORT", s, addr)
	}
	ip := net.ParseIP(host)
	if ip == nil || strings.Contains(host, "%") {
		return ResolveRule{}, fmt.Errorf("invalid rule %q: %q is not an IP address (host names are not allowed here)", s, host)
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 1 || p > maxPort || port != strconv.Itoa(p) {
		return ResolveRule{}, fmt.Errorf("invalid rule %q: port %q is not in 1..65535", s, port)
	}
	return ResolveRule{Pattern: pattern, Addr: net.JoinHostPort(ip.String(), strconv.Itoa(p))}, nil
}

func checkPattern(p string) error {
	switch {
	case p == "":
		return fmt.Errorf("empty pattern")
	case p == "*":
		return nil
	case strings.HasPrefix(p, "*."):
		if err := checkHostName(p[2:]); err != nil {
			return fmt.Errorf("pattern %q: %v", p, err)
		}
		return nil
	}
	if err := checkHostName(p); err != nil {
		return fmt.Errorf("pattern %q: %v (use an exact host, \"*.suffix\" or \"*\")", p, err)
	}
	return nil
}

// checkHostName accepts DNS names (letters, digits, '-', '_' in labels of at
// most 63 characters) and, as a special case of that, IPv4 addresses.
func checkHostName(h string) error {
	if h == "" {
		return fmt.Errorf("empty host name")
	}
	if len(h) > 253 {
		return fmt.Errorf("host name longer than 253 characters")
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" {
			return fmt.Errorf("empty label in host name")
		}
		if len(label) > 63 {
			return fmt.Errorf("label longer than 63 characters")
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return fmt.Errorf("character %q not allowed in a host name", c)
			}
		}
	}
	return nil
}
