package config

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/crawlmaster/crawlmaster/internal/yamlcheck"
)

// Load parses the file at path (see parseBytes); a non-empty $DATABASE_URL
// then replaces database.url. Problems are prefixed with path.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return parse(data, path, os.Getenv("DATABASE_URL"))
}

// parseBytes decodes and validates a configuration: unknown keys, wrong types,
// an empty document, several documents and [Config.Validate]'s rules fail.
func parseBytes(data []byte) (*Config, error) { return parse(data, "", "") }

func parse(data []byte, file, envURL string) (*Config, error) {
	root, err := parseDocument(data)
	if err != nil {
		return nil, joinProblems([]*FieldError{err}, file)
	}
	ix := &index{byPath: map[string]*entry{}}
	ix.walk(root, reflect.TypeFor[Config](), "")
	cfg, ps := Default(), ix.problems
	failed := map[string]bool{} // paths whose value is not the file's: no validation below
	for _, p := range ps {
		failed[p.Path] = true
	}
	var te *yaml.TypeError
	if err := yamlcheck.DecodeStrict(data, cfg); errors.As(err, &te) {
		for _, m := range te.Errors { // a repeat of a problem above is dropped by joinProblems
			p, path := ix.typeProblem(m)
			ps, failed[path] = append(ps, p), path != "" // "": no key found, nothing to skip
		}
	} else if err != nil { // yaml.v3 stopped half-way: what it decoded is not worth validating
		return nil, joinProblems([]*FieldError{ix.fatal(err)}, file)
	}

	cfg.Database.URL = cmp.Or(envURL, cfg.Database.URL)
	for i := range cfg.RPC.Assistants {
		if a := &cfg.RPC.Assistants[i]; a.MetricsPort == 0 && validPort(a.Port) && validPort(a.EffectiveMetricsPort()) {
			a.MetricsPort = a.EffectiveMetricsPort()
		}
	}
	for _, p := range cfg.validate() {
		if !slices.ContainsFunc(ancestors(p.Path), func(a string) bool { return failed[a] }) {
			ps = append(ps, ix.annotate(p, envURL))
		}
	}
	if len(ps) > 0 {
		return nil, joinProblems(ps, file)
	}
	if file != "" {
		cfg.base = filepath.Dir(file)
	}
	return cfg, nil
}

// parseDocument returns the top-level mapping of data's single document.
func parseDocument(data []byte) (*yaml.Node, *FieldError) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc, extra yaml.Node
	err := dec.Decode(&doc)
	switch {
	case errors.Is(err, io.EOF) || err == nil && doc.Content[0].ShortTag() == "!!null":
		return nil, &FieldError{Msg: "empty configuration: expected a mapping with at least an rpc section"}
	case err != nil:
		return nil, &FieldError{Msg: "invalid YAML: " + strings.TrimPrefix(err.Error(), "yaml: ")}
	case !errors.Is(dec.Decode(&extra), io.EOF):
		return nil, &FieldError{Line: extra.Line, Msg: "more than one YAML document (a second one starts here): the configuration must be a single document"}
	case doc.Content[0].Kind != yaml.MappingNode:
		return nil, &FieldError{Line: doc.Content[0].Line, Msg: "the top level must be a mapping with sections such as rpc, got " + yamlcheck.Describe(doc.Content[0])}
	}
	return doc.Content[0], nil
}

// fatal describes an error that stopped yaml.v3. When that is a merge key
// ("<<") whose value is no mapping, yaml.v3 does not say which: find it.
func (ix *index) fatal(err error) *FieldError {
	p := &FieldError{Msg: "invalid YAML: " + strings.TrimPrefix(err.Error(), "yaml: ")}
	notMap := func(n *yaml.Node) bool { return yamlcheck.Unalias(n).Kind != yaml.MappingNode }
	for _, e := range ix.entries {
		v := yamlcheck.Unalias(e.value)
		if strings.Contains(p.Msg, "map merge") && strings.HasSuffix(e.path, "<<") && notMap(v) && (v.Kind != yaml.SequenceNode || slices.ContainsFunc(v.Content, notMap)) {
			p.Path, p.Line, p.Msg = ancestors(e.path)[1], e.line, "merge key \"<<\" needs a mapping or a list of mappings, got "+yamlcheck.Describe(v)
		}
	}
	return p
}

