package fetchconfig

import (
	"fmt"
	"math/big"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/crawlmaster/crawlmaster/internal/yamlcheck"
)

// ByteSize is a number of bytes. In YAML it is an integer or a string with
// a unit: "512KiB", "1MiB", "64kB", "1.5 MB". Units are case-insensitive:
// B; kB, MB, GB (powers of 1000); KiB, MiB, GiB (powers of 1024). Negative
// sizes and fractions of a byte are rejected.
type ByteSize int64

// Binary size units.
const (
	KiB ByteSize = 1 << 10
	MiB ByteSize = 1 << 20
	GiB ByteSize = 1 << 30
)

var sizeUnits = map[string]ByteSize{
	"": 1, "b": 1,
	"kb": 1e3, "mb": 1e6, "gb": 1e9,
	"kib": KiB, "mib": MiB, "gib": GiB,
}

// String formats b with the largest binary unit dividing it exactly
// ("256KiB", "1MiB"), or in bytes ("1000B").
func (b ByteSize) String() string {
	for _, u := range []struct {
		size ByteSize
		name string
	}{{GiB, "GiB"}, {MiB, "MiB"}, {KiB, "KiB"}} {
		if b != 0 && b%u.size == 0 {
			return strconv.FormatInt(int64(b/u.size), 10) + u.name
		}
	}
	return strconv.FormatInt(int64(b), 10) + "B"
}

// MarshalYAML writes the String form, which UnmarshalYAML reads back.
func (b ByteSize) MarshalYAML() (any, error) { return b.String(), nil }

// UnmarshalYAML reads an integer or a string with a unit; a bad size is a
// *yaml.TypeError.
func (b *ByteSize) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		switch n.ShortTag() {
		case "!!int":
			var v int64
			switch {
			case n.Decode(&v) != nil:
				return yamlcheck.TypeError(n, "size %s is out of range", n.Value)
			case v < 0:
				return yamlcheck.TypeError(n, "size %s must not be negative", n.Value)
			}
			*b = ByteSize(v)
			return nil
		case "!!str":
			v, err := parseByteSize(n.Value)
			if err != nil {
				return yamlcheck.TypeError(n, "%v", err)
			}
			*b = v
			return nil
		}
	}
	return yamlcheck.TypeError(n, "expected a size such as 1048576 or \"1MiB\", got %s", yamlcheck.Describe(n))
}

// parseByteSize parses a size string such as "512KiB", "1.5 MB" or "4096".
func parseByteSize(s string) (ByteSize, error) {
	t := strings.TrimSpace(s)
	if strings.HasPrefix(t, "-") {
		return 0, fmt.Errorf("size %q must not be negative", s)
	}
	i := 0
	for i < len(t) && (t[i] >= '0' && t[i] <= '9' || t[i] == '.') {
		i++
	}
	num, unit := t[:i], strings.TrimSpace(t[i:])
	mult, ok := sizeUnits[strings.ToLower(unit)]
	if !ok {
		return 0, fmt.Errorf("invalid size %q: unknown unit %q (use B, kB, MB, GB, KiB, MiB or GiB)", s, unit)
	}
	// big.Rat keeps "0.1kB" exact; the length bound keeps it cheap.
	var r *big.Rat
	if len(num) <= 32 && strings.Count(num, ".") <= 1 {
		r, _ = new(big.Rat).SetString(num)
	}
	if r == nil {
		return 0, fmt.Errorf("invalid size %q: expected a number followed by a unit, e.g. \"512KiB\"", s)
	}
	r.Mul(r, new(big.Rat).SetInt64(int64(mult)))
	switch {
	case !r.IsInt():
		return 0, fmt.Errorf("invalid size %q: not a whole number of bytes", s)
	case !r.Num().IsInt64():
		return 0, fmt.Errorf("size %q is too large", s)
	}
	return ByteSize(r.Num().Int64()), nil
}

// Set parses a size as in YAML ("1GiB", "512MB", "4096"), so a ByteSize
// is also a flag.Value.
func (b *ByteSize) Set(s string) error {
	v, err := parseByteSize(s)
	if err != nil {
		return err
	}
	*b = v
	return nil
}
