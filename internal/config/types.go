package config

import (
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// YAML resolved tags used below.
const (
	tagStr   = "!!str"
	tagInt   = "!!int"
	tagFloat = "!!float"
	tagBool  = "!!bool"
	tagNull  = "!!null"
)

// Duration is a time.Duration written in YAML as a Go duration string
// ("250ms", "30s", "1h30m"). A bare number is rejected, quoted or not,
// because its unit would be a guess.
type Duration time.Duration

// Duration returns d as a time.Duration.
func (d Duration) Duration() time.Duration { return time.Duration(d) }

// String formats d like time.Duration.String without zero trailing units:
// "1m" rather than "1m0s", "1h" rather than "1h0m0s".
func (d Duration) String() string {
	s := time.Duration(d).String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// UnmarshalYAML implements yaml.Unmarshaler.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	n = resolveAlias(n)
	if n == nil || n.Kind != yaml.ScalarNode {
		return fmt.Errorf("expected a duration such as \"30s\", got %s", describe(n))
	}
	switch n.ShortTag() {
	case tagInt, tagFloat:
		return bareNumber(n.Value)
	case tagStr:
	default:
		return fmt.Errorf("expected a duration such as \"30s\", got %s", describe(n))
	}
	s := strings.TrimSpace(n.Value)
	if _, err := strconv.ParseFloat(s, 64); err == nil {
		return bareNumber(s)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("invalid duration %q: use Go duration syntax such as \"500ms\", \"30s\", \"5m\" or \"1h\"", n.Value)
	}
	*d = Duration(v)
	return nil
}

func bareNumber(s string) error {
	return fmt.Errorf("duration %s has no unit: add one, e.g. \"%ss\" or \"%sms\"", s, s, s)
}

// MarshalYAML implements yaml.Marshaler: the duration string.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// ByteSize is a number of bytes, written in YAML as an integer or as a
// string with a unit: "512KiB", "1MiB", "64kB", "1.5 MB". Units are case
// insensitive: B; kB, MB, GB (powers of 1000); KiB, MiB, GiB (powers of
// 1024). Negative sizes are rejected.
type ByteSize int64

// Size units.
const (
	B   ByteSize = 1
	KB  ByteSize = 1000
	MB  ByteSize = 1000 * KB
	GB  ByteSize = 1000 * MB
	KiB ByteSize = 1024
	MiB ByteSize = 1024 * KiB
	GiB ByteSize = 1024 * MiB
)

var sizeUnits = map[string]ByteSize{
	"": B, "b": B,
	"kb": KB, "mb": MB, "gb": GB,
	"kib": KiB, "mib": MiB, "gib": GiB,
}

// Bytes returns b as an int64 number of bytes.
func (b ByteSize) Bytes() int64 { return int64(b) }

// String formats b with the largest binary unit dividing it exactly
// ("256KiB", "1MiB"), or as bytes ("1000B").
func (b ByteSize) String() string {
	switch {
	case b != 0 && b%GiB == 0:
		return strconv.FormatInt(int64(b/GiB), 10) + "GiB"
	case b != 0 && b%MiB == 0:
		return strconv.FormatInt(int64(b/MiB), 10) + "MiB"
	case b != 0 && b%KiB == 0:
		return strconv.FormatInt(int64(b/KiB), 10) + "KiB"
	}
	return strconv.FormatInt(int64(b), 10) + "B"
}

// MarshalYAML implements yaml.Marshaler: the String form.
func (b ByteSize) MarshalYAML() (any, error) { return b.String(), nil }

// UnmarshalYAML implements yaml.Unmarshaler.
func (b *ByteSize) UnmarshalYAML(n *yaml.Node) error {
	n = resolveAlias(n)
	if n == nil || n.Kind != yaml.ScalarNode {
		return fmt.Errorf("expected a size such as 1048576 or \"1MiB\", got %s", describe(n))
	}
	switch n.ShortTag() {
	case tagFloat:
		if looksInteger(n.Value) {
			return fmt.Errorf("size %s is out of range", n.Value)
		}
	case tagInt:
		var v int64
		if err := n.Decode(&v); err != nil {
			return fmt.Errorf("size %s is out of range", n.Value)
		}
		if v < 0 {
			return fmt.Errorf("size %s must not be negative", n.Value)
		}
		*b = ByteSize(v)
		return nil
	case tagStr:
		v, err := ParseByteSize(n.Value)
		if err != nil {
			return err
		}
		*b = v
		return nil
	}
	return fmt.Errorf("expected a size such as 1048576 or \"1MiB\", got %s", describe(n))
}

// ParseByteSize parses a size string such as "512KiB", "1MiB", "64kB",
// "1.5 MB" or "4096" (bytes). See [ByteSize] for the units.
func ParseByteSize(s string) (ByteSize, error) {
	t := strings.TrimSpace(s)
	if strings.HasPrefix(t, "-") {
		return 0, fmt.Errorf("size %q must not be negative", s)
	}
	i := 0
	for i < len(t) && (t[i] >= '0' && t[i] <= '9' || t[i] == '.') {
		i++
	}
	num, unit := t[:i], strings.ToLower(strings.TrimSpace(t[i:]))
	mult, ok := sizeUnits[unit]
	if !ok {
		return 0, fmt.Errorf("invalid size %q: unknown unit %q (use B, kB, MB, GB, KiB, MiB or GiB)", s, strings.TrimSpace(t[i:]))
	}
	if num == "" || num == "." || strings.Count(num, ".") > 1 || len(num) > 32 {
		return 0, fmt.Errorf("invalid size %q: expected a number followed by a unit, e.g. \"512KiB\"", s)
	}
	r, ok := new(big.Rat).SetString(num)
	if !ok {
		return 0, fmt.Errorf("invalid size %q: expected a number followed by a unit, e.g. \"512KiB\"", s)
	}
	r.Mul(r, new(big.Rat).SetInt64(int64(mult)))
	if !r.IsInt() {
		return 0, fmt.Errorf("invalid size %q: not a whole number of bytes", s)
	}
	if !r.Num().IsInt64() {
		return 0, fmt.Errorf("size %q is too large", s)
	}
	return ByteSize(r.Num().Int64()), nil
}

// Workers is an assistant's number of worker slots. In YAML it is either a
// number ("workers: 64") or, in the old Python form, a non-empty list whose
// length is the count ("workers: [1000, 2000, 3000]" is 3 slots; the list's
// values are ignored).
type Workers int

// Int returns w as an int.
func (w Workers) Int() int { return int(w) }

// MarshalYAML implements yaml.Marshaler: always the number form.
func (w Workers) MarshalYAML() (any, error) { return int(w), nil }

// UnmarshalYAML implements yaml.Unmarshaler.
func (w *Workers) UnmarshalYAML(n *yaml.Node) error {
	n = resolveAlias(n)
	if n == nil {
		return errors.New("expected a number of worker slots")
	}
	switch n.Kind {
	case yaml.ScalarNode:
		if n.ShortTag() == tagFloat && looksInteger(n.Value) {
			return fmt.Errorf("number of worker slots %s is out of range", n.Value)
		}
		if n.ShortTag() != tagInt {
			return fmt.Errorf("expected a number of worker slots (or a list, old form), got %s", describe(n))
		}
		var v int
		if err := n.Decode(&v); err != nil {
			return fmt.Errorf("number of worker slots %s is out of range", n.Value)
		}
		*w = Workers(v)
		return nil
	case yaml.SequenceNode:
		if len(n.Content) == 0 {
			return errors.New("empty list: give the number of worker slots, e.g. \"workers: 64\"")
		}
		for _, item := range n.Content {
			if item := resolveAlias(item); item == nil || item.Kind != yaml.ScalarNode {
				return fmt.Errorf("old list form: items must be scalars, got %s", describe(item))
			}
		}
		*w = Workers(len(n.Content))
		return nil
	}
	return fmt.Errorf("expected a number of worker slots (or a list, old form), got %s", describe(n))
}

// looksInteger reports whether s is a decimal integer (which yaml.v3
// resolves as a float when it does not fit in 64 bits).
func looksInteger(s string) bool {
	s = strings.TrimLeft(s, "+-")
	return s != "" && strings.Trim(s, "0123456789") == ""
}

// resolveAlias follows alias nodes (bounded, in case of a malformed tree).
func resolveAlias(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 100; i++ {
		n = n.Alias
	}
	if n != nil && n.Kind == yaml.AliasNode {
		return nil
	}
	return n
}

// describe names what a node holds, for error messages.
func describe(n *yaml.Node) string {
	n = resolveAlias(n)
	if n == nil {
		return "nothing"
	}
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		v := n.Value
		if len(v) > 40 {
			v = v[:40] + "..."
		}
		switch n.ShortTag() {
		case tagNull:
			return "an empty value"
		case tagStr:
			return strconv.Quote(v)
		case tagInt:
			return "the number " + v
		case tagFloat:
			return "the number " + v
		case tagBool:
			return "the boolean " + v
		}
		return strconv.Quote(v)
	}
	return "an unsupported YAML node"
}
