package pgtest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// EnvURL names the environment variable that, when set, points the tests at an
// existing server instead of the repository's private cluster.
const EnvURL = "CRAWLMASTER_TEST_DATABASE_URL"

const (
	modulePath = "github.com/crawlmaster/crawlmaster"
	// dbPrefix starts every database name created by this package.
	dbPrefix = "cmtest_"
	// maxIdent is PostgreSQL's identifier length limit (NAMEDATALEN-1).
	maxIdent = 63

	startTimeout = 15 * time.Minute // first start may apt-get install PostgreSQL
	opTimeout    = 2 * time.Minute
)

var (
	urlOnce sync.Once
	baseURL string
	urlErr  error

	dbCounter atomic.Uint64
)

// URL returns the base admin URL of the test cluster: $CRAWLMASTER_TEST_DATABASE_URL if set,
// else it runs <repo>/scripts/pg.sh start (once per process, found via runtime.Caller / walking up to go.mod)
// and uses its URL. If the cluster can't be started it calls t.Fatalf with a clear message (never Skip).
func URL(t testing.TB) string {
	t.Helper()
	urlOnce.Do(func() { baseURL, urlErr = resolveURL() })
	if urlErr != nil {
		t.Fatalf("pgtest: no PostgreSQL for tests: %v", urlErr)
	}
	return baseURL
}

// NewDatabase creates a fresh, uniquely named database (CREATE DATABASE ... ) for this test, drops it
// in t.Cleanup (terminating leftover connections with WITH (FORCE)), and returns its URL.
func NewDatabase(t testing.TB) string {
	t.Helper()
	base := URL(t)
	name := newDBName(t.Name())
	dbURL, err := withDatabase(base, name)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	if err := createDatabase(ctx, base, name, ""); err != nil {
		t.Fatalf("pgtest: creating test database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
		defer cancel()
		if err := dropDatabase(ctx, base, name); err != nil {
			t.Errorf("pgtest: dropping test database: %v", err)
		}
	})
	return dbURL
}

func resolveURL() (string, error) {
	if u := os.Getenv(EnvURL); u != "" {
		return u, nil
	}
	root, err := repoRoot()
	if err != nil {
		return "", err
	}
	u, err := startCluster(root)
	if err != nil {
		return "", err
	}
	sweepLeftovers(u)
	return u, nil
}

// repoRoot finds the module root: first from this source file's location
// (runtime.Caller), then from the working directory (go test runs in the
// package directory), walking up to the go.mod of our module.
func repoRoot() (string, error) {
	var starts []string
	if _, file, _, ok := runtime.Caller(0); ok && filepath.IsAbs(file) {
		starts = append(starts, filepath.Dir(file))
	}
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	for _, start := range starts {
		for dir := start; ; {
			if isRepoRoot(dir) {
				return dir, nil
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				break
			}
			dir = parent
		}
	}
	return "", fmt.Errorf("cannot find the %s repository root (go.mod + scripts/pg.sh) above %v; set %s to use an existing server",
		modulePath, starts, EnvURL)
}

func isRepoRoot(dir string) bool {
	if _, err := os.Stat(filepath.Join(dir, "scripts", "pg.sh")); err != nil {
		return false
	}
	f, err := os.Open(filepath.Join(dir, "go.mod"))
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if fields := strings.Fields(sc.Text()); len(fields) == 2 && fields[0] == "module" {
			return strings.Trim(fields[1], `"`) == modulePath
		}
	}
	return false
}

// startCluster runs scripts/pg.sh start and returns the URL it prints last.
func startCluster(root string) (string, error) {
	script := filepath.Join(root, "scripts", "pg.sh")
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", script, "start")
	cmd.Dir = root
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	cmd.WaitDelay = 10 * time.Second
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%s start failed after %v: %v\n%s\n(set %s to use an existing server instead)",
			script, time.Since(start).Round(time.Millisecond), err, strings.TrimSpace(stderr.String()), EnvURL)
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	u := strings.TrimSpace(lines[len(lines)-1])
	if !strings.HasPrefix(u, "postgres://") {
		return "", fmt.Errorf("%s start printed no postgres:// URL on its last stdout line; stdout:\n%s\nstderr:\n%s",
			script, stdout.String(), stderr.String())
	}
	return u, nil
}

// newDBName returns a name unique across parallel test processes (pid),
// within a process (counter) and across pid reuse (random), followed by as
// much of the sanitised test name as fits, for debugging.
func newDBName(testName string) string {
	var rnd [4]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		panic("pgtest: crypto/rand: " + err.Error())
	}
	name := fmt.Sprintf("%s%d_%d_%s", dbPrefix, os.Getpid(), dbCounter.Add(1), hex.EncodeToString(rnd[:]))
	if s := sanitize(testName); s != "" && len(name)+1 < maxIdent {
		name += "_" + s
	}
	if len(name) > maxIdent {
		name = strings.TrimRight(name[:maxIdent], "_")
	}
	return name
}

// sanitize lowercases s and maps everything but [a-z0-9] to single '_'.
func sanitize(s string) string {
	var b strings.Builder
	underscore := false
	for _, r := range strings.ToLower(s) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
			underscore = false
		} else if !underscore && b.Len() > 0 {
			b.WriteByte('_')
			underscore = true
		}
	}
	return strings.TrimRight(b.String(), "_")
}

