package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Load reads and parses the configuration file at path (see [Parse]), then,
// if the environment variable DATABASE_URL is set and non-empty, uses it as
// database.url. Every problem found is reported at once, each prefixed with
// path; see [FieldError].
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return parse(data, path, os.Getenv(EnvDatabaseURL))
}

// Parse decodes and validates a configuration. Keys absent from data keep
// their defaults ([Default]); rpc.assistant[].metrics_port defaults to
// port+1000. Unknown keys, wrong types, an empty document, several documents
// and every rule of [Config.Validate] are errors naming the key path and
// line. Parse does not read the environment.
func Parse(data []byte) (*Config, error) {
	return parse(data, "", "")
}

func parse(data []byte, file, envURL string) (*Config, error) {
	cfg, ps := parseProblems(data, envURL)
	for _, p := range ps {
		p.File = file
	}
	if err := joinProblems(ps); err != nil {
		return nil, err
	}
	return cfg, nil
}

func docProblem(line int, format string, args ...any) []*FieldError {
	return []*FieldError{{Line: line, Msg: fmt.Sprintf(format, args...)}}
}

func parseProblems(data []byte, envURL string) (*Config, []*FieldError) {
	root, ps := parseDocument(data)
	if ps != nil {
		return nil, ps
	}
	cfg, w := decodeRoot(root)
	if len(w.problems) > 0 {
		// Problems found while decoding make some values meaningless; the
		// validation problems about those values would only add noise.
		return nil, append(w.problems, w.annotate(w.filter(cfg.validate()))...)
	}
	// Safety net: yaml.v3's own strict decoding must agree with the walker.
	if err := strictDecode(data); err != nil {
		return nil, docProblem(0, "%s", strings.TrimPrefix(err.Error(), "yaml: "))
	}

	cfg.applyDerived()
	if envURL != "" {
		cfg.Database.URL = envURL
	}
	vps := cfg.validate()
	if envURL != "" {
		for _, p := range vps {
			if p.Path == "database.url" {
				p.Msg += " (value from $" + EnvDatabaseURL + ")"
			}
		}
	}
	if len(vps) > 0 {
		return nil, w.annotate(vps)
	}
	return cfg, nil
}

// parseDocument parses data as exactly one YAML document whose top level is
// a mapping, and returns that mapping.
func parseDocument(data []byte) (*yaml.Node, []*FieldError) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, docProblem(0, "empty configuration: expected a mapping with at least an rpc section")
		}
		return nil, docProblem(0, "invalid YAML: %s", strings.TrimPrefix(err.Error(), "yaml: "))
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case errors.Is(err, io.EOF):
	case err != nil:
		return nil, docProblem(0, "invalid YAML in a second document: %s (only one document is allowed)", strings.TrimPrefix(err.Error(), "yaml: "))
	default:
		return nil, docProblem(extra.Line, "more than one YAML document (a second one starts here): the configuration must be a single document")
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		return nil, docProblem(0, "empty configuration: expected a mapping with at least an rpc section")
	}
	root := resolveAlias(doc.Content[0])
	switch {
	case root == nil:
		return nil, docProblem(0, "invalid YAML document")
	case root.Kind == yaml.ScalarNode && root.ShortTag() == tagNull:
		return nil, docProblem(root.Line, "empty configuration: expected a mapping with at least an rpc section")
	case root.Kind != yaml.MappingNode:
		return nil, docProblem(root.Line, "the top level must be a mapping with sections such as rpc, got %s", describe(root))
	}
	return root, nil
}

// decodeRoot decodes the top-level mapping over the defaults.
func decodeRoot(root *yaml.Node) (*Config, *walker) {
	cfg := Default()
	w := &walker{lines: map[string]int{}, set: map[string]bool{}, budget: walkBudget}
	w.decodeStruct(root, reflect.ValueOf(cfg).Elem(), "", 0)
	return cfg, w
}

// strictDecode decodes data with yaml.v3's KnownFields(true), the
// library's own check for unknown keys and types.
func strictDecode(data []byte) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	return dec.Decode(new(Config))
}

// walkBudget bounds the work of one decode (nodes visited, merges followed),
// so that alias and merge-key tricks cannot make decoding explode.
const walkBudget = 200000

// maxMergeDepth bounds nested merge keys ("<<"), which may be cyclic.
const maxMergeDepth = 10

// walker decodes a yaml.Node tree into a struct, key by key, using the
// structs' yaml tags, so that every problem can name its key path.
type walker struct {
	problems []*FieldError
	lines    map[string]int  // path -> line of its key (or list item)
	set      map[string]bool // path -> present with a non-empty value
	failed   []string        // paths whose value could not be decoded
	budget   int
	broke    bool // budget exhausted, reported once
}

func (w *walker) fail(path string, line int, format string, args ...any) {
	w.problems = append(w.problems, &FieldError{Path: path, Line: line, Msg: fmt.Sprintf(format, args...)})
	w.failed = append(w.failed, path)
}

