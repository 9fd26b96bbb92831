package e2e

import (
	"bytes"
	"go/format"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestSourcesAreGofmted keeps main formatted: CI runs `make test` only,
// and `make verify`'s gofmt check is easy to forget before a commit.
func TestSourcesAreGofmted(t *testing.T) {
	root := filepath.Join("..", "..")
	out, err := exec.Command("git", "-C", root, "ls-files", "*.go").Output()
	if err != nil {
		t.Fatalf("git ls-files: %v", err)
	}
	files := strings.Fields(string(out))
	if len(files) < 50 {
		t.Fatalf("git ls-files listed only %d Go files", len(files))
	}
	for _, f := range files {
		src, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			t.Fatal(err)
		}
		got, err := format.Source(src)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if !bytes.Equal(got, src) {
			t.Errorf("%s is not gofmt-formatted: run gofmt -w %s", f, f)
		}
	}
}
