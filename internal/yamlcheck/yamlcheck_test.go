package yamlcheck

import (
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

func TestProblems(t *testing.T) {
	var ps Problems
	ps.Add(false, "a", "never")
	ps.Add(true, "a", "%s %s %s %s %d", time.Minute, 90*time.Minute, 2*time.Hour, 1500*time.Millisecond, 7)
	ps.AtLeast("b", 0, 1)
	ps.AtLeast("b", 1, 1)
	ps.Positive("c", 0)
	ps.Positive("c", time.Second)
	ps.NonNegative("d", -time.Second)
	ps.NonNegative("d", 0)
	ps.Versus(false, "e", "must be >=", "f", time.Minute, time.Second)
	ps.Versus(true, "x.e", "must be >=", "x.f", time.Minute, time.Second)
	ps.Versus(true, "g", "must be >=", "h", 1000, 10)
	want := Problems{
		{Key: "a", Msg: "1m 1h30m 2h 1.5s 7"},
		{Key: "b", Msg: "must be >= 1, got 0"},
		{Key: "c", Msg: "must be > 0, got 0s"},
		{Key: "d", Msg: "must not be negative, got -1s"},
		{Key: "x.e", Msg: "must be >= x.f (1m), got 1s", Other: "x.f"},
		{Key: "g", Msg: "must be >= h (1000), got 10", Other: "h"},
	}
	if len(ps) != len(want) {
		t.Fatalf("got %+v\nwant %+v", ps, want)
	}
	for i := range want {
		if ps[i] != want[i] {
			t.Errorf("problem %d = %+v, want %+v", i, ps[i], want[i])
		}
	}
}

type value struct{}

func (*value) UnmarshalYAML(n *yaml.Node) error { return TypeError(n, "bad %s", Describe(n)) }

// TestTypeError checks that yaml.v3 collects the errors of TypeError,
// with their positions, instead of stopping at the first.
func TestTypeError(t *testing.T) {
	var doc struct {
		A value `yaml:"a"`
		B int   `yaml:"b"`
		C value `yaml:"c"`
	}
	err := yaml.Unmarshal([]byte("a: [1]\nb: x\nc:   7\n"), &doc)
	want := []string{
		"line 1: column 4: bad a list",
		"line 2: cannot unmarshal !!str `x` into int",
		"line 3: column 6: bad the number 7",
	}
	te, ok := err.(*yaml.TypeError)
	if !ok || strings.Join(te.Errors, "\n") != strings.Join(want, "\n") {
		t.Errorf("got %v, want\n%s", err, strings.Join(want, "\n"))
	}
}

func TestPosition(t *testing.T) {
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte("a:\n  b:   [1]\n"), &doc); err != nil {
		t.Fatal(err)
	}
	n := doc.Content[0].Content[1].Content[1]
	msg := TypeError(n, "bad: %s", Describe(n)).(*yaml.TypeError).Errors[0]
	if line, col, rest := Position(msg); line != 2 || col != 8 || rest != "bad: a list" {
		t.Errorf("Position(%q) = %d, %d, %q", msg, line, col, rest)
	}
	for _, tc := range []struct {
		msg       string
		line, col int
		rest      string
	}{
		{"line 3: cannot unmarshal !!str `x` into int", 3, 0, "cannot unmarshal !!str `x` into int"},
		{"line 4: field x not found in type config.Log", 4, 0, "field x not found in type config.Log"},
		{"line 5: column 7: a: b", 5, 7, "a: b"},
		{"something else", 0, 0, "something else"},
		{"line x: y", 0, 0, "line x: y"},
		{"3: y", 0, 0, "3: y"},
		{"", 0, 0, ""},
	} {
		if line, col, rest := Position(tc.msg); line != tc.line || col != tc.col || rest != tc.rest {
			t.Errorf("Position(%q) = %d, %d, %q; want %d, %d, %q", tc.msg, line, col, rest, tc.line, tc.col, tc.rest)
		}
	}
}

