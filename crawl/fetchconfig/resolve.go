package fetchconfig

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/crawlmaster/crawlmaster/internal/yamlcheck"
)

// ResolveRule routes hosts to a fixed address, like curl --resolve.
// Pattern is an exact host ("a.test"), a suffix wildcard ("*.test": any
// subdomain of test, not "test" itself) or "*" (every host). Addr is
// "ip:port"; all connections for a matching host go there whatever the
// URL's port. The most specific rule wins: exact, then longest suffix, then
// "*". In YAML a rule is the string "PATTERN=IP:PORT" ([ParseResolveRule]).
type ResolveRule struct{ Pattern, Addr string }

// ParseResolveRule parses "PATTERN=IP:PORT", e.g. "*.test=127.0.0.1:8080" or
// "a.test=[::1]:443". The pattern is lowercased. The error names the rule
// and the offending part.
func ParseResolveRule(s string) (ResolveRule, error) {
	pat, addr, ok := strings.Cut(strings.TrimSpace(s), "=")
	if !ok {
		return ResolveRule{}, fmt.Errorf("resolve rule %q: want PATTERN=IP:PORT", s)
	}
	r := ResolveRule{Pattern: strings.ToLower(strings.TrimSpace(pat)), Addr: strings.TrimSpace(addr)}
	if err := r.validate(); err != nil {
		return ResolveRule{}, fmt.Errorf("resolve rule %q: %w", s, err)
	}
	return r, nil
}

// String returns the rule as "PATTERN=IP:PORT".
func (r ResolveRule) String() string { return r.Pattern + "=" + r.Addr }

// MarshalYAML writes the rule as its string.
func (r ResolveRule) MarshalYAML() (any, error) { return r.String(), nil }

// UnmarshalYAML parses the string form; a bad rule is a *yaml.TypeError.
func (r *ResolveRule) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return yamlcheck.TypeError(n, "expected a string \"PATTERN=IP:PORT\", got %s", yamlcheck.Describe(n))
	}
	rule, err := ParseResolveRule(n.Value)
	if err != nil {
		return yamlcheck.TypeError(n, "%v", err)
	}
	*r = rule
	return nil
}

func (r ResolveRule) validate() error {
	p := r.Pattern
	switch {
	case r == ResolveRule{}:
		return errors.New("empty rule: want PATTERN=IP:PORT")
	case p == "":
		return errors.New("empty pattern")
	case p == "*":
	case strings.HasPrefix(p, "*."):
		if err := validRuleHost(p[2:]); err != nil {
			return fmt.Errorf("pattern %q: %w", p, err)
		}
	default:
		if err := validRuleHost(p); err != nil {
			return fmt.Errorf("pattern %q: %w", p, err)
		}
	}
	ap, err := netip.ParseAddrPort(r.Addr)
	if err != nil {
		return fmt.Errorf("addr %q: want IP:PORT: %w", r.Addr, err)
	}
	if ap.Port() == 0 {
		return fmt.Errorf("addr %q: port must be 1-65535", r.Addr)
	}
	return nil
}

func validRuleHost(h string) error {
	if h == "" {
		return errors.New("empty host")
	}
	if strings.Contains(h, "*") {
		return errors.New("'*' is only allowed as \"*\" or a leading \"*.\"")
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_') {
			if c >= 'A' && c <= 'Z' {
				return errors.New("must be lowercase")
			}
			return fmt.Errorf("invalid character %q (want a lowercase ASCII host name; use punycode)", c)
		}
	}
	return nil
}
