package deploy

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// This file reads PromQL just enough to find what an expression depends
// on: its series selectors, and the parts of an alert expression that
// hold while nothing is wrong (an alert's comparison is what makes it
// fire, so in a healthy crawl only the parts without it return series).
// The module links no PromQL parser (prometheus/prometheus would be a
// heavy dependency for tests); promtool check rules and Prometheus itself
// parse every expression for real, in the other tests.

// promqlKeywords are identifiers that are not metric names.
var promqlKeywords = map[string]bool{
	"and": true, "or": true, "unless": true, "bool": true, "offset": true, "atan2": true,
	"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true,
	"inf": true, "nan": true, "Inf": true, "NaN": true,
	// Aggregations, which may be followed by `by (...)` before their
	// parenthesis.
	"sum": true, "min": true, "max": true, "avg": true, "count": true, "group": true, "stddev": true,
	"stdvar": true, "topk": true, "bottomk": true, "quantile": true, "count_values": true,
}

// labelListKeywords are followed by a parenthesised list of label names.
var labelListKeywords = map[string]bool{
	"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true,
}

// selector is a series selector of an expression: a metric name and its
// matchers as written ("" or `{state="pending"}`).
type selector struct {
	Name     string
	Matchers string
}

func (s selector) String() string { return s.Name + s.Matchers }

// selectors returns the series selectors of expr in order of appearance,
// without duplicates.
func selectors(expr string) ([]selector, error) {
	var out []selector
	for i := 0; i < len(expr); {
		c := expr[i]
		switch {
		case c == '"' || c == '\'' || c == '`':
			j, err := skipString(expr, i)
			if err != nil {
				return nil, err
			}
			i = j
		case c == '[':
			j := strings.IndexByte(expr[i:], ']')
			if j < 0 {
				return nil, fmt.Errorf("unclosed [ at %d in %q", i, expr)
			}
			i += j + 1
		case c == '#':
			j := strings.IndexByte(expr[i:], '\n')
			if j < 0 {
				return out, nil
			}
			i += j + 1
		case isDigit(c) || c == '.' && i+1 < len(expr) && isDigit(expr[i+1]):
			for i < len(expr) && (isIdentChar(expr[i]) || expr[i] == '.') {
				i++
			}
		case isIdentStart(c):
			j := i
			for j < len(expr) && isIdentChar(expr[j]) {
				j++
			}
			name := expr[i:j]
			k := skipSpace(expr, j)
			switch {
			case labelListKeywords[name]:
				i = k
				if k < len(expr) && expr[k] == '(' {
					end := strings.IndexByte(expr[k:], ')')
					if end < 0 {
						return nil, fmt.Errorf("unclosed label list after %s in %q", name, expr)
					}
					i = k + end + 1
				}
			case promqlKeywords[name]:
				i = j
			case k < len(expr) && expr[k] == '(':
				i = j // a function or an aggregation
			default:
				s := selector{Name: name}
				i = j
				if k < len(expr) && expr[k] == '{' {
					end, err := closeBrace(expr, k)
					if err != nil {
						return nil, err
					}
					s.Matchers = expr[k : end+1]
					i = end + 1
				}
				if !slices.Contains(out, s) {
					out = append(out, s)
				}
			}
		default:
			i++
		}
	}
	return out, nil
}

// operands splits an alert expression into the parts that return series
// whatever the state of the crawl: the operands of its set operators
// (and, or, unless), recursively, with every comparison against a number
// dropped (`x > 0.05` gives x) and vector-matching modifiers removed.
func operands(expr string) ([]string, error) {
	e := strings.TrimSpace(expr)
	if e == "" {
		return nil, fmt.Errorf("empty operand")
	}
	if inner, ok := unwrapParens(e); ok {
		return operands(inner)
	}
	parts, err := splitTopLevel(e, func(s string, i int) int {
		for _, op := range []string{"and", "or", "unless"} {
			if wordAt(s, i, op) {
				return len(op)
			}
		}
		return 0
	})
	if err != nil {
		return nil, err
	}
	if len(parts) > 1 {
		var out []string
		for _, p := range parts {
			sub, err := operands(stripMatching(p))
			if err != nil {
				return nil, err
			}
			out = append(out, sub...)
		}
		return out, nil
	}
	sides, err := splitTopLevel(e, func(s string, i int) int {
		for _, op := range []string{"==", "!=", ">=", "<="} {
			if strings.HasPrefix(s[i:], op) {
				return 2
			}
		}
		if s[i] == '>' || s[i] == '<' {
			return 1
		}
		return 0
	})
	if err != nil {
		return nil, err
	}
	if len(sides) == 1 {
		return []string{e}, nil
	}
	var out []string
	for _, side := range sides {
		side = strings.TrimSpace(side)
		side = strings.TrimSpace(strings.TrimPrefix(side, "bool "))
		side = stripMatching(side)
		if _, err := strconv.ParseFloat(side, 64); err == nil {
			continue // the threshold
		}
		sub, err := operands(side)
		if err != nil {
			return nil, err
		}
		out = append(out, sub...)
	}
	return out, nil
}