// entry is one key, or list item, of the document.
type entry struct {
	path       string
	line       int          // of the key, or of the list item
	key, value *yaml.Node   // key is nil for a list item
	parent     reflect.Type // of the mapping holding the key, nil outside the schema
}

// index maps the document's lines to key paths and back.
type index struct {
	entries  []*entry // in document order
	byPath   map[string]*entry
	problems []*FieldError // what yaml.v3 accepts but the schema does not
}

// walk indexes node n at path, of Go type t (nil outside the schema), noting
// what yaml.v3 accepts but should not: an empty list item (dropped, shifting
// the others), a fraction in an integer (truncated), a YAML 1.1 boolean.
func (ix *index) walk(n *yaml.Node, t reflect.Type, path string) {
	if t != nil && reflect.PointerTo(t).Implements(reflect.TypeFor[yaml.Unmarshaler]()) {
		return
	}
	if t != nil && t.Kind() == reflect.Slice {
		t = t.Elem()
	}
	for i := 0; n.Kind == yaml.MappingNode && i+1 < len(n.Content); i += 2 {
		k, v, ft, fs := n.Content[i], n.Content[i+1], reflect.Type(nil), fields(t)
		if j := slices.IndexFunc(fs, func(f reflect.StructField) bool { return f.Name == k.Value }); j >= 0 {
			ft = fs[j].Type
		}
		e := &entry{path: joinPath(path, k.Value), line: k.Line, key: k, value: v, parent: t}
		// Only for plain int and bool: time.Duration and Workers are ints too.
		if s, tag := yamlcheck.Unalias(v), yamlcheck.Unalias(v).ShortTag(); ft != nil && ft.PkgPath() == "" && s.Kind == yaml.ScalarNode &&
			(ft.Kind() == reflect.Int && tag == "!!float" || ft.Kind() == reflect.Bool && tag != "!!bool" && tag != "!!null") {
			ix.problems = append(ix.problems, &FieldError{Path: e.path, Line: e.line, Msg: yamlcheck.Expected(ft.Kind().String(), s)})
		}
		ix.add(e, ft)
	}
	for i := 0; n.Kind == yaml.SequenceNode && i < len(n.Content); i++ {
		item, p := n.Content[i], path+"["+strconv.Itoa(i)+"]"
		if yamlcheck.Unalias(item).ShortTag() == "!!null" {
			ix.problems = append(ix.problems, &FieldError{Path: path, Line: item.Line, Msg: "item " + strconv.Itoa(i) + " is empty"})
		}
		ix.add(&entry{path: p, line: item.Line, value: item}, t)
	}
}

func (ix *index) add(e *entry, t reflect.Type) {
	ix.entries = append(ix.entries, e)
	if ix.byPath[e.path] == nil {
		ix.byPath[e.path] = e
	}
	ix.walk(e.value, t, e.path)
}

// typeProblem names the key of a yaml.v3 "line N: ..." message; it returns
// the problem and the path of the value that failed.
func (ix *index) typeProblem(msg string) (*FieldError, string) {
	line, col, rest := yamlcheck.Position(msg) // col > 0: from an UnmarshalYAML, names the value; line 0 matches no entry
	p := &FieldError{Line: line, Msg: rest}
	for _, e := range ix.entries {
		k, v := e.key, e.value
		switch {
		case col > 0:
			if v.Line == line && v.Column == col {
				p.Path, p.Line = e.path, e.line
				return p, e.path
			}
		case k != nil && k.Line == line && strings.HasPrefix(rest, "field "+k.Value+" not found in type "):
			p.Path, p.Msg, p.hint = e.path, "unknown key", hint(k.Value, ancestors(e.path)[1], fields(e.parent))
			return p, e.path
		case k != nil && k.Line == line && strings.HasPrefix(rest, "mapping key "+strconv.Quote(k.Value)+" already defined at line "):
			p.Path, p.Msg = e.path, "duplicate key (first at line "+rest[strings.LastIndexByte(rest, ' ')+1:]+")"
			return p, ancestors(e.path)[1] // yaml.v3 skips the whole mapping
		case v.Line == line && strings.HasPrefix(rest, "cannot unmarshal "+yamlcheck.ValueText(v)+" into "):
			p.Path, p.Line, p.Msg = e.path, e.line, yamlcheck.Expected(rest[len("cannot unmarshal "+yamlcheck.ValueText(v)+" into "):], v)
			return p, e.path
		}
	}
	return p, ""
}

