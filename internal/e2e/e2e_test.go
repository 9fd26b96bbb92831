package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"go.uber.org/goleak"

	"github.com/crawlmaster/crawlmaster/internal/faultproxy"
	"github.com/crawlmaster/crawlmaster/internal/pgtest"
	"github.com/crawlmaster/crawlmaster/internal/proctest"
)

// bins are the commands under test, built on first use: -short skips
// every test that runs them, and then builds nothing.
var bins = proctest.NewBinaries("../../cmd/master", "../../cmd/assistant", "../../cmd/websim")

func TestMain(m *testing.M) {
	// Every goroutine a test starts (process waiters, proxies, samplers)
	// must be gone at the end; then the built commands are removed.
	goleak.VerifyTestMain(m, goleak.Cleanup(func(code int) {
		bins.Remove()
		os.Exit(code)
	}))
}

// bin returns the path of command name (master, assistant or websim).
func bin(t *testing.T, name string) string { return bins.Path(t, name) }

// skipInShort skips a test that runs the commands as processes: -short
// is the quick tier, these are the slow one.
func skipInShort(t *testing.T, kind string) {
	t.Helper()
	if testing.Short() {
		t.Skipf("%s: skipped in -short mode", kind)
	}
}

// proc is a daemon started as a process.
type proc = proctest.Proc

// exited reports whether p has exited.
func exited(p *proc) bool {
	_, done := p.Exited()
	return done
}

// start starts command name (see bin).
func start(t *testing.T, name string, env []string, args ...string) *proc {
	t.Helper()
	return proctest.Start(t, name, bin(t, name), env, args...)
}

// run runs a one-shot command and returns its combined output and error.
func run(t *testing.T, env []string, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin(t, name), args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func waitFile(t *testing.T, path string, p *proc) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(path); err == nil && len(b) > 0 {
			return strings.TrimSpace(string(b))
		}
		select {
		case <-p.Done():
			err, _ := p.Exited()
			t.Fatalf("%s exited early: %v", p.Name, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.Fatalf("%s not written within 30s", path)
	return ""
}

// newProxy starts a proxy with no target yet on a port of its own: its
// address goes into rpc.yaml, and it forwards to an assistant once that
// has bound its own port (startAssistantProc).
func newProxy(t *testing.T) *faultproxy.Proxy {
	t.Helper()
	px, err := faultproxy.New("127.0.0.1:0", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { px.Close() })
	return px
}

// startAssistantProc starts an assistant for the rpc.yaml entry that is px's
// address, listening on a port the kernel picks (it writes the port to
// addrFile), and points px at it. A restarted assistant gets a new port.
func startAssistantProc(t *testing.T, env []string, cfg string, px *faultproxy.Proxy, addrFile string) *proc {
	t.Helper()
	if err := os.Remove(addrFile); err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err) // a stale file would name the previous run's port
	}
	p := start(t, "assistant", env, "run", "--config", cfg, "--listen", "127.0.0.1:0", "--id", px.Addr(),
		"--metrics-listen", "127.0.0.1:0", "--addr-file", addrFile)
	px.SetTarget(waitFile(t, addrFile, p))
	return p
}

// startMasterProc starts `master run` with its admin endpoint on a port the
// kernel picks, and returns the process and that endpoint's address.
func startMasterProc(t *testing.T, env []string, cfg, addrFile string) (*proc, string) {
	t.Helper()
	if err := os.Remove(addrFile); err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	p := start(t, "master", env, "run", "--config", cfg, "--admin-listen", "127.0.0.1:0", "--addr-file", addrFile)
	return p, waitFile(t, addrFile, p)
}

// writeDaemonConfig writes the daemons' rpc.yaml to path and creates their
// certificates with `master certs`, as an operator does: mutual TLS is on,
// in tls.dir (.data/certs beside the file). A second call for the same
// directory keeps the certificates already there.
func writeDaemonConfig(t *testing.T, env []string, path, cfg string) string {
	t.Helper()
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := run(t, env, "master", "certs", "--config", path); err != nil {
		t.Fatalf("master certs: %v\n%s", err, out)
	}
	return path
}

// unusedManagerPort is rpc.manager's port in the processes' rpc.yaml: the
// config needs one, but every master here serves its admin endpoint on
// --admin-listen 127.0.0.1:0 instead.
const unusedManagerPort = 1

