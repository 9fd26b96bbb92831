package deploy

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/crawlmaster/crawlmaster/internal/proctest"
	"github.com/crawlmaster/crawlmaster/internal/testwait"
)

// bins are the daemons, built on first use.
var bins = proctest.NewBinaries("../cmd/master", "../cmd/assistant", "../cmd/websim")

func TestMain(m *testing.M) {
	// Every goroutine a test starts (process waiters, proxies) must be gone
	// at the end; then the built commands are removed.
	goleak.VerifyTestMain(m, goleak.Cleanup(func(code int) {
		bins.Remove()
		os.Exit(code)
	}))
}

// repoRoot is the repository, the parent of this package's directory.
func repoRoot(t testing.TB) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// deployFile is the path of a file of the kit, relative to deploy/.
func deployFile(t testing.TB, rel string) string {
	t.Helper()
	p, err := filepath.Abs(rel)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

var (
	toolMu    sync.Mutex
	toolPaths = map[string]string{}
)

// tool returns the path of a checking tool (promtool, prometheus,
// systemd-analyze, systemd-sysusers), installing it with
// scripts/deploy-tools.sh when it is missing. No tool, no test: it fails
// with the script's reason, it is never skipped.
func tool(t testing.TB, name string) string {
	t.Helper()
	toolMu.Lock()
	defer toolMu.Unlock()
	if p, ok := toolPaths[name]; ok {
		return p
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(repoRoot(t), "scripts", "deploy-tools.sh"), name)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s is needed and could not be found or installed (scripts/deploy-tools.sh %s: %v):\n%s",
			name, name, err, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	p := strings.TrimSpace(lines[len(lines)-1])
	if fi, err := os.Stat(p); err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
		t.Fatalf("scripts/deploy-tools.sh %s printed %q, which is not an executable file", name, p)
	}
	toolPaths[name] = p
	return p
}

// runTool runs a command and returns its combined output and error.
func runTool(t testing.TB, dir string, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// daemonBin returns the path of command name (master, assistant or
// websim).
func daemonBin(t testing.TB, name string) string { return bins.Path(t, name) }

// skipInShort skips a test that builds and runs the daemons: -short is
// the quick tier, these are the slow one.
func skipInShort(t *testing.T, kind string) {
	t.Helper()
	if testing.Short() {
		t.Skipf("%s: skipped in -short mode (it builds and runs the daemons)", kind)
	}
}

// proc is a process started by a test.
type proc = proctest.Proc

// startProc starts path with args; the process is killed at the end of
// the test if it still runs, and its output logged if the test failed.
func startProc(t *testing.T, name, path string, env []string, args ...string) *proc {
	t.Helper()
	return proctest.Start(t, name, path, env, args...)
}

// waitFile waits until path holds something and returns it trimmed.
func waitFile(t *testing.T, path string, p *proc) string {
	t.Helper()
	var got string
	eventually(t, 30*time.Second, path+" written", func() (bool, string) {
		if err, ok := p.Exited(); ok {
			t.Fatalf("%s exited early (%v) before writing %s", p.Name, err, path)
		}
		b, err := os.ReadFile(path)
		got = strings.TrimSpace(string(b))
		return err == nil && got != "", fmt.Sprint(err)
	})
	return got
}

// eventually polls cond every 100ms until it returns true, failing the
// test with cond's last explanation after timeout.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	testwait.UntilWhy(t, what, timeout, 100*time.Millisecond, cond)
}

// freeLoopbackAddr returns 127.0.0.1:PORT with a port that was free a
// moment ago (bound and closed). For programs that cannot take a listener
// or report the port they bound; callers retry if another process took it
// meanwhile.
func freeLoopbackAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

// httpGet GETs url and returns the body and status code. It keeps no
// connection open afterwards (no goroutine outlives the call).
func httpGet(url string) (string, int, error) {
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get(url)
	if err != nil {
		return "", 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", resp.StatusCode, err
	}
	return string(b), resp.StatusCode, nil
}