// spend consumes budget; false (after reporting once) when it is exhausted.
func (w *walker) spend(line int) bool {
	w.budget--
	if w.budget >= 0 {
		return true
	}
	if !w.broke {
		w.broke = true
		w.fail("", line, "document too complex (too many nodes, aliases or merge keys)")
	}
	return false
}

type keyValue struct {
	key   *yaml.Node // resolved scalar key
	value *yaml.Node
}

// pairs returns the key/value pairs of mapping n with merge keys ("<<")
// expanded: explicit keys win over merged ones, and among merged mappings
// the earlier one wins, as in YAML's merge key specification.
func (w *walker) pairs(n *yaml.Node, path string, depth int) []keyValue {
	var out []keyValue
	var merges []*yaml.Node
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if !w.spend(n.Line) {
			return nil
		}
		k, v := n.Content[i], n.Content[i+1]
		if isMergeKey(k) {
			merges = append(merges, v)
			continue
		}
		rk := resolveAlias(k)
		if rk == nil || rk.Kind != yaml.ScalarNode {
			w.fail(path, k.Line, "keys must be plain names, got %s", describe(k))
			continue
		}
		if first, dup := seen[rk.Value]; dup {
			w.fail(joinPath(path, rk.Value), k.Line, "duplicate key (first at line %d)", first)
			continue
		}
		seen[rk.Value] = k.Line
		out = append(out, keyValue{rk, v})
	}
	for _, m := range merges {
		rm := resolveAlias(m)
		var sources []*yaml.Node
		switch {
		case rm != nil && rm.Kind == yaml.MappingNode:
			sources = []*yaml.Node{rm}
		case rm != nil && rm.Kind == yaml.SequenceNode:
			for _, s := range rm.Content {
				rs := resolveAlias(s)
				if rs == nil || rs.Kind != yaml.MappingNode {
					w.fail(path, m.Line, "merge key \"<<\" needs a mapping or a list of mappings, got a list holding %s", describe(s))
					return out
				}
				sources = append(sources, rs)
			}
		default:
			w.fail(path, m.Line, "merge key \"<<\" needs a mapping or a list of mappings, got %s", describe(m))
			return out
		}
		if depth >= maxMergeDepth {
			w.fail(path, m.Line, "merge keys (\"<<\") nested too deeply")
			return out
		}
		for _, src := range sources {
			for _, kv := range w.pairs(src, path, depth+1) {
				if _, dup := seen[kv.key.Value]; !dup {
					seen[kv.key.Value] = kv.key.Line
					out = append(out, kv)
				}
			}
		}
	}
	return out
}

// isMergeKey matches yaml.v3's notion of a merge key.
func isMergeKey(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Value == "<<" && (n.Tag == "" || n.Tag == "!" || n.ShortTag() == "!!merge")
}

// decodeStruct decodes mapping n into struct v. Keys left out, or given an
// empty value, keep v's current (default) value.
func (w *walker) decodeStruct(n *yaml.Node, v reflect.Value, path string, depth int) {
	fields := structFields(v.Type())
	for _, kv := range w.pairs(n, path, 0) {
		name := kv.key.Value
		fp := joinPath(path, name)
		idx, ok := fields.index[name]
		if !ok {
			fe := &FieldError{Path: fp, Line: kv.key.Line, unknownKey: true, Msg: "unknown key"}
			if s := suggest(name, fields.names); s != "" {
				fe.hint = fmt.Sprintf("did you mean %q?", joinPath(path, s))
			} else {
				fe.hint = "valid keys here: " + strings.Join(fields.names, ", ")
			}
			w.problems = append(w.problems, fe)
			w.failed = append(w.failed, fp)
			continue
		}
		w.lines[fp] = kv.key.Line
		val := resolveAlias(kv.value)
		if val == nil {
			w.fail(fp, kv.key.Line, "invalid alias")
			continue
		}
		if val.Kind == yaml.ScalarNode && val.ShortTag() == tagNull {
			continue // an empty value counts as left out
		}
		w.set[fp] = true
		w.decodeValue(val, v.Field(idx), fp, kv.key.Line, depth+1)
	}
}

var unmarshalerType = reflect.TypeFor[yaml.Unmarshaler]()

// isLeaf reports whether values of t are decoded by yaml.v3 as a whole.
func isLeaf(t reflect.Type) bool {
	if reflect.PointerTo(t).Implements(unmarshalerType) {
		return true
	}
	return t.Kind() != reflect.Struct && t.Kind() != reflect.Slice
}