// splitTopLevel splits s at the operators opLen recognises (returning
// their length, 0 for none) outside parentheses, brackets, braces and
// strings.
func splitTopLevel(s string, opLen func(s string, i int) int) ([]string, error) {
	var parts []string
	depth, start := 0, 0
	for i := 0; i < len(s); {
		switch c := s[i]; {
		case c == '"' || c == '\'' || c == '`':
			j, err := skipString(s, i)
			if err != nil {
				return nil, err
			}
			i = j
			continue
		case c == '(' || c == '[' || c == '{':
			depth++
		case c == ')' || c == ']' || c == '}':
			depth--
			if depth < 0 {
				return nil, fmt.Errorf("unbalanced %q at %d in %q", c, i, s)
			}
		case depth == 0:
			if n := opLen(s, i); n > 0 {
				parts = append(parts, s[start:i])
				i += n
				start = i
				continue
			}
		}
		i++
	}
	if depth != 0 {
		return nil, fmt.Errorf("unbalanced brackets in %q", s)
	}
	return append(parts, s[start:]), nil
}

// stripMatching removes a leading vector-matching modifier, such as
// `on (instance)` or `ignoring (le) group_left (x)`, left at the start of
// an operand by splitting at its operator.
func stripMatching(s string) string {
	s = strings.TrimSpace(s)
	for _, kw := range []string{"on", "ignoring", "group_left", "group_right"} {
		if wordAt(s, 0, kw) {
			rest := strings.TrimSpace(s[len(kw):])
			if strings.HasPrefix(rest, "(") {
				if end := strings.IndexByte(rest, ')'); end >= 0 {
					rest = rest[end+1:]
				}
			}
			return stripMatching(rest)
		}
	}
	return s
}

// unwrapParens returns the inside of s when one pair of parentheses
// encloses all of it.
func unwrapParens(s string) (string, bool) {
	if !strings.HasPrefix(s, "(") || !strings.HasSuffix(s, ")") {
		return "", false
	}
	depth := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"', '\'', '`':
			j, err := skipString(s, i)
			if err != nil {
				return "", false
			}
			i = j - 1
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 && i != len(s)-1 {
				return "", false
			}
		}
	}
	return s[1 : len(s)-1], true
}

// wordAt reports whether the keyword w stands at s[i:] as a whole word.
func wordAt(s string, i int, w string) bool {
	if !strings.HasPrefix(s[i:], w) {
		return false
	}
	if i > 0 && isIdentChar(s[i-1]) {
		return false
	}
	j := i + len(w)
	return j == len(s) || !isIdentChar(s[j])
}

func skipString(s string, i int) (int, error) {
	q := s[i]
	for j := i + 1; j < len(s); j++ {
		if s[j] == '\\' && q != '`' {
			j++
			continue
		}
		if s[j] == q {
			return j + 1, nil
		}
	}
	return 0, fmt.Errorf("unclosed string at %d in %q", i, s)
}

func closeBrace(s string, i int) (int, error) {
	for j := i + 1; j < len(s); j++ {
		switch s[j] {
		case '"', '\'', '`':
			k, err := skipString(s, j)
			if err != nil {
				return 0, err
			}
			j = k - 1
		case '}':
			return j, nil
		}
	}
	return 0, fmt.Errorf("unclosed { at %d in %q", i, s)
}

func skipSpace(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
		i++
	}
	return i
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isIdentStart(c byte) bool {
	return c == '_' || c == ':' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}
func isIdentChar(c byte) bool { return isIdentStart(c) || isDigit(c) }

