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
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"go.uber.org/goleak"

	"github.com/crawlmaster/crawlmaster/internal/faultproxy"
	"github.com/crawlmaster/crawlmaster/internal/pgtest"
)

var (
	buildOnce sync.Once
	binDir    string // the built commands, once bin has been called
	buildErr  error
)

func TestMain(m *testing.M) {
	// Every goroutine a test starts (process waiters, proxies, samplers)
	// must be gone at the end; then the built commands are removed.
	goleak.VerifyTestMain(m, goleak.Cleanup(func(code int) {
		if binDir != "" {
			os.RemoveAll(binDir)
		}
		os.Exit(code)
	}))
}

// bin returns the path of command name (master, assistant or websim),
// building the three once per test binary on first use: -short skips
// every test that runs them, and then builds nothing.
func bin(t *testing.T, name string) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "crawlmaster-e2e-bin")
		if err != nil {
			buildErr = err
			return
		}
		binDir = dir
		out, err := exec.Command("go", "build", "-o", dir+"/", "../../cmd/master", "../../cmd/assistant", "../../cmd/websim").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("build binaries: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return filepath.Join(binDir, name)
}

// skipInShort skips a test that runs the commands as processes: -short
// is the quick tier, these are the slow one.
func skipInShort(t *testing.T, kind string) {
	t.Helper()
	if testing.Short() {
		t.Skipf("%s: skipped in -short mode", kind)
	}
}

// proc is a daemon started as a process.
type proc struct {
	name string
	cmd  *exec.Cmd
	out  *lockedWriter
	done chan error
	// exited is set once Wait returned; cmd.ProcessState must not be read
	// concurrently with Wait.
	exited atomic.Bool
}

func (p *proc) output() string { return p.out.String() }

func start(t *testing.T, name string, env []string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(bin(t, name), args...)
	cmd.Env = append(os.Environ(), env...)
	w := &lockedWriter{}
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{name: name, cmd: cmd, out: w, done: make(chan error, 1)}
	go func() {
		err := cmd.Wait()
		p.exited.Store(true)
		p.done <- err
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("--- %s %v, last lines of output:\n%s", name, args, lastLines(w.String(), 15))
		}
	})
	return p
}

// stop sends SIGTERM and waits for a clean exit.
func (p *proc) stop(t *testing.T, within time.Duration) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("%s: SIGTERM: %v", p.name, err)
	}
	select {
	case err := <-p.done:
		if err != nil {
			t.Errorf("%s exited with %v after SIGTERM", p.name, err)
		}
	case <-time.After(within):
		t.Errorf("%s did not exit within %s of SIGTERM", p.name, within)
	}
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
		case err := <-p.done:
			t.Fatalf("%s exited early: %v", p.name, err)
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
log: {format: json}
`, unusedManagerPort, portOf(px1.Addr()), portOf(px2.Addr()), simAddr)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}

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
	for _, want := range []string{"leading", ma1, "robots_disallowed", "dns_not_found"} {
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

	mst.stop(t, 15*time.Second)
	asst1.stop(t, 10*time.Second)
	asst2.stop(t, 10*time.Second)
	sim.stop(t, 10*time.Second)

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
	log := mst.output()
	if n := strings.Count(log, `"msg":"batch dispatched"`); n == 0 || n != strings.Count(log, `"msg":"batch finished"`) {
		t.Errorf("master log: %d 'batch dispatched' lines vs %d 'batch finished'", n, strings.Count(log, `"msg":"batch finished"`))
	}
}
