// Package addrfile publishes the address a daemon bound, so that a test or
// a script that started it on port 0 can learn the port.
package addrfile

import (
	"fmt"
	"os"
	"path/filepath"
)

// Write writes addr (no newline) to path atomically: through a temporary
// file in the same directory and a rename, so a reader polling for path
// never sees it empty or partial.
func Write(path, addr string) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("address file: %w", err)
	}
	tmp := f.Name()
	_, err = f.WriteString(addr)
	if err == nil {
		err = f.Chmod(0o644)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("address file %s: %w", path, err)
	}
	return nil
}
