package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

const rootFile = "../../rpc.yaml"

// wants returns the "# want: ..." lines of a bad test file.
func wants(t *testing.T, data []byte) []string {
	t.Helper()
	var out []string
	for _, line := range strings.Split(string(data), "\n") {
		if w, ok := strings.CutPrefix(line, "# want: "); ok {
			out = append(out, w)
		}
	}
	if len(out) == 0 {
		t.Fatal("bad file has no \"# want: \" line")
	}
	return out
}

func TestTestdata(t *testing.T) {
	t.Setenv(EnvDatabaseURL, "")
	good, _ := filepath.Glob("testdata/*.good.yml")
	bad, _ := filepath.Glob("testdata/*.bad.yml")
	if len(good) < 5 || len(bad) < 20 {
		t.Fatalf("found %d good and %d bad files", len(good), len(bad))
	}
	for _, f := range good {
		t.Run(filepath.Base(f), func(t *testing.T) {
			cfg, err := Load(f)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if err := cfg.Validate(); err != nil {
				t.Fatalf("Validate after Load: %v", err)
			}
		})
	}
	for _, f := range bad {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := Load(f)
			if err == nil {
				t.Fatalf("Load succeeded: %+v", cfg)
			}
			msg := err.Error()
			for _, w := range wants(t, data) {
				if !strings.Contains(msg, w) {
					t.Errorf("error does not contain %q; got:\n%s", w, msg)
				}
			}
			// Every problem is reported on its own line, prefixed with the file.
			for _, line := range strings.Split(msg, "\n") {
				if !strings.HasPrefix(line, f+": ") {
					t.Errorf("line %q does not start with %q", line, f+": ")
				}
			}
			ps := Problems(err)
			if len(ps) != strings.Count(msg, "\n")+1 {
				t.Errorf("Problems returned %d, error has %d lines", len(ps), strings.Count(msg, "\n")+1)
			}
			var fe *FieldError
			if !errors.As(err, &fe) || fe.File != f {
				t.Errorf("errors.As FieldError: %v, %+v", errors.As(err, &fe), fe)
			}
		})
	}
}

func mustParseFile(t *testing.T, name string) *Config {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := Parse(data)
	if err != nil {
		t.Fatalf("Parse %s: %v", name, err)
	}
	return cfg
}

func TestMinimalTakesDefaults(t *testing.T) {
	cfg := mustParseFile(t, "minimal.good.yml")
	want := Default()
	want.RPC.Manager.Port = 50051
	want.RPC.Assistants = []Assistant{{Address: "10.0.0.3", Port: 50052, Workers: 8, MetricsPort: 51052}}
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("got  %+v\nwant %+v", cfg, want)
	}
}

func TestSeedLayout(t *testing.T) {
	cfg := mustParseFile(t, "seed_layout.good.yml")
	if got := cfg.RPC.Manager; got != (Manager{Address: "10.0.0.2", Port: 50051}) {
		t.Errorf("manager = %+v", got)
	}
	want := []Assistant{
		{Address: "10.0.0.3", Port: 50052, Workers: 3, MetricsPort: 51052},
		{Address: "10.0.0.4", Port: 50052, Workers: 64, MetricsPort: 51052},
	}
	if !reflect.DeepEqual(cfg.RPC.Assistants, want) {
		t.Errorf("assistants = %+v", cfg.RPC.Assistants)
	}
	if got := cfg.TotalSlots(); got != 67 {
		t.Errorf("TotalSlots = %d, want 67", got)
	}
	a, i, ok := cfg.Assistant("10.0.0.4:50052")
	if !ok || i != 1 || a.Workers != 64 {
		t.Errorf("Assistant(10.0.0.4:50052) = %+v, %d, %v", a, i, ok)
	}
	if _, i, ok := cfg.Assistant("10.0.0.5:50052"); ok || i != -1 {
		t.Errorf("Assistant(unknown) = %d, %v", i, ok)
	}
	if got := cfg.RPC.Assistants[0].ID(); got != "10.0.0.3:50052" {
		t.Errorf("ID = %q", got)
	}
}