// TestBinaries runs websim, two assistants and the master as separate
// processes, imports websim's list with the CLI, waits with `master status
// --wait`, checks the stored crawl, then stops every daemon with SIGTERM
// and expects clean exits.
func TestBinaries(t *testing.T) {
	skipInShort(t, "end-to-end")
	const domains = 500
	dir := t.TempDir()
	dbURL := pgtest.NewDatabase(t)
	env := []string{"DATABASE_URL=" + dbURL}

	sim := start(t, "websim", nil, "--domains", fmt.Sprint(domains), "--seed", "7", "--listen", "127.0.0.1:0", "--out", dir)
	simAddr := waitFile(t, filepath.Join(dir, "addr"), sim)

	// The master reaches each assistant through a proxy: the proxies' ports
	// are known before rpc.yaml is written, the assistants' only once they
	// have bound port 0.
	px1, px2 := newProxy(t), newProxy(t)
	cfgPath := filepath.Join(dir, "rpc.yaml")
	cfg := fmt.Sprintf(`rpc:
  manager: {address: 127.0.0.1, port: %d}
  assistant:
    - {address: 127.0.0.1, port: %s, workers: 16}
    - {address: 127.0.0.1, port: %s, workers: [1, 2, 3, 4, 5, 6, 7, 8]}
dispatch:
  poll_interval: 200ms
  poll_timeout: 150ms
  shutdown_grace: 5s
retry: {base_delay: 50ms, max_delay: 200ms}
fetch:
  timeout: 2s
  connect_timeout: 1s
  robots_timeout: 2s
  # A host whose robots.txt fetch failed (a timeout on a loaded CI
  # machine) is retried after this, not after the 5m default.
  robots_error_ttl: 1s
  default_delay: 0s
  shutdown_grace: 5s
  resolve: ["*.test=%s"]
  allowed_networks: ["127.0.0.0/8"] # websim, on loopback
log: {format: json}
`, unusedManagerPort, portOf(px1.Addr()), portOf(px2.Addr()), simAddr)
	writeDaemonConfig(t, env, cfgPath, cfg)

	out, err := run(t, env, "master", "import-tranco", "--config", cfgPath, "--scheme", "http", filepath.Join(dir, "tranco.csv"))
	if err != nil {
		t.Fatalf("import-tranco: %v\n%s", err, out)
	}
	if !strings.Contains(out, fmt.Sprintf("%d new URLs", domains)) {
		t.Fatalf("import-tranco output does not report %d new URLs:\n%s", domains, out)
	}

	ma1 := px1.Addr() // what rpc.yaml lists, so what status shows
	asst1 := startAssistantProc(t, env, cfgPath, px1, filepath.Join(dir, "assistant-1.addr"))
	asst2 := startAssistantProc(t, env, cfgPath, px2, filepath.Join(dir, "assistant-2.addr"))
	mst, adminAddr := startMasterProc(t, env, cfgPath, filepath.Join(dir, "master.addr"))

	out, err = run(t, env, "master", "status", "--config", cfgPath, "--wait", "--interval", "300ms", "--classes")
	if err != nil {
		t.Fatalf("status --wait: %v\n%s", err, out)
	}
	if !regexp.MustCompile(fmt.Sprintf(`final %d of %d`, domains, domains)).MatchString(out) {
		t.Fatalf("status does not show every URL final:\n%s", out)
	}
	if !regexp.MustCompile(`(?m)^\s*\S+\s+leader\s+\d{4}-\d\d-\d\d`).MatchString(out) {
		t.Errorf("status lists no leading master (a row: id, leader, started):\n%s", out)
	}
	for _, want := range []string{ma1, "robots_disallowed", "dns_not_found"} {
		if !strings.Contains(out, want) {
			t.Errorf("status output lacks %q:\n%s", want, out)
		}
	}

	// The master's admin endpoint serves Prometheus metrics.
	metrics, err := httpGet("http://" + adminAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"crawlmaster_dispatch_urls_dispatched_total", "crawlmaster_persist_results_total", "crawlmaster_frontier_urls",
		"crawlmaster_master_leader 1"} {
		if !strings.Contains(metrics, name) {
			t.Errorf("master /metrics lacks %s", name)
		}
	}

	mst.Stop(t, 15*time.Second)
	asst1.Stop(t, 10*time.Second)
	asst2.Stop(t, 10*time.Second)
	sim.Stop(t, 10*time.Second)

	conn, err := pgx.Connect(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var frontier, results, leased int
	if err := conn.QueryRow(context.Background(), `SELECT (SELECT count(*) FROM frontier), (SELECT count(*) FROM results),
		(SELECT count(*) FROM frontier WHERE state = 'leased')`).Scan(&frontier, &results, &leased); err != nil {
		t.Fatal(err)
	}
	if frontier != domains || results != domains || leased != 0 {
		t.Fatalf("frontier %d, results %d, leased %d; want %d, %d, 0", frontier, results, leased, domains, domains)
	}
	// Every dispatch and completion is one greppable log line.
	log := mst.Output()
	if n := strings.Count(log, `"msg":"batch dispatched"`); n == 0 || n != strings.Count(log, `"msg":"batch finished"`) {
		t.Errorf("master log: %d 'batch dispatched' lines vs %d 'batch finished'", n, strings.Count(log, `"msg":"batch finished"`))
	}
}
