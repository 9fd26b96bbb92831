package config

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"gopkg.in/yaml.v3"
)

// FuzzParse checks that Parse never panics, that every error it returns is
// a list of FieldErrors, and that whatever it accepts passes Validate and
// survives a marshal/parse round trip.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.yml")
	for _, name := range append(files, rootFile) {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("rpc: {manager: {port: 1}, assistant: [{address: a, port: 2, workers: [1]}]}"))
	f.Add([]byte("rpc: {manager: &m {<<: *m}}"))
	f.Add([]byte("rpc: {manager: &m {<<: [*m, *m]}, assistant: [{<<: {port: 1.5}, workers: &w [*w]}]}"))

	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<16 {
			return
		}
		cfg, err := parseBytes(data)
		if err != nil {
			if cfg != nil {
				t.Fatal("Parse returned a config with an error")
			}
			if len(problems(err)) == 0 {
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
		again, err := parseBytes(out)
		if err != nil {
			t.Fatalf("reparse of marshalled config: %v\n%s", err, out)
		}
		if !reflect.DeepEqual(normalize(cfg), normalize(again)) {
			t.Fatalf("round trip changed the config:\n%+v\n%+v", cfg, again)
		}
	})
}