func TestAnchorsAndMerge(t *testing.T) {
	cfg := mustParseFile(t, "anchors.good.yml")
	var got []string
	for _, a := range cfg.RPC.Assistants {
		got = append(got, a.ID()+"/"+strconv.Itoa(a.Workers.Int()))
	}
	want := []string{"10.0.0.9:50061/16", "10.0.0.9:50062/16", "10.0.0.9:50063/16"}
	if !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestEmptyValuesAreDefaults(t *testing.T) {
	cfg := mustParseFile(t, "empty_values.good.yml")
	if cfg.RPC.Manager.Address != DefaultManagerAddress {
		t.Errorf("manager address = %q", cfg.RPC.Manager.Address)
	}
	if cfg.RPC.Assistants[0].MetricsPort != 51061 {
		t.Errorf("metrics port = %d", cfg.RPC.Assistants[0].MetricsPort)
	}
	if !reflect.DeepEqual(cfg.Dispatch, Default().Dispatch) || cfg.Fetch.Timeout.Duration() != DefaultFetchTimeout || cfg.Fetch.Resolve != nil {
		t.Errorf("defaults not kept: %+v %+v", cfg.Dispatch, cfg.Fetch)
	}
}

func TestFullFile(t *testing.T) {
	cfg := mustParseFile(t, "full.good.yml")
	checks := []struct {
		name     string
		got, exp any
	}{
		{"manager", cfg.RPC.Manager.Addr(), "0.0.0.0:9000"},
		{"a0 metrics", cfg.RPC.Assistants[0].MetricsAddr(), "crawler-1.internal:7100"},
		{"a1 id", cfg.RPC.Assistants[1].ID(), "[::1]:7000"},
		{"a1 metrics", cfg.RPC.Assistants[1].MetricsPort, 8000},
		{"db url", cfg.Database.URL, "host=db user=crawl dbname=crawl"},
		{"max conns", cfg.Database.MaxConns, 32},
		{"poll", cfg.Dispatch.PollTimeout.Duration(), 1500 * time.Millisecond},
		{"prefetch", cfg.Dispatch.PrefetchFor(128), 4},
		{"grace", cfg.Dispatch.ShutdownGrace, Duration(0)},
		{"jitter", cfg.Retry.Jitter, 0.0},
		{"store", cfg.Persist.StoreBodies, false},
		{"stored cap", cfg.Persist.StoredBodyCap, ByteSize(4096)},
		{"body cap", cfg.Fetch.BodyCap, 64 * KB},
		{"robots cap", cfg.Fetch.RobotsCap, ByteSize(1536)},
		{"redirects", cfg.Fetch.MaxRedirects, 0},
		{"resolve", len(cfg.Fetch.Resolve), 3},
		{"log", cfg.Log, Log{Format: "json", Level: "debug"}},
		{"pprof", cfg.Metrics.Pprof, true},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.exp) {
			t.Errorf("%s = %#v, want %#v", c.name, c.got, c.exp)
		}
	}
	rules, err := cfg.Fetch.ResolveRules()
	if err != nil || len(rules) != 3 || rules[1].Addr != "[::1]:8443" {
		t.Errorf("ResolveRules = %v, %v", rules, err)
	}
}

func TestRootFile(t *testing.T) {
	t.Setenv(EnvDatabaseURL, "")
	cfg, err := Load(rootFile)
	if err != nil {
		t.Fatalf("Load(%s): %v", rootFile, err)
	}
	want := Default()
	want.RPC.Manager = Manager{Address: "127.0.0.1", Port: 20051}
	want.RPC.Assistants = []Assistant{
		{Address: "127.0.0.1", Port: 20061, Workers: 64, MetricsPort: 21061},
		{Address: "127.0.0.1", Port: 20062, Workers: 64, MetricsPort: 21062},
	}
	if len(cfg.Fetch.Resolve) != 0 {
		t.Errorf("fetch.resolve = %v, want empty", cfg.Fetch.Resolve)
	}
	cfg.Fetch.Resolve = nil
	// Apart from the endpoints, the reference file holds exactly the defaults.
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("root rpc.yaml differs from the defaults:\ngot  %+v\nwant %+v", cfg, want)
	}
	if cfg.TotalSlots() != 128 {
		t.Errorf("TotalSlots = %d", cfg.TotalSlots())
	}
}

// schemaPaths lists every key path of the schema, list items as "[]".
func schemaPaths(t reflect.Type, prefix string, out map[string]bool) {
	fs := structFields(t)
	for _, name := range fs.names {
		ft := t.Field(fs.index[name]).Type
		p := joinPath(prefix, name)
		out[p] = true
		switch {
		case isLeaf(ft):
		case ft.Kind() == reflect.Struct:
			schemaPaths(ft, p, out)
		case ft.Kind() == reflect.Slice && !isLeaf(ft.Elem()):
			schemaPaths(ft.Elem(), p+"[]", out)
		}
	}
}