// annotate gives a validation problem the line of its key or the nearest
// enclosing one, and calls workers left out "required".
func (ix *index) annotate(p *FieldError, envURL string) *FieldError {
	if e := ix.byPath[p.Path]; strings.HasSuffix(p.Path, "].workers") && (e == nil || yamlcheck.Unalias(e.value).ShortTag() == "!!null") {
		p.Msg = "required"
	}
	if envURL != "" && p.Path == "database.url" {
		p.Msg += " (value from $DATABASE_URL)"
	}
	for _, a := range ancestors(p.Path) {
		if e := ix.byPath[a]; e != nil && p.Line == 0 {
			p.Line = e.line
		}
	}
	return p
}

// ancestors returns path and the paths above it: "a.b[1]", "a.b", "a", "".
func ancestors(path string) []string {
	out := []string{path}
	for len(out) == 1 || path != "" { // at least one parent, "" for a key at the top
		path = path[:max(0, strings.LastIndexAny(path, ".["))]
		out = append(out, path)
	}
	return out
}

func joinPath(path, key string) string { return strings.TrimPrefix(path+"."+key, ".") }

// fields lists the YAML keys (as Name) of struct type t, inline ones in place.
func fields(t reflect.Type) []reflect.StructField {
	var out []reflect.StructField
	for i := 0; t != nil && t.Kind() == reflect.Struct && i < t.NumField(); i++ {
		f := t.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if opts == "inline" {
			out = append(out, fields(f.Type)...)
		} else if f.IsExported() && name != "-" {
			f.Name = name
			out = append(out, f)
		}
	}
	return out
}

// hint names the known key that key plausibly misspells, or else lists them all.
func hint(key, parent string, known []reflect.StructField) string {
	var names []string
	for _, f := range known {
		names = append(names, f.Name)
	}
	if best := yamlcheck.Suggest(key, names); best != "" {
		return fmt.Sprintf(", did you mean %q?", joinPath(parent, best))
	} else if len(names) > 0 {
		return ", valid keys here: " + strings.Join(names, ", ")
	}
	return ""
}

// FieldError is one problem found in a configuration. The errors of [Load],
// parseBytes and [Config.Validate] join one per problem, in order.
type FieldError struct {
	File string // given to Load; empty for parseBytes and Validate
	Path string // key path, e.g. "rpc.assistant[1].port"; empty for the whole document
	Line int    // 1-based, 0 when unknown (always for Validate)
	Msg  string // what is wrong, e.g. "required"

	hint string // for an unknown key, e.g. `, did you mean "x"?`
}

// Error formats the problem as "FILE: PATH: MSG (line N)", or for an unknown
// key as `FILE: unknown key "PATH" (line N), HINT`, leaving out empty parts.
func (e *FieldError) Error() string {
	s := strings.TrimPrefix(e.Path+": "+e.Msg, ": ")
	if e.Msg == "unknown key" {
		s = fmt.Sprintf("unknown key %q", e.Path)
	}
	if e.Line > 0 {
		s += fmt.Sprintf(" (line %d)", e.Line)
	}
	return strings.TrimPrefix(e.File+": ", ": ") + s + e.hint
}

// unjoin returns the errors of type T joined in err (errors.Join), in order.
func unjoin[T error](err error) (out []T) {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			if t, ok := errors.AsType[T](e); ok {
				out = append(out, t)
			}
		}
	}
	return out
}

// joinProblems sets the problems' file, sorts them by line (unknown last),
// drops repeated ones and joins them.
func joinProblems(ps []*FieldError, file string) error {
	slices.SortStableFunc(ps, func(a, b *FieldError) int {
		return cmp.Compare(uint(a.Line-1), uint(b.Line-1)) // line 0 wraps around: last
	})
	var errs []error
	seen := map[string]bool{}
	for _, p := range ps {
		if p.File = file; !seen[p.Error()] {
			seen[p.Error()] = true
			errs = append(errs, p)
		}
	}
	return errors.Join(errs...)
}
