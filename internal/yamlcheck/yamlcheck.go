package yamlcheck

import (
	"bytes"
	"errors"
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

// DecodeStrict decodes data into v, failing on keys v has no field for
// (yaml.v3's KnownFields). yaml.v3 panics on a merge key "<<" in a mapping
// that has a list or mapping as a key (it hashes the keys): that is an
// error here.
func DecodeStrict(data []byte, v any) (err error) {
	defer func() {
		if r := recover(); r != nil && strings.Contains(fmt.Sprint(r), "unhashable") {
			err = errors.New(`yaml: a mapping with a merge key "<<" must not have a list or mapping as a key`)
		} else if r != nil {
			panic(r)
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	return dec.Decode(v)
}

// Suggest returns the name in known that key plausibly misspells: the
// closest (case-insensitive) within Levenshtein distance 2 and half the
// name's length, or "" when none is.
func Suggest(key string, known []string) string {
	best, bestD, a := "", 3, strings.ToLower(key)
	for _, b := range known {
		prev := make([]int, len(b)+1)
		for j := range prev {
			prev[j] = j
		}
		for i := 0; i < len(a) && len(a) < 64; i++ {
			cur := []int{i + 1}
			for j := range b {
				cur = append(cur, min(prev[j]+1, prev[j+1]+1, cur[j]+1))
				if a[i] == b[j] {
					cur[j+1] = min(cur[j+1], prev[j])
				}
			}
			prev = cur
		}
		if d := prev[len(b)]; d < bestD && d <= len(b)/2 {
			best, bestD = b, d
		}
	}
	return best
}

// ValueText is how yaml.v3's type errors show a node: "!!str `abc`",
// values over 10 bytes cut to 7 and "...".
func ValueText(n *yaml.Node) string {
	if v := n.Value; n.Kind != yaml.ScalarNode {
		return n.ShortTag()
	} else if len(v) > 10 {
		return n.ShortTag() + " `" + v[:7] + "...`"
	}
	return n.ShortTag() + " `" + n.Value + "`"
}

// Expected says what a value of Go type into (as yaml.v3 names it:
// "int", "time.Duration", "[]config.Assistant") should look like, given
// the node n found instead: "expected an integer, got \"abc\"", or for a
// duration without a unit, how to write one.
func Expected(into string, n *yaml.Node) string {
	want, ok := map[string]string{"int": "an integer", "float64": "a number", "bool": "true or false", "string": "a string"}[into]
	v, tag := strings.TrimSpace(n.Value), n.ShortTag()
	_, notNumber := strconv.ParseFloat(v, 64)
	switch {
	case ok:
	case strings.HasPrefix(into, "[]"):
		want = "a list"
	case into != "time.Duration":
		want = "a mapping of keys"
	case tag == "!!int" || tag == "!!float" || tag == "!!str" && notNumber == nil:
		return fmt.Sprintf("duration %s has no unit: add one, e.g. \"%ss\" or \"%sms\"", v, v, v)
	case tag == "!!str":
		return fmt.Sprintf("invalid duration %q: use Go duration syntax such as \"500ms\", \"30s\", \"5m\" or \"1h\"", n.Value)
	default:
		want = "a duration such as \"30s\""
	}
	return "expected " + want + ", got " + Describe(n)
}
