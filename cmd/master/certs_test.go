package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// `master certs` writes the CA, the master's and each listed assistant's
// certificate into tls.dir, private files, and prints each with its
// expiry; a second run keeps them all, --force replaces them.
func TestCertsCommand(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "rpc.yaml")
	if err := os.WriteFile(cfg, []byte(`rpc:
  manager: {address: 10.0.0.2, port: 50051}
  assistant:
    - {address: 10.0.0.3, port: 50052, workers: 4}
    - {address: crawler-4.internal, port: 50052, workers: 4}
tls: {dir: certs}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	certs := func(args ...string) string {
		t.Helper()
		var out, errOut bytes.Buffer
		if err := run(append([]string{"certs", "--config", cfg}, args...), &out, &errOut); err != nil {
			t.Fatalf("master certs %v: %v (stderr %q)", args, err, errOut.String())
		}
		return out.String()
	}
	out := certs("--days", "30")
	want := []string{"ca.crt", "master.crt", "assistant-10.0.0.3-50052.crt", "assistant-crawler-4.internal-50052.crt"}
	for _, f := range want {
		if !strings.Contains(out, filepath.Join(dir, "certs", f)) {
			t.Errorf("output does not name %s:\n%s", f, out)
		}
	}
	if strings.Contains(out, "kept") || strings.Count(out, "wrote") != len(want) {
		t.Errorf("first run: want %d certificates written, none kept:\n%s", len(want), out)
	}
	for _, f := range want {
		for _, name := range []string{f, strings.TrimSuffix(f, ".crt") + ".key"} {
			st, err := os.Stat(filepath.Join(dir, "certs", name))
			if err != nil {
				t.Fatal(err)
			}
			if st.Mode().Perm() != 0o600 {
				t.Errorf("%s: mode %v, want 0600", name, st.Mode().Perm())
			}
		}
	}
	key, _ := os.ReadFile(filepath.Join(dir, "certs", "master.key"))

	if again := certs(); strings.Count(again, "kept") != len(want) {
		t.Errorf("second run: want every certificate kept:\n%s", again)
	}
	if now, _ := os.ReadFile(filepath.Join(dir, "certs", "master.key")); !bytes.Equal(now, key) {
		t.Error("a second run without --force replaced the master's key")
	}
	if forced := certs("--force"); strings.Contains(forced, "kept") {
		t.Errorf("--force kept a certificate:\n%s", forced)
	}
	if now, _ := os.ReadFile(filepath.Join(dir, "certs", "master.key")); bytes.Equal(now, key) {
		t.Error("--force did not replace the master's key")
	}

	var out2, errOut bytes.Buffer
	if err := run([]string{"certs", "--config", cfg, "--days", "0"}, &out2, &errOut); err == nil || !strings.Contains(err.Error(), "--days") {
		t.Errorf("--days 0: %v, want an error naming --days", err)
	}
}

// `master certs --client NAME` issues an API client's certificate with
// the CA that `master certs` made, and refuses to without one.
func TestCertsClientCommand(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "rpc.yaml")
	if err := os.WriteFile(cfg, []byte(`rpc:
  manager: {address: 10.0.0.2, port: 50051}
  assistant:
    - {address: 10.0.0.3, port: 50052, workers: 4}
tls: {dir: certs}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	if err := run([]string{"certs", "--config", cfg, "--client", "indexer"}, &out, &errOut); err == nil || !strings.Contains(err.Error(), "master certs") {
		t.Fatalf("--client without a CA: %v, want an error naming `master certs`", err)
	}
	if err := run([]string{"certs", "--config", cfg}, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := run([]string{"certs", "--config", cfg, "--client", "indexer"}, &out, &errOut); err != nil {
		t.Fatalf("--client: %v (stderr %q)", err, errOut.String())
	}
	crt := filepath.Join(dir, "certs", "client-indexer.crt")
	if !strings.Contains(out.String(), crt) || !strings.Contains(out.String(), "wrote") {
		t.Errorf("output does not say it wrote %s:\n%s", crt, out.String())
	}
	for _, p := range []string{crt, strings.TrimSuffix(crt, ".crt") + ".key"} {
		if st, err := os.Stat(p); err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v %v, want mode 0600", p, st, err)
		}
	}
}