// grafanaVars are the Grafana variables the dashboard's queries may use,
// with the values the tests give them (scrapes every second there).
var grafanaVars = map[string]string{
	"$__rate_interval": "20s",
	"$__interval":      "5s",
	"$__range":         "5m",
}

var leftoverVar = regexp.MustCompile(`\$\{?[A-Za-z_]+\}?`)

// expandGrafana replaces the dashboard variables of a query; any other
// variable is an error (the dashboard defines only the data source).
func expandGrafana(expr string) (string, error) {
	for k, v := range grafanaVars {
		expr = strings.ReplaceAll(expr, k, v)
	}
	if m := leftoverVar.FindString(expr); m != "" {
		return "", fmt.Errorf("unknown variable %s in %q", m, expr)
	}
	return expr, nil
}

func TestSelectors(t *testing.T) {
	cases := []struct {
		expr string
		want []string
	}{
		{`up{job=~"crawlmaster-master|crawlmaster-assistant"} == 0`, []string{`up{job=~"crawlmaster-master|crawlmaster-assistant"}`}},
		{`(sum(crawlmaster_master_leader) or vector(0)) < 1`, []string{"crawlmaster_master_leader"}},
		{`sum by (instance) (rate(crawlmaster_persist_results_total{outcome=~"done|failed|dead"}[1h])) > 0.05`,
			[]string{`crawlmaster_persist_results_total{outcome=~"done|failed|dead"}`}},
		{`histogram_quantile(0.99, sum by (assistant, le) (rate(x_bucket[20s]))) and on (instance) group_left (le) y == 1`,
			[]string{"x_bucket", "y"}},
		{`a{s="}"} unless ignoring (le) b offset 5m`, []string{`a{s="}"}`, "b"}},
		{`sum without(outcome) (rate(z[5m:1m])) * 1e3 + 0.5`, []string{"z"}},
	}
	for _, c := range cases {
		got, err := selectors(c.expr)
		if err != nil {
			t.Errorf("selectors(%q): %v", c.expr, err)
			continue
		}
		var s []string
		for _, g := range got {
			s = append(s, g.String())
		}
		if !slices.Equal(s, c.want) {
			t.Errorf("selectors(%q) = %q, want %q", c.expr, s, c.want)
		}
	}
}

func TestOperands(t *testing.T) {
	cases := []struct {
		expr string
		want []string
	}{
		{`up{job="a"} == 0`, []string{`up{job="a"}`}},
		{`(sum(l) or vector(0)) < 1`, []string{"sum(l)", "vector(0)"}},
		{"(\n  age > 300\n  and on (instance) leader == 1\n)\nunless on (instance)\n(\n  sum by (instance) (rate(r[10m])) > 0\n)",
			[]string{"age", "leader", "sum by (instance) (rate(r[10m]))"}},
		{`sum by (i) (increase(d[1h])) > 100 and on (i) (sum by (i) (rate(d[1h])) / sum by (i) (rate(f{o=~"a|b"}[1h]))) > 0.05`,
			[]string{"sum by (i) (increase(d[1h]))", `sum by (i) (rate(d[1h])) / sum by (i) (rate(f{o=~"a|b"}[1h]))`}},
		{`x - time() < 14 * 86400`, []string{"x - time()", "14 * 86400"}},
		{`a > bool b`, []string{"a", "b"}},
		{`rate(x{s=">"}[5m])`, []string{`rate(x{s=">"}[5m])`}},
		{`candor_total > 0`, []string{"candor_total"}}, // "and" inside a name is no operator
	}
	for _, c := range cases {
		got, err := operands(c.expr)
		if err != nil {
			t.Errorf("operands(%q): %v", c.expr, err)
			continue
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("operands(%q) = %q, want %q", c.expr, got, c.want)
		}
	}
	for _, bad := range []string{"(a > 1", `a{s="x} > 1`} {
		if got, err := operands(bad); err == nil {
			t.Errorf("operands(%q) = %q, want an error", bad, got)
		}
	}
}

func TestExpandGrafana(t *testing.T) {
	got, err := expandGrafana("rate(x[$__rate_interval])")
	if err != nil || got != "rate(x[20s])" {
		t.Errorf("expandGrafana = %q, %v", got, err)
	}
	if got, err := expandGrafana(`x{instance="$instance"}`); err == nil {
		t.Errorf("expandGrafana of an unknown variable = %q, want an error", got)
	}
}
