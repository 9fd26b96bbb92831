package fetchconfig

import (
	"fmt"
	"net/netip"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/crawlmaster/crawlmaster/internal/yamlcheck"
)

// Network is one entry of [Config.AllowedNetworks]: an IPv4 or IPv6
// network in CIDR notation ("10.0.0.0/8", "fd00::/8", one address:
// "10.1.2.3/32"). In YAML it is that string ([ParseNetwork]).
type Network struct{ Prefix netip.Prefix }

// ParseNetwork parses a CIDR such as "127.0.0.0/8". A bare address, a
// zone and host bits set ("127.0.0.1/8") are errors, each naming the fix.
func ParseNetwork(s string) (Network, error) {
	t := strings.TrimSpace(s)
	p, err := netip.ParsePrefix(t)
	if err != nil {
		if a, aerr := netip.ParseAddr(t); aerr == nil && a.Zone() == "" {
			return Network{}, fmt.Errorf("network %q: want a CIDR such as \"10.0.0.0/8\"; for this one address write %q",
				s, netip.PrefixFrom(a, a.BitLen()).String())
		}
		return Network{}, fmt.Errorf("network %q: want a CIDR such as \"10.0.0.0/8\" or \"fd00::/8\"", s)
	}
	n := Network{p}
	if err := n.validate(); err != nil {
		return Network{}, fmt.Errorf("network %q: %w", s, err)
	}
	return n, nil
}

func (n Network) validate() error {
	switch p := n.Prefix; {
	case !p.IsValid():
		return fmt.Errorf("not a valid CIDR")
	case p != p.Masked():
		return fmt.Errorf("has host bits set: did you mean %q?", p.Masked().String())
	}
	return nil
}

// String returns the CIDR.
func (n Network) String() string { return n.Prefix.String() }

// MarshalYAML writes the CIDR string.
func (n Network) MarshalYAML() (any, error) { return n.String(), nil }

// UnmarshalYAML parses the CIDR string; a bad one is a *yaml.TypeError.
func (n *Network) UnmarshalYAML(node *yaml.Node) error {
	if node.Kind != yaml.ScalarNode || node.ShortTag() != "!!str" {
		return yamlcheck.TypeError(node, "expected a network such as \"10.0.0.0/8\", got %s", yamlcheck.Describe(node))
	}
	v, err := ParseNetwork(node.Value)
	if err != nil {
		return yamlcheck.TypeError(node, "%v", err)
	}
	*n = v
	return nil
}

// AllowedPrefixes returns AllowedNetworks as prefixes, for netguard.New.
func (c Config) AllowedPrefixes() []netip.Prefix {
	out := make([]netip.Prefix, 0, len(c.AllowedNetworks))
	for _, n := range c.AllowedNetworks {
		out = append(out, n.Prefix)
	}
	return out
}
