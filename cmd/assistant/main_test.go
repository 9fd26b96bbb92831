package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/crawlmaster/crawlmaster/internal/mtls"
)

// id is the test's rpc.yaml entry, which the assistant serves by --id
// while listening on port 0.
const id = "127.0.0.1:50051"

// writeConfig writes an rpc.yaml with the entry id and its certificates
// into a temporary directory, and returns the directory and the file.
func writeConfig(t *testing.T) (dir, cfg string) {
	t.Helper()
	dir = t.TempDir()
	certs := filepath.Join(dir, "certs")
	if _, err := mtls.Issue(mtls.FileSet{Dir: certs}, mtls.IssueOptions{MasterName: "crawlmaster-master",
		Assistants: []string{id}, Validity: time.Hour}); err != nil {
		t.Fatal(err)
	}
	cfg = filepath.Join(dir, "rpc.yaml")
	if err := os.WriteFile(cfg, fmt.Appendf(nil, `rpc:
  manager: {address: 127.0.0.1, port: 1}
  assistant:
    - {address: 127.0.0.1, port: 50051, workers: 2}
fetch: {shutdown_grace: 1s}
tls: {dir: %s}
log: {level: warn}
`, certs), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, cfg
}

// With both listen addresses on port 0, --addr-file and --admin-addr-file
// name the ports actually bound, and the admin one serves once its file is
// there: a caller needs no port picked free beforehand.
func TestAddrFiles(t *testing.T) {
	dir, cfg := writeConfig(t)
	addrFile, adminFile := filepath.Join(dir, "grpc.addr"), filepath.Join(dir, "admin.addr")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"run", "--config", cfg, "--listen", "127.0.0.1:0", "--id", id,
			"--metrics-listen", "127.0.0.1:0", "--addr-file", addrFile, "--admin-addr-file", adminFile},
			io.Discard, io.Discard)
	}()

	var admin string
	for deadline := time.Now().Add(30 * time.Second); ; {
		if b, err := os.ReadFile(adminFile); err == nil {
			admin = strings.TrimSpace(string(b))
			break
		}
		select {
		case err := <-done:
			t.Fatalf("run returned before writing %s: %v", adminFile, err)
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not written within 30s", adminFile)
		}
	}
	b, err := os.ReadFile(addrFile)
	if err != nil {
		t.Fatalf("the gRPC address file, read once the admin one is written: %v", err)
	}
	for _, a := range []string{strings.TrimSpace(string(b)), admin} {
		if _, port, err := net.SplitHostPort(a); err != nil || port == "0" {
			t.Fatalf("address file names %q; want a bound host:port", a)
		}
	}
	if admin == strings.TrimSpace(string(b)) {
		t.Fatalf("admin and gRPC address files both name %s", admin)
	}
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get("http://" + admin + "/metrics")
	if err != nil {
		t.Fatalf("GET /metrics at the admin address file's %s: %v", admin, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics at %s: %s", admin, resp.Status)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run after cancel: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("run did not return within 30s of its context's end")
	}
}

// A failed write of --admin-addr-file stops the assistant with the error.
func TestAdminAddrFileError(t *testing.T) {
	dir, cfg := writeConfig(t)
	bad := filepath.Join(dir, "missing", "admin.addr") // no such directory
	done := make(chan error, 1)
	go func() {
		done <- run(context.Background(), []string{"run", "--config", cfg, "--listen", "127.0.0.1:0", "--id", id,
			"--metrics-listen", "127.0.0.1:0", "--admin-addr-file", bad}, io.Discard, io.Discard)
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "admin.addr") {
			t.Fatalf("run: %v; want the failed write of %s", err, bad)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("run did not stop within 30s of failing to write its admin address file")
	}
}