// TestRootFileDocumented checks that the reference file shows every key of
// the schema, each with a comment, and a "Default" or "Required" note.
func TestRootFileDocumented(t *testing.T) {
	data, err := os.ReadFile(rootFile)
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	comments := map[string]string{} // path -> all comments seen for it
	var walk func(n *yaml.Node, path string)
	walk = func(n *yaml.Node, path string) {
		switch n.Kind {
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				p := joinPath(path, k.Value)
				c := k.HeadComment + k.LineComment + v.LineComment
				if i == 0 {
					c += n.HeadComment // yaml.v3 puts a list item's first comment on the item
				}
				if strings.TrimSpace(c) == "" {
					t.Errorf("%s: key %q (line %d) has no comment", rootFile, p, k.Line)
				}
				comments[p] += c
				walk(v, p)
			}
		case yaml.SequenceNode:
			for _, item := range n.Content {
				walk(item, path+"[]")
			}
		}
	}
	walk(doc.Content[0], "")

	schema := map[string]bool{}
	schemaPaths(reflect.TypeFor[Config](), "", schema)
	var missing, extra []string
	for p := range schema {
		if _, ok := comments[p]; !ok {
			missing = append(missing, p)
		}
	}
	for p := range comments {
		if !schema[p] {
			extra = append(extra, p)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	if len(missing) > 0 || len(extra) > 0 {
		t.Errorf("root rpc.yaml: keys missing %v, keys not in the schema %v", missing, extra)
	}
	for p, c := range comments {
		ft := leafType(p)
		if ft == nil {
			continue // a section
		}
		if !strings.Contains(c, "Default") && !strings.Contains(c, "Required") {
			t.Errorf("root rpc.yaml: comment of %q says neither Default nor Required", p)
		}
	}
}

// leafType returns the type of the leaf field at path p, nil for a section.
func leafType(p string) reflect.Type {
	t := reflect.TypeFor[Config]()
	for _, part := range strings.Split(p, ".") {
		part = strings.TrimSuffix(part, "[]")
		if t.Kind() == reflect.Slice {
			t = t.Elem()
		}
		fs := structFields(t)
		i, ok := fs.index[part]
		if !ok {
			return nil
		}
		t = t.Field(i).Type
	}
	if isLeaf(t) {
		return t
	}
	return nil
}

func TestRoundTrip(t *testing.T) {
	for _, f := range []string{rootFile, "testdata/full.good.yml", "testdata/seed_layout.good.yml"} {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := Parse(data)
		if err != nil {
			t.Fatal(err)
		}
		out, err := yaml.Marshal(cfg)
		if err != nil {
			t.Fatal(err)
		}
		again, err := Parse(out)
		if err != nil {
			t.Fatalf("%s: reparse of marshalled config: %v\n%s", f, err, out)
		}
		if !reflect.DeepEqual(normalize(cfg), normalize(again)) {
			t.Errorf("%s: round trip changed the config:\n%+v\n%+v", f, cfg, again)
		}
	}
}

func normalize(c *Config) *Config {
	if len(c.Fetch.Resolve) == 0 {
		c.Fetch.Resolve = nil
	}
	return c
}

func TestDatabaseURLOverride(t *testing.T) {
	const env = "postgres://other@db.example:5432/crawl?sslmode=require"
	t.Setenv(EnvDatabaseURL, env)
	cfg, err := Load(rootFile)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Database.URL != env {
		t.Errorf("Load: database.url = %q, want the environment's %q", cfg.Database.URL, env)
	}

	data, err := os.ReadFile(rootFile)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err = Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Database.URL != DefaultDatabaseURL {
		t.Errorf("Parse read the environment: database.url = %q", cfg.Database.URL)
	}

	t.Setenv(EnvDatabaseURL, "mysql://root:hunter2@h/db")
	_, err = Load(rootFile)
	if err == nil || !strings.Contains(err.Error(), "database.url: scheme must be postgres:// or postgresql://") ||
		!strings.Contains(err.Error(), "(value from $DATABASE_URL)") {
		t.Errorf("bad DATABASE_URL: %v", err)
	}
	if err != nil && strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error leaks the password: %v", err)
	}

	t.Setenv(EnvDatabaseURL, "")
	cfg, err = Load(rootFile)
	if err != nil || cfg.Database.URL != DefaultDatabaseURL {
		t.Errorf("empty DATABASE_URL must not override: %v %q", err, cfg.Database.URL)
	}
}