// decodeValue decodes the resolved, non-null node n into v.
func (w *walker) decodeValue(n *yaml.Node, v reflect.Value, path string, line, depth int) {
	if !w.spend(line) {
		return
	}
	if depth > 20 {
		w.fail(path, line, "nested too deeply")
		return
	}
	t := v.Type()
	switch {
	case isLeaf(t):
		w.decodeLeaf(n, v, path, line)
	case t.Kind() == reflect.Struct:
		if n.Kind != yaml.MappingNode {
			w.fail(path, line, "expected a mapping of keys, got %s", describe(n))
			return
		}
		w.decodeStruct(n, v, path, depth)
	case t.Kind() == reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			w.fail(path, line, "expected a list, got %s", describe(n))
			return
		}
		s := reflect.MakeSlice(t, len(n.Content), len(n.Content))
		for i, item := range n.Content {
			ip := path + "[" + strconv.Itoa(i) + "]"
			w.lines[ip] = item.Line
			ri := resolveAlias(item)
			switch {
			case ri == nil:
				w.fail(ip, item.Line, "invalid alias")
			case ri.Kind == yaml.ScalarNode && ri.ShortTag() == tagNull:
				w.fail(ip, item.Line, "empty list item")
			default:
				w.set[ip] = true
				w.decodeValue(ri, s.Index(i), ip, item.Line, depth+1)
			}
		}
		v.Set(s)
	default:
		w.fail(path, line, "unsupported field type %s", t) // not reached with this package's types
	}
}

// decodeLeaf decodes a value that has no sub-keys: a scalar, or a type with
// its own UnmarshalYAML. Builtin kinds are checked more strictly than
// yaml.v3 does (it would silently truncate 1.5 into an int field).
func (w *walker) decodeLeaf(n *yaml.Node, v reflect.Value, path string, line int) {
	t := v.Type()
	custom := reflect.PointerTo(t).Implements(unmarshalerType)
	if !custom {
		want := ""
		switch t.Kind() {
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
			reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			if n.Kind == yaml.ScalarNode && n.ShortTag() == tagFloat && looksInteger(n.Value) {
				w.fail(path, line, "integer %s is out of range", n.Value)
				return
			}
			if n.Kind != yaml.ScalarNode || n.ShortTag() != tagInt {
				want = "an integer"
			}
		case reflect.Float32, reflect.Float64:
			if n.Kind != yaml.ScalarNode || (n.ShortTag() != tagInt && n.ShortTag() != tagFloat) {
				want = "a number"
			}
		case reflect.Bool:
			if n.Kind != yaml.ScalarNode || n.ShortTag() != tagBool {
				want = "true or false"
			}
		case reflect.String:
			if n.Kind != yaml.ScalarNode {
				want = "a string"
			}
		}
		if want != "" {
			w.fail(path, line, "expected %s, got %s", want, describe(n))
			return
		}
	}
	if err := n.Decode(v.Addr().Interface()); err != nil {
		var te *yaml.TypeError
		if errors.As(err, &te) {
			w.fail(path, line, "invalid value %s", describe(n))
			return
		}
		w.fail(path, line, "%s", strings.TrimPrefix(err.Error(), "yaml: "))
	}
}

// filter drops the validation problems about values that failed to decode
// (or lie below one), keeping the report to the real mistakes.
func (w *walker) filter(ps []*FieldError) []*FieldError {
	var out []*FieldError
outer:
	for _, p := range ps {
		for _, f := range w.failed {
			if f != "" && (p.Path == f || strings.HasPrefix(p.Path, f+".") || strings.HasPrefix(p.Path, f+"[")) {
				continue outer
			}
		}
		out = append(out, p)
	}
	return out
}

// annotate sets the line of each validation problem (that of the key, or of
// its nearest ancestor present in the file) and turns a problem about a
// required key left out of the file into "required".
func (w *walker) annotate(ps []*FieldError) []*FieldError {
	for _, p := range ps {
		if isRequiredKey(p.Path) && !w.set[p.Path] {
			p.Msg = "required"
		}
		for path := p.Path; path != ""; path = parentPath(path) {
			if line, ok := w.lines[path]; ok {
				p.Line = line
				break
			}
		}
	}
	return ps
}

// isRequiredKey reports whether path is a key without a default.
func isRequiredKey(path string) bool {
	if path == "rpc.manager.port" {
		return true
	}
	if !strings.HasPrefix(path, "rpc.assistant[") {
		return false
	}
	_, leaf, ok := strings.Cut(path, "].")
	return ok && (leaf == "address" || leaf == "port" || leaf == "workers")
}

// parentPath returns the path one level up: "a.b[1].c" -> "a.b[1]" ->
// "a.b" -> "a" -> "".
func parentPath(p string) string {
	i := strings.LastIndexAny(p, ".[")
	if i < 0 {
		return ""
	}
	return p[:i]
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

type fieldSet struct {
	index map[string]int // yaml name -> field index
	names []string       // yaml names in declaration order
}

// structFields lists the yaml keys of struct type t.
func structFields(t reflect.Type) fieldSet {
	fs := fieldSet{index: map[string]int{}}
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		fs.index[name] = i
		fs.names = append(fs.names, name)
	}
	return fs
}

// suggest returns the name closest to key if it is a plausible typo.
func suggest(key string, names []string) string {
	best, bestD := "", 3
	lk := strings.ToLower(key)
	for _, n := range names {
		if d := editDistance(lk, n); d < bestD {
			best, bestD = n, d
		}
	}
	if best == "" || bestD > len(best)/2 {
		return ""
	}
	return best
}

// editDistance is the Levenshtein distance (bytes), capped for long input.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 64
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := prev[j-1]
			if a[i-1] != b[j-1] {
				c++
			}
			cur[j] = min(c, prev[j]+1, cur[j-1]+1)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
