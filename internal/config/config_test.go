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

	"github.com/crawlmaster/crawlmaster/crawl/fetchconfig"
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
	t.Setenv("DATABASE_URL", "")
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
			ps := problems(err)
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
	cfg, err := parseBytes(data)
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
		got = append(got, a.ID()+"/"+strconv.Itoa(int(a.Workers)))
	}
	want := []string{"10.0.0.9:50061/16", "10.0.0.9:50062/16", "10.0.0.9:50063/16"}
	if !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestEmptyValuesAreDefaults(t *testing.T) {
	cfg := mustParseFile(t, "empty_values.good.yml")
	if cfg.RPC.Manager.Address != Default().RPC.Manager.Address {
		t.Errorf("manager address = %q", cfg.RPC.Manager.Address)
	}
	if cfg.RPC.Assistants[0].MetricsPort != 51061 {
		t.Errorf("metrics port = %d", cfg.RPC.Assistants[0].MetricsPort)
	}
	if !reflect.DeepEqual(cfg.Dispatch, Default().Dispatch) || cfg.Fetch.Timeout != Default().Fetch.Timeout || cfg.Fetch.Resolve != nil {
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
		{"a0 metrics", cfg.RPC.Assistants[0].MetricsPort, 7100},
		{"a1 id", cfg.RPC.Assistants[1].ID(), "[::1]:7000"},
		{"a1 metrics", cfg.RPC.Assistants[1].MetricsPort, 8000},
		{"db url", cfg.Database.URL, "host=db user=crawl dbname=crawl"},
		{"max conns", cfg.Database.MaxConns, 32},
		{"poll", cfg.Dispatch.PollTimeout, 1500 * time.Millisecond},
		{"prefetch", cfg.Dispatch.PrefetchBatches, 4},
		{"grace", cfg.Dispatch.ShutdownGrace, time.Duration(0)},
		{"jitter", cfg.Retry.Jitter, 0.0},
		{"store", cfg.Persist.StoreBodies, false},
		{"stored cap", cfg.Persist.StoredBodyCap, fetchconfig.ByteSize(4096)},
		{"body cap", cfg.Fetch.BodyCap, fetchconfig.ByteSize(64000)},
		{"robots cap", cfg.Fetch.RobotsCap, fetchconfig.ByteSize(1536)},
		{"redirects", cfg.Fetch.MaxRedirects, 0},
		{"resolve", cfg.Fetch.Resolve[1], fetchconfig.ResolveRule{Pattern: "example.com", Addr: "[::1]:8443"}},
		{"memory limit", cfg.Fetch.MemoryLimit, 64 * fetchconfig.MiB},
		{"master memory limit", cfg.Persist.MemoryLimit, 96 * fetchconfig.MiB},
		{"log", cfg.Log, Log{Format: "json", Level: "debug"}},
		{"pprof", cfg.Metrics.Pprof, true},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.exp) {
			t.Errorf("%s = %#v, want %#v", c.name, c.got, c.exp)
		}
	}
}

func TestRootFile(t *testing.T) {
	t.Setenv("DATABASE_URL", "")
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
	if len(cfg.Fetch.AllowedNetworks) != 0 {
		t.Errorf("fetch.allowed_networks = %v, want empty", cfg.Fetch.AllowedNetworks)
	}
	cfg.Fetch.AllowedNetworks = nil
	// The fetch section documents the crawl library's own defaults.
	if !reflect.DeepEqual(cfg.Fetch.Config, fetchconfig.Default()) {
		t.Errorf("rpc.yaml's fetch section differs from fetchconfig.Default():\ngot  %+v\nwant %+v", cfg.Fetch.Config, fetchconfig.Default())
	}
	// Apart from the endpoints, the reference file holds exactly the defaults.
	if got := cfg.TLSDir(); got != filepath.Join(filepath.Dir(rootFile), ".data/certs") {
		t.Errorf("TLSDir() = %q, want .data/certs beside the file", got)
	}
	want.base = cfg.base
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("root rpc.yaml differs from the defaults:\ngot  %+v\nwant %+v", cfg, want)
	}
}

// schemaPaths lists every key path of the schema, list items as "[]".
func schemaPaths(t reflect.Type, prefix string, out map[string]bool) {
	for _, f := range fields(t) {
		p := joinPath(prefix, f.Name)
		out[p] = true
		switch ft := f.Type; {
		case isLeaf(ft):
		case ft.Kind() == reflect.Struct:
			schemaPaths(ft, p, out)
		case ft.Kind() == reflect.Slice && !isLeaf(ft.Elem()):
			schemaPaths(ft.Elem(), p+"[]", out)
		}
	}
}

