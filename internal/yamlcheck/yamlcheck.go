package yamlcheck

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Problem is one invalid setting.
type Problem struct {
	Key   string // key path of the setting, e.g. "timeout" or "rpc.assistant[1].port"
	Msg   string // what is wrong, e.g. "must be > 0, got 0s"
	Other string // key path of the setting a [Problems.Versus] rule compares with, as Msg names it; else ""
}

// Problems lists invalid settings, in the order found.
type Problems []Problem

// Add adds a problem at key when bad holds, its message formatted by
// fmt.Sprintf except that a time.Duration argument is written as in YAML:
// "1m" rather than "1m0s".
func (ps *Problems) Add(bad bool, key, format string, args ...any) {
	if !bad {
		return
	}
	for i, a := range args {
		if d, ok := a.(time.Duration); ok {
			s := d.String()
			if strings.HasSuffix(s, "m0s") {
				s = s[:len(s)-2]
			}
			if strings.HasSuffix(s, "h0m") {
				s = s[:len(s)-2]
			}
			args[i] = s
		}
	}
	*ps = append(*ps, Problem{Key: key, Msg: fmt.Sprintf(format, args...)})
}

// Versus adds a problem at key when bad holds, for a rule relating its
// value v to that of the setting other, limit: "REL OTHER (LIMIT), got V",
// e.g. "must be >= retry.base_delay (1m), got 1s" for rel "must be >=".
// Problem.Other is set to other.
func (ps *Problems) Versus(bad bool, key, rel, other string, limit, v any) {
	ps.Add(bad, key, rel+" %s (%v), got %v", other, limit, v)
	if bad {
		(*ps)[len(*ps)-1].Other = other
	}
}

// AtLeast adds a problem at key when v < min.
func (ps *Problems) AtLeast(key string, v, min int) {
	ps.Add(v < min, key, "must be >= %d, got %d", min, v)
}

// Positive adds a problem at key when d <= 0.
func (ps *Problems) Positive(key string, d time.Duration) {
	ps.Add(d <= 0, key, "must be > 0, got %s", d)
}

// NonNegative adds a problem at key when d < 0.
func (ps *Problems) NonNegative(key string, d time.Duration) {
	ps.Add(d < 0, key, "must not be negative, got %s", d)
}

// TypeError reports a bad value of node n the way yaml.v3 reports its own:
// as a *yaml.TypeError, which yaml.v3 collects with the document's other
// errors (any other error from an UnmarshalYAML method stops decoding).
// The message starts with "line N: column C: " so that a caller can tell
// which value it is about ([Position]).
func TypeError(n *yaml.Node, format string, args ...any) error {
	return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: column %d: ", n.Line, n.Column) + fmt.Sprintf(format, args...)}}
}

// Position splits one message of a *yaml.TypeError into the line it
// starts with, the column that follows when [TypeError] wrote it (yaml.v3's
// own messages have none: 0) and the rest. It returns line 0 and msg
// whole when msg does not start with "line N: ".
func Position(msg string) (line, col int, rest string) {
	after, ok := strings.CutPrefix(msg, "line ")
	ln, rest, _ := strings.Cut(after, ": ")
	line, err := strconv.Atoi(ln)
	if !ok || err != nil || line <= 0 {
		return 0, 0, msg
	}
	if c, r, ok := strings.Cut(rest, ": "); ok && strings.HasPrefix(c, "column ") {
		col, _ = strconv.Atoi(c[len("column "):])
		rest = r
	}
	return line, col, rest
}

// Unalias returns what n stands for when it is an alias (never another
// alias: yaml.v3 makes none), else n.
func Unalias(n *yaml.Node) *yaml.Node {
	if n.Kind == yaml.AliasNode {
		return n.Alias
	}
	return n
}

// Describe names what a YAML node holds, for error messages: "a list",
// "the number 1.5", "\"abc\"" (long values cut). An alias is described by
// what it stands for.
func Describe(n *yaml.Node) string {
	n = Unalias(n)
	v := n.Value
	if len(v) > 40 {
		v = v[:40] + "..."
	}
	switch tag := n.ShortTag(); {
	case n.Kind == yaml.MappingNode:
		return "a mapping"
	case n.Kind == yaml.SequenceNode:
		return "a list"
	case tag == "!!null":
		return "an empty value"
	case tag == "!!int" || tag == "!!float":
		return "the number " + v
	case tag == "!!bool":
		return "the boolean " + v
	}
	return strconv.Quote(v)
}
