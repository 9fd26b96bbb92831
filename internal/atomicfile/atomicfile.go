// Package atomicfile writes files that readers see whole or not at all:
// through a temporary file in the same directory and a rename. Daemons use
// it to publish the address they bound (so a test or script that started
// them on port 0 learns the port), websim its lists and counts.
package atomicfile

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Write creates or replaces path with what write writes, atomically: a
// reader polling for path never sees it empty or partial. The file is
// readable by all (0644).
func Write(path string, write func(io.Writer) error) error {
	return WriteMode(path, 0o644, write)
}

// WriteMode is Write with the file's permissions. The temporary file is
// created 0600, so content meant to be private (a key) is never readable
// by others, not even before the rename.
func WriteMode(path string, mode os.FileMode, write func(io.Writer) error) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	bw := bufio.NewWriterSize(f, 256<<10)
	err = write(bw)
	if err == nil {
		err = bw.Flush()
	}
	if err == nil {
		err = f.Chmod(mode)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// WriteString is Write of s (an address: no newline is added).
func WriteString(path, s string) error {
	return Write(path, func(w io.Writer) error {
		_, err := io.WriteString(w, s)
		return err
	})
}