// withDatabase returns base with its database replaced by name. base may be a
// postgres:// URL or a keyword/value DSN.
func withDatabase(base, name string) (string, error) {
	if strings.HasPrefix(base, "postgres://") || strings.HasPrefix(base, "postgresql://") {
		u, err := url.Parse(base)
		if err != nil {
			return "", fmt.Errorf("parsing database URL: %v", err)
		}
		u.Path = "/" + name
		u.RawPath = ""
		return u.String(), nil
	}
	// Keyword/value DSN: a later dbname overrides an earlier one.
	return base + " dbname=" + name, nil
}

// serverMajor returns the server's major version (e.g. 15) from the
// server_version parameter reported at connection start.
func serverMajor(conn *pgx.Conn) int {
	v := conn.PgConn().ParameterStatus("server_version")
	end := strings.IndexFunc(v, func(r rune) bool { return r < '0' || r > '9' })
	if end >= 0 {
		v = v[:end]
	}
	n, _ := strconv.Atoi(v)
	return n
}

// strategy values for createDatabase.
const (
	strategyDefault  = ""          // package default, see createDatabase
	strategyFileCopy = "FILE_COPY" // PG15+: copy files, checkpoint before and after
	strategyWALLog   = "WAL_LOG"   // PG15+ server default: copy block by block through WAL
)

// defaultStrategy is WAL_LOG: FILE_COPY forces a checkpoint before and
// after every CREATE DATABASE, so it gets slower the more other tests dirty
// buffers meanwhile, while WAL_LOG only writes template0's few megabytes
// through WAL (measured: BENCHMARKS.md, "Test databases"). Re-measure with
// "go test -run '^$' -bench CreateDatabase ./internal/pgtest".
const defaultStrategy = strategyWALLog

func createDatabase(ctx context.Context, base, name, strategy string) error {
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		return fmt.Errorf("connecting to %s: %v", redact(base), err)
	}
	defer conn.Close(context.Background())

	if strategy == strategyDefault {
		strategy = defaultStrategy
	}
	sql := "CREATE DATABASE " + pgx.Identifier{name}.Sanitize() + " TEMPLATE template0"
	if serverMajor(conn) >= 15 {
		sql += " STRATEGY " + strategy
	}
	// A connection still starting up has no role yet, and a role that is
	// not a superuser may not terminate it (SQLSTATE 42501, "must be a
	// member of the role whose process is being terminated"): a moment
	// later it has one, ours, and can be terminated.
	for attempt := 0; ; attempt++ {
		_, err := conn.Exec(ctx, sql)
		var pgErr *pgconn.PgError
		if err == nil {
			return nil
		}
		if !errors.As(err, &pgErr) || pgErr.Code != "42501" || attempt == 10 {
			return fmt.Errorf("%s: %v", sql, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %v", sql, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func dropDatabase(ctx context.Context, base, name string) error {
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		return fmt.Errorf("connecting to %s: %v", redact(base), err)
	}
	defer conn.Close(context.Background())

	plain := "DROP DATABASE IF EXISTS " + pgx.Identifier{name}.Sanitize()
	sql := plain
	if serverMajor(conn) >= 13 {
		sql += " WITH (FORCE)"
	}
	_, err = conn.Exec(ctx, sql)
	// FORCE needs the right to terminate every session of the database,
	// and the private cluster's role is no superuser: an autovacuum worker
	// in the database makes it fail with insufficient_privilege (42501).
	// A plain DROP ends autovacuum workers itself; the test's own
	// connections are closed by now.
	if pgErr, ok := errors.AsType[*pgconn.PgError](err); ok && pgErr.Code == "42501" {
		sql = plain
		_, err = conn.Exec(ctx, sql)
	}
	if err != nil {
		return fmt.Errorf("%s: %v", sql, err)
	}
	return nil
}

// sweepLeftovers drops databases of this package whose creating process no
// longer exists (a test binary killed before its cleanups ran). It runs only
// against the private cluster, whose clients all live on this machine, and
// ignores every error: it is housekeeping.
func sweepLeftovers(base string) {
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		return
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(ctx, `SELECT datname FROM pg_database WHERE datname LIKE 'cmtest\_%'`)
	if err != nil {
		return
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return
	}
	for _, name := range names {
		pidStr, _, _ := strings.Cut(strings.TrimPrefix(name, dbPrefix), "_")
		pid, err := strconv.Atoi(pidStr)
		if err != nil || pid <= 0 || processExists(pid) {
			continue
		}
		_, _ = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
	}
}

// processExists reports whether a process with this pid is alive (signal 0).
func processExists(pid int) bool {
	p, err := os.FindProcess(pid)
	if err != nil {
		return false
	}
	err = p.Signal(syscall.Signal(0))
	return err == nil || errors.Is(err, syscall.EPERM)
}

// redact hides a password in a URL for error messages.
func redact(s string) string {
	if u, err := url.Parse(s); err == nil && u.User != nil {
		if _, ok := u.User.Password(); ok {
			return u.Redacted()
		}
	}
	return s
}