func TestParseEdgeCases(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", "empty configuration"},
		{"\n\n   \n", "empty configuration"},
		{"---\n", "empty configuration"},
		{"# nothing\n", "empty configuration"},
		{"rpc: {manager: {port: 1}, assistant: [{address: a, port: 2, workers: 1}]}\n---\n", "more than one YAML document"},
		{"rpc: [", "invalid YAML"},
		{"42", "the top level must be a mapping"},
		{"rpc: {assistant: [~]}", "rpc.assistant[0]: empty list item"},
		{"fetch: {resolve: [~]}", "fetch.resolve[0]: empty list item"},
		{"fetch: {resolve: [[1]]}", "fetch.resolve[0]: expected a string, got a list"},
		{"rpc: {manager: {port: 99999999999999999999999}}", "rpc.manager.port: integer 99999999999999999999999 is out of range"},
		{"dispatch: {poll_interval: [1s]}", "dispatch.poll_interval: expected a duration such as \"30s\", got a list"},
		{"dispatch: {poll_interval: true}", "dispatch.poll_interval: expected a duration such as \"30s\", got the boolean true"},
		{"fetch: {body_cap: 1.5}", "fetch.body_cap: expected a size such as 1048576 or \"1MiB\", got the number 1.5"},
		{"fetch: {body_cap: 99999999999999GiB}", "fetch.body_cap: size \"99999999999999GiB\" is too large"},
		{"fetch: {body_cap: 2GiB}", "fetch.body_cap: must be at most 1GiB, got 2GiB"},
		{"fetch: {body_cap: 0}", "fetch.body_cap: must be > 0, got 0"},
		{"rpc: {manager: {<<: [1]}}", "merge key \"<<\" needs a mapping or a list of mappings"},
		{"rpc: {manager: {'<<': 1}}", "unknown key \"rpc.manager.<<\""},
		{"rpc: {manager: {[a]: 1}}", "rpc.manager: keys must be plain names, got a list"},
		{"rpc: {assistant: &a [*a]}", "rpc.assistant[0]: expected a mapping of keys, got a list"},
		{"rpc: {manager: &m {<<: *m}}", "nested too deeply"},
		{"rpc: {assistant: [{address: a, port: 1, workers: &w [*w]}]}", "rpc.assistant[0].workers: old list form: items must be scalars"},
		{"dispatch: {down_after: -1, prefetch_batches: -2}", "dispatch.prefetch_batches: must be >= 0, got -2"},
	} {
		_, err := Parse([]byte(tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%q):\n got  %v\n want %q", tc.in, err, tc.want)
		}
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"))
	if err == nil || !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "nope.yaml") {
		t.Errorf("Load(missing) = %v", err)
	}
}

func TestValidateHandBuilt(t *testing.T) {
	cfg := Default()
	if err := cfg.Validate(); err == nil {
		t.Fatal("Default() must not validate without endpoints")
	}
	cfg.RPC.Manager.Port = 50051
	cfg.RPC.Assistants = []Assistant{{Address: "127.0.0.1", Port: 50061, Workers: 4}}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	if got := cfg.RPC.Assistants[0].MetricsAddr(); got != "127.0.0.1:51061" {
		t.Errorf("MetricsAddr with MetricsPort 0 = %q", got)
	}
	cfg.RPC.Assistants = append(cfg.RPC.Assistants, Assistant{Address: "127.0.0.1", Port: 50061, Workers: 0})
	cfg.Dispatch.PollTimeout = cfg.Dispatch.PollInterval
	err := cfg.Validate()
	ps := Problems(err)
	var got []string
	for _, p := range ps {
		if p.File != "" || p.Line != 0 {
			t.Errorf("Validate set File/Line: %+v", p)
		}
		got = append(got, p.Error())
	}
	want := []string{
		"rpc.assistant[1].workers: must be >= 1, got 0",
		"rpc.assistant[1]: duplicate endpoint 127.0.0.1:50061: same address and port as rpc.assistant[0]",
		"dispatch.poll_timeout: must be shorter than dispatch.poll_interval (1s), got 1s",
	}
	if !slices.Equal(got, want) {
		t.Errorf("Validate problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestHelpers(t *testing.T) {
	d := Dispatch{}
	if d.PrefetchFor(64) != 32 || d.PrefetchFor(1) != 0 {
		t.Error("PrefetchFor auto")
	}
	for lvl, want := range map[string]string{"debug": "DEBUG", "info": "INFO", "warn": "WARN", "error": "ERROR"} {
		if got := (Log{Level: lvl}).SlogLevel().String(); got != want {
			t.Errorf("SlogLevel(%s) = %s", lvl, got)
		}
	}
	db := Database{URL: "postgres://u:secret@h:5432/db"}
	if got := db.RedactedURL(); strings.Contains(got, "secret") || !strings.Contains(got, "u:xxxxx@h") {
		t.Errorf("RedactedURL = %q", got)
	}
	if got := (Database{URL: "host=x password=y"}).RedactedURL(); got != "(unparsable)" {
		t.Errorf("RedactedURL(dsn) = %q", got)
	}
}
