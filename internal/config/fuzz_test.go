package config

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"gopkg.in/yaml.v3"
)

// FuzzParse checks that Parse never panics, that whatever it accepts passes
// Validate and survives a marshal/parse round trip, and that the path-aware
// walker never accepts a document that yaml.v3's strict decoding rejects.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.yml")
	files = append(files, rootFile)
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("rpc: {manager: {port: 1}, assistant: [{address: a, port: 2, workers: [1]}]}"))
	f.Add([]byte("rpc: {manager: &m {<<: *m}}"))

	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<16 {
			return
		}
		if root, ps := parseDocument(data); ps == nil {
			if _, w := decodeRoot(root); len(w.problems) == 0 {
				if err := strictDecode(data); err != nil {
					t.Fatalf("walker accepted what yaml.v3 strict decoding rejects: %v", err)
				}
			}
		}
		cfg, err := Parse(data)
		if err != nil {
			if cfg != nil {
				t.Fatal("Parse returned a config with an error")
			}
			if len(Problems(err)) == 0 {
				t.Fatalf("error without FieldError: %v", err)
			}
			return
		}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("Parse succeeded but Validate fails: %v", err)
		}
		out, err := yaml.Marshal(cfg)
		if err != nil {
			t.Fatalf("Marshal: %v", err)
		}
		again, err := Parse(out)
		if err != nil {
			t.Fatalf("reparse of marshalled config: %v\n%s", err, out)
		}
		if !reflect.DeepEqual(normalize(cfg), normalize(again)) {
			t.Fatalf("round trip changed the config:\n%+v\n%+v", cfg, again)
		}
	})
}