// isLeaf reports whether values of t have no keys of their own.
func isLeaf(t reflect.Type) bool {
	return reflect.PointerTo(t).Implements(reflect.TypeFor[yaml.Unmarshaler]()) || t.Kind() != reflect.Struct && t.Kind() != reflect.Slice
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
		if t.Kind() == reflect.Slice {
			t = t.Elem()
		}
		if t = testFieldType(t, strings.TrimSuffix(part, "[]")); t == nil {
			return nil
		}
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
		cfg, err := parseBytes(data)
		if err != nil {
			t.Fatal(err)
		}
		out, err := yaml.Marshal(cfg)
		if err != nil {
			t.Fatal(err)
		}
		again, err := parseBytes(out)
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
	if len(c.Fetch.AllowedNetworks) == 0 {
		c.Fetch.AllowedNetworks = nil
	}
	return c
}

func TestDatabaseURLOverride(t *testing.T) {
	const env = "postgres://other@db.example:5432/crawl?sslmode=require"
	t.Setenv("DATABASE_URL", env)
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
	cfg, err = parseBytes(data)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Database.URL != Default().Database.URL {
		t.Errorf("Parse read the environment: database.url = %q", cfg.Database.URL)
	}

	t.Setenv("DATABASE_URL", "mysql://root:hunter2@h/db")
	_, err = Load(rootFile)
	if err == nil || !strings.Contains(err.Error(), "database.url: scheme must be postgres:// or postgresql://") ||
		!strings.Contains(err.Error(), "(value from $DATABASE_URL)") {
		t.Errorf("bad DATABASE_URL: %v", err)
	}
	if err != nil && strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error leaks the password: %v", err)
	}

	t.Setenv("DATABASE_URL", "")
	cfg, err = Load(rootFile)
	if err != nil || cfg.Database.URL != Default().Database.URL {
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
		{"rpc: {assistant: [~]}", "rpc.assistant: item 0 is empty (line 1)"},
		{"fetch: {resolve: ['*=127.0.0.1:1', ~]}", "fetch.resolve: item 1 is empty (line 1)"},
		{"fetch: {resolve: [[1]]}", "fetch.resolve[0]: expected a string \"PATTERN=IP:PORT\", got a list"},
		{"rpc: {manager: {port: 99999999999999999999999}}", "rpc.manager.port: expected an integer, got the number 99999999999999999999999"},
		{"dispatch: {poll_interval: [1s]}", "dispatch.poll_interval: expected a duration such as \"30s\", got a list"},
		{"dispatch: {poll_interval: true}", "dispatch.poll_interval: expected a duration such as \"30s\", got the boolean true"},
		{"fetch: {body_cap: 1.5}", "fetch.body_cap: expected a size such as 1048576 or \"1MiB\", got the number 1.5"},
		{"fetch: {body_cap: 99999999999999GiB}", "fetch.body_cap: size \"99999999999999GiB\" is too large"},
		{"fetch: {body_cap: 2GiB}", "fetch.body_cap: must be at most 1GiB, got 2GiB"},
		{"fetch: {body_cap: 0}", "fetch.body_cap: must be > 0, got 0"},
		{"rpc: {manager: {<<: [1]}}", "rpc.manager: merge key \"<<\" needs a mapping or a list of mappings, got a list (line 1)"},
		{"rpc: {manager: {<<: 5}}", "rpc.manager: merge key \"<<\" needs a mapping or a list of mappings, got the number 5 (line 1)"},
		{"rpc: {manager: {'<<': 1}}", "unknown key \"rpc.manager.<<\""},
		{"rpc: {manager: {[a]: 1}}", "cannot unmarshal !!seq into string (line 1)"},
		{"!!0 :", `unknown key "" (line 1), valid keys here: rpc, database`},
		{"rpc: {assistant: &a [*a]}", "rpc.assistant: expected a mapping of keys, got a list"},
		{"rpc: {manager: &m {<<: *m}}", "invalid YAML: anchor 'm' value contains itself"},
		{"dispatch: {down_after: -1, prefetch_batches: -2}", "dispatch.prefetch_batches: must be >= 0, got -2"},
	} {
		_, err := parseBytes([]byte(tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%q):\n got  %v\n want %q", tc.in, err, tc.want)
		}
	}
}

// Each of these documents has exactly one problem, reported once.
func TestOneProblem(t *testing.T) {
	const rpc = "rpc: {manager: {port: 1}, assistant: [{address: a, port: 2, workers: 1}]}\n"
	for _, tc := range []struct{ in, want string }{
		{strings.Replace(rpc, "workers: 1", "workers: 1.5", 1),
			"rpc.assistant[0].workers: expected a number of worker slots (or a list, old form), got the number 1.5 (line 1)"},
		{strings.Replace(rpc, "port: 1", "port: 99999999999999999999", 1),
			"rpc.manager.port: expected an integer, got the number 99999999999999999999 (line 1)"},
		{rpc + "persist: {store_bodies: 'true'}", `persist.store_bodies: expected true or false, got "true" (line 2)`},
		{rpc + "persist: {store_bodies: on}", `persist.store_bodies: expected true or false, got "on" (line 2)`},
		{rpc + "dispatch: {batch_size: 0.5}", "dispatch.batch_size: expected an integer, got the number 0.5 (line 2)"},
		{rpc + "dispatch: {batch_size: 4, batch_size: 4, down_after: 0}", "dispatch.batch_size: duplicate key (first at line 2) (line 2)"},
		{rpc + "fetch: {resolve: ['*=127.0.0.1:1', ~]}", "fetch.resolve: item 1 is empty (line 2)"},
		{rpc + "fetch: {user_agent: 'bad.bot/1'}", `fetch.user_agent: "bad.bot/1" has no robots.txt product token: it must start with letters, digits, '-' or '_' up to the first '/' or space (line 2)`},
		{"rpc: {manager: {port: 1}, assistant: [{address: localhost, port: 2, workers: 1}, {address: '::ffff:127.0.0.1', port: 2, workers: 1}]}",
			"rpc.assistant[1]: duplicate endpoint [::ffff:127.0.0.1]:2: same endpoint as rpc.assistant[0] (localhost:2): localhost, 127.0.0.1 and ::1 are the same loopback host (line 1)"},
	} {
		if _, err := parseBytes([]byte(tc.in)); err == nil || err.Error() != tc.want {
			t.Errorf("Parse(%q):\n got  %v\n want %s", tc.in, err, tc.want)
		}
	}
}

func TestLoadEmptyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rpc.yaml")
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path); err == nil || err.Error() != path+": empty configuration: expected a mapping with at least an rpc section" {
		t.Errorf("Load(empty file) = %v", err)
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
	if got := cfg.RPC.Assistants[0].EffectiveMetricsPort(); got != 51061 {
		t.Errorf("EffectiveMetricsPort with MetricsPort 0 = %d", got)
	}
	cfg.RPC.Assistants = append(cfg.RPC.Assistants, Assistant{Address: "127.0.0.1", Port: 50061, Workers: 0})
	cfg.Dispatch.PollTimeout = cfg.Dispatch.PollInterval
	err := cfg.Validate()
	ps := problems(err)
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

func TestRedactedURL(t *testing.T) {
	db := Database{URL: "postgres://u:secret@h:5432/db"}
	if got := db.RedactedURL(); strings.Contains(got, "secret") || !strings.Contains(got, "u:xxxxx@h") {
		t.Errorf("RedactedURL = %q", got)
	}
	if got := (Database{URL: "host=x password=y"}).RedactedURL(); got != "(unparsable)" {
		t.Errorf("RedactedURL(dsn) = %q", got)
	}
}

func TestHint(t *testing.T) {
	known := fields(reflect.TypeFor[struct {
		A int `yaml:"poll_interval"`
		B int `yaml:"poll_timeout"`
		C int `yaml:"batch_size"`
		D int `yaml:"url"`
	}]())
	for _, tc := range []struct{ key, want string }{
		{"pol_interval", `, did you mean "d.poll_interval"?`},
		{"Poll_Timeout", `, did you mean "d.poll_timeout"?`},
		{"batchsize", `, did you mean "d.batch_size"?`},
		{"ur", `, did you mean "d.url"?`},
		{"uri", `, did you mean "d.url"?`},
		{"zzz", ", valid keys here: poll_interval, poll_timeout, batch_size, url"},
		{"x", ", valid keys here: poll_interval, poll_timeout, batch_size, url"},
	} {
		if got := hint(tc.key, "d", known); got != tc.want {
			t.Errorf("hint(%q) = %q, want %q", tc.key, got, tc.want)
		}
	}
	if got := hint("x", "", nil); got != "" {
		t.Errorf("hint without known keys = %q", got)
	}
}

func testFieldType(t reflect.Type, name string) reflect.Type {
	for _, f := range fields(t) {
		if f.Name == name {
			return f.Type
		}
	}
	return nil
}

func TestWorkersYAML(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Workers
		err  string
	}{
		{"64", 64, ""},
		{"0", 0, ""}, // Validate rejects it
		{"[1000, 2000, 3000]", 3, ""},
		{"- 1\n- 2\n", 2, ""},
		{"[a, [b]]", 2, ""}, // the old form's values never mattered
		{"[]", 0, `line 1: column 1: empty list: give the number of worker slots, e.g. "workers: 64"`},
		{"'64'", 0, `line 1: column 1: expected a number of worker slots (or a list, old form), got "64"`},
		{"6.4", 0, "got the number 6.4"},
		{"{n: 1}", 0, "got a mapping"},
		{"99999999999999999999", 0, "got the number 99999999999999999999"},
	} {
		var w Workers
		err := yaml.Unmarshal([]byte(tc.in), &w)
		var te *yaml.TypeError
		switch {
		case tc.err == "" && (err != nil || w != tc.want):
			t.Errorf("%q: got %d, %v; want %d", tc.in, w, err, tc.want)
		case tc.err != "" && (!errors.As(err, &te) || !strings.Contains(te.Errors[0], tc.err)):
			t.Errorf("%q: got %d, %v; want a *yaml.TypeError %q", tc.in, w, err, tc.err)
		}
	}
}

// problems returns the FieldErrors joined in err, in order, or nil.
func problems(err error) []*FieldError { return unjoin[*FieldError](err) }