func TestUnalias(t *testing.T) {
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte("a: &x [1]\nb: *x\n"), &doc); err != nil {
		t.Fatal(err)
	}
	m := doc.Content[0]
	if a, b := m.Content[1], m.Content[3]; Unalias(b) != a || Unalias(a) != a {
		t.Errorf("Unalias: %v, %v", Unalias(b), Unalias(a))
	}
}

func TestDescribe(t *testing.T) {
	for in, want := range map[string]string{
		"[1]": "a list", "{a: 1}": "a mapping", "!foo {a: 1}": "a mapping", "~": "an empty value", "5": "the number 5",
		"1.5": "the number 1.5", "yes": `"yes"`, "true": "the boolean true", "'5'": `"5"`,
		strings.Repeat("x", 50): `"` + strings.Repeat("x", 40) + `..."`,
	} {
		var doc yaml.Node
		if err := yaml.Unmarshal([]byte(in), &doc); err != nil {
			t.Fatal(err)
		}
		if got := Describe(doc.Content[0]); got != want {
			t.Errorf("Describe(%s) = %s, want %s", in, got, want)
		}
	}
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte("a: &x [1]\nb: *x\n"), &doc); err != nil {
		t.Fatal(err)
	}
	if got := Describe(doc.Content[0].Content[3]); got != "a list" {
		t.Errorf("Describe(alias) = %s, want a list", got)
	}
}

func TestSuggest(t *testing.T) {
	known := []string{"poll_interval", "poll_timeout", "down_after", "batch_size", "max"}
	for _, c := range []struct{ key, want string }{
		{"poll_intreval", "poll_interval"}, // transposition: distance 2
		{"Poll_Timeout", "poll_timeout"},   // case does not count
		{"batchsize", "batch_size"},
		{"down", ""},   // too far from down_after
		{"mqq", ""},    // 2 edits: more than half of "max"
		{"zzzzzz", ""}, // nothing close
	} {
		if got := Suggest(c.key, known); got != c.want {
			t.Errorf("Suggest(%q) = %q, want %q", c.key, got, c.want)
		}
	}
}

func TestExpected(t *testing.T) {
	node := func(src string) *yaml.Node {
		var doc yaml.Node
		if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
			t.Fatal(err)
		}
		return doc.Content[0]
	}
	for _, c := range []struct{ into, src, want string }{
		{"int", `abc`, `expected an integer, got "abc"`},
		{"bool", `3`, `expected true or false, got the number 3`},
		{"[]config.Assistant", `x`, `expected a list, got "x"`},
		{"config.Retry", `[1]`, `expected a mapping of keys, got a list`},
		{"time.Duration", `30`, `duration 30 has no unit: add one, e.g. "30s" or "30ms"`},
		{"time.Duration", `"1.5"`, `duration 1.5 has no unit: add one, e.g. "1.5s" or "1.5ms"`},
		{"time.Duration", `5 minutes`, `invalid duration "5 minutes": use Go duration syntax such as "500ms", "30s", "5m" or "1h"`},
		{"time.Duration", `{a: 1}`, `expected a duration such as "30s", got a mapping`},
	} {
		if got := Expected(c.into, node(c.src)); got != c.want {
			t.Errorf("Expected(%s, %s) = %q, want %q", c.into, c.src, got, c.want)
		}
	}
	if got := ValueText(node(`abcdefghijkl`)); got != "!!str `abcdefg...`" {
		t.Errorf("ValueText = %q", got)
	}
}

func TestDecodeStrictRefusesUnknownKeysAndUnhashableMerge(t *testing.T) {
	var v struct{ A int }
	if err := DecodeStrict([]byte("a: 1\nb: 2\n"), &v); err == nil {
		t.Error("unknown key b accepted")
	}
	if err := DecodeStrict([]byte("a: 1\n<<: {c: 1}\n[x]: 2\n"), &v); err == nil {
		t.Error("a merge key beside a list key did not fail")
	}
}
