package e2e

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSourceSizeBudgets keeps the two places issue 9 slimmed from growing
// back unnoticed: no non-test file in master/dispatch over about 300 lines
// (each holds one concern), and internal/config's non-test code at most
// 700 lines (schema, defaults and rules; YAML diagnostics that any strict
// loader needs live in internal/yamlcheck).
func TestSourceSizeBudgets(t *testing.T) {
	lines := func(dir string) map[string]int {
		t.Helper()
		files, err := filepath.Glob(filepath.Join("..", "..", dir, "*.go"))
		if err != nil || len(files) == 0 {
			t.Fatalf("no Go files in %s (%v)", dir, err)
		}
		out := map[string]int{}
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			out[filepath.Base(f)] = bytes.Count(b, []byte("\n"))
		}
		return out
	}
	for f, n := range lines("master/dispatch") {
		if n > 320 {
			t.Errorf("master/dispatch/%s has %d lines, over the ~300 budget: split it by concern", f, n)
		}
	}
	total := 0
	for _, n := range lines("internal/config") {
		total += n
	}
	if total > 700 {
		t.Errorf("internal/config has %d lines of non-test code, over the 700 budget", total)
	}
}
