package atomicfile

import (
	"os"
	"path/filepath"
	"testing"
)

func TestWrite(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name, path, addr string
		ok               bool
	}{
		{"new file", filepath.Join(dir, "a.addr"), "127.0.0.1:4242", true},
		{"replaces a stale file", filepath.Join(dir, "a.addr"), "127.0.0.1:4343", true},
		{"missing directory", filepath.Join(dir, "no", "a.addr"), "127.0.0.1:1", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := WriteString(c.path, c.addr)
			if (err == nil) != c.ok {
				t.Fatalf("WriteString: %v, want ok=%v", err, c.ok)
			}
			if !c.ok {
				return
			}
			if b, err := os.ReadFile(c.path); err != nil || string(b) != c.addr {
				t.Fatalf("file holds %q (%v), want %q", b, err, c.addr)
			}
		})
	}
	// Nothing but the address file is left behind.
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != "a.addr" {
		t.Errorf("directory holds %v, want only a.addr", entries)
	}
}
