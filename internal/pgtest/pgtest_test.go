package pgtest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func connect(t testing.TB, dbURL string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatalf("connect %s: %v", dbURL, err)
	}
	return conn
}

func databaseExists(t testing.TB, name string) bool {
	t.Helper()
	conn := connect(t, URL(t))
	defer conn.Close(context.Background())
	var n int
	if err := conn.QueryRow(context.Background(),
		"SELECT count(*) FROM pg_database WHERE datname = $1", name).Scan(&n); err != nil {
		t.Fatalf("query pg_database: %v", err)
	}
	return n == 1
}

func currentDatabase(t testing.TB, conn *pgx.Conn) string {
	t.Helper()
	var name string
	if err := conn.QueryRow(context.Background(), "SELECT current_database()").Scan(&name); err != nil {
		t.Fatalf("current_database(): %v", err)
	}
	return name
}

func TestURLStable(t *testing.T) {
	u1, u2 := URL(t), URL(t)
	if u1 != u2 {
		t.Fatalf("URL changed between calls: %q vs %q", u1, u2)
	}
	conn := connect(t, u1)
	defer conn.Close(context.Background())
	// Not a superuser (TestPrivateClusterRole), but it may create databases.
	var createdb bool
	if err := conn.QueryRow(context.Background(),
		"SELECT rolcreatedb FROM pg_roles WHERE rolname = current_user").Scan(&createdb); err != nil {
		t.Fatal(err)
	}
	if !createdb {
		t.Errorf("admin role of %s may not create databases", redact(u1))
	}
}

func TestNewDatabaseIndependent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	urlA, urlB := NewDatabase(t), NewDatabase(t)
	if urlA == urlB {
		t.Fatalf("NewDatabase returned the same URL twice: %s", urlA)
	}
	a, b := connect(t, urlA), connect(t, urlB)
	defer a.Close(ctx)
	defer b.Close(ctx)
	if na, nb := currentDatabase(t, a), currentDatabase(t, b); na == nb {
		t.Fatalf("both URLs lead to database %q", na)
	}

	if _, err := a.Exec(ctx, "CREATE TABLE pages (url text PRIMARY KEY); INSERT INTO pages VALUES ('https://example.com/')"); err != nil {
		t.Fatal(err)
	}
	var inB *string
	if err := b.QueryRow(ctx, "SELECT to_regclass('pages')::text").Scan(&inB); err != nil {
		t.Fatal(err)
	}
	if inB != nil {
		t.Fatalf("table created in database A is visible in database B as %s", *inB)
	}
	if _, err := b.Exec(ctx, "CREATE TABLE pages (url text PRIMARY KEY)"); err != nil {
		t.Fatalf("creating the same table in B: %v", err)
	}
	var n int
	if err := b.QueryRow(ctx, "SELECT count(*) FROM pages").Scan(&n); err != nil || n != 0 {
		t.Fatalf("B.pages: count=%d err=%v, want 0 rows", n, err)
	}
	if err := a.QueryRow(ctx, "SELECT count(*) FROM pages").Scan(&n); err != nil || n != 1 {
		t.Fatalf("A.pages: count=%d err=%v, want 1 row", n, err)
	}
}

func TestNewDatabaseDroppedAfterCleanup(t *testing.T) {
	var name string
	var leaked *pgx.Conn
	t.Run("inner", func(t *testing.T) {
		dbURL := NewDatabase(t)
		// Deliberately leave a connection open: the cleanup's
		// DROP DATABASE ... WITH (FORCE) must terminate it.
		leaked = connect(t, dbURL)
		name = currentDatabase(t, leaked)
		if !strings.HasPrefix(name, dbPrefix) {
			t.Errorf("database name %q lacks prefix %q", name, dbPrefix)
		}
		if !databaseExists(t, name) {
			t.Fatalf("database %s does not exist right after NewDatabase", name)
		}
	})
	if name == "" {
		t.Fatal("subtest did not create a database")
	}
	defer leaked.Close(context.Background())
	if databaseExists(t, name) {
		t.Fatalf("database %s still exists after the subtest's cleanup", name)
	}
	if err := leaked.Ping(context.Background()); err == nil {
		t.Errorf("connection to dropped database %s still works", name)
	}
}

func TestNewDatabaseParallel(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	seen := map[string]bool{}
	for i := range 6 {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			t.Parallel()
			conn := connect(t, NewDatabase(t))
			defer conn.Close(context.Background())
			name := currentDatabase(t, conn)
			mu.Lock()
			defer mu.Unlock()
			if seen[name] {
				t.Errorf("database %s handed out twice", name)
			}
			seen[name] = true
		})
	}
}

func TestNewPool(t *testing.T) {
	t.Parallel()
	pool, dbURL := NewPool(t)
	var name string
	if err := pool.QueryRow(context.Background(), "SELECT current_database()").Scan(&name); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(name, dbPrefix) || !strings.Contains(dbURL, name) {
		t.Errorf("pool is on database %q, URL is %s", name, dbURL)
	}
}

func TestNewDBName(t *testing.T) {
	seen := map[string]bool{}
	long := strings.Repeat("VeryLong/Sub Test-Name ", 10)
	for i := range 1000 {
		name := newDBName(fmt.Sprintf("%s/%d", long, i))
		if len(name) > maxIdent {
			t.Fatalf("%q is %d bytes, max %d", name, len(name), maxIdent)
		}
		if strings.Trim(name, "abcdefghijklmnopqrstuvwxyz0123456789_") != "" || strings.HasSuffix(name, "_") {
			t.Fatalf("%q contains characters outside [a-z0-9_] or ends in _", name)
		}
		if !strings.HasPrefix(name, fmt.Sprintf("%s%d_", dbPrefix, os.Getpid())) {
			t.Fatalf("%q does not start with %s<pid>_", name, dbPrefix)
		}
		if seen[name] {
			t.Fatalf("duplicate name %q", name)
		}
		seen[name] = true
	}
	if got := newDBName("TestFoo/bar_baz"); !strings.HasSuffix(got, "_testfoo_bar_baz") {
		t.Errorf("newDBName(TestFoo/bar_baz) = %q, want test name suffix", got)
	}
}

func TestWithDatabase(t *testing.T) {
	for _, tc := range []struct{ base, want string }{
		{"postgres://crawlmaster@127.0.0.1:15432/crawlmaster?sslmode=disable", "postgres://crawlmaster@127.0.0.1:15432/db1?sslmode=disable"},
		{"postgresql://u:p@h/x", "postgresql://u:p@h/db1"},
		{"postgres://u@h:1", "postgres://u@h:1/db1"},
		{"host=h user=u dbname=x", "host=h user=u dbname=x dbname=db1"},
	} {
		got, err := withDatabase(tc.base, "db1")
		if err != nil || got != tc.want {
			t.Errorf("withDatabase(%q) = %q, %v; want %q", tc.base, got, err, tc.want)
		}
	}
}

func TestSweepLeftovers(t *testing.T) {
	if os.Getenv(EnvURL) != "" {
		t.Skipf("%s is set: leftovers are only swept on the private cluster", EnvURL)
	}
	base := URL(t)
	// A pid that certainly belonged to a process that has exited.
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	dead := fmt.Sprintf("%s%d_1_deadbeef_sweep", dbPrefix, cmd.Process.Pid)
	alive := newDBName(t.Name())
	ctx := context.Background()
	for _, name := range []string{dead, alive} {
		if err := createDatabase(ctx, base, name, ""); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = dropDatabase(ctx, base, name) })
	}
	sweepLeftovers(base)
	if databaseExists(t, dead) {
		t.Errorf("leftover %s of exited pid %d was not swept", dead, cmd.Process.Pid)
	}
	if !databaseExists(t, alive) {
		t.Errorf("database %s of this live process was swept", alive)
	}
}

// TestScriptStartIdempotent checks that a second scripts/pg.sh start on the
// running cluster succeeds quickly with the same URL, and that status/url agree.
func TestScriptStartIdempotent(t *testing.T) {
	if os.Getenv(EnvURL) != "" {
		t.Skipf("%s is set: the private cluster is not in use", EnvURL)
	}
	base := URL(t)
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(root, "scripts", "pg.sh")
	u, err := startCluster(root)
	if err != nil {
		t.Fatal(err)
	}
	if u != base {
		t.Errorf("second start printed %q, first %q", u, base)
	}
	out, err := exec.Command("bash", script, "url").Output()
	if err != nil || strings.TrimSpace(string(out)) != base {
		t.Errorf("pg.sh url = %q, %v; want %q", out, err, base)
	}
	if out, err := exec.Command("bash", script, "status").CombinedOutput(); err != nil {
		t.Errorf("pg.sh status: %v\n%s", err, out)
	}
}

// BenchmarkCreateDatabase compares the CREATE DATABASE strategies of PG15+,
// one at a time (create only, the drop is not timed) and 4 at once (create
// plus drop). Together with interleaved timings it decided defaultStrategy.
func BenchmarkCreateDatabase(b *testing.B) {
	base := URL(b)
	ctx := context.Background()
	for _, strategy := range []string{strategyWALLog, strategyFileCopy} {
		b.Run(strategy+"/serial", func(b *testing.B) {
			for b.Loop() {
				name := newDBName("bench")
				if err := createDatabase(ctx, base, name, strategy); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				if err := dropDatabase(ctx, base, name); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
		})
		b.Run(strategy+"/parallel4_with_drop", func(b *testing.B) {
			b.SetParallelism(2) // 2 cores x 2 = 4 goroutines
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					name := newDBName("bench")
					if err := createDatabase(ctx, base, name, strategy); err != nil {
						b.Error(err)
						return
					}
					if err := dropDatabase(ctx, base, name); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkCreateDropDatabase measures what one NewDatabase costs a test in
// total: connect+create plus the cleanup's connect+drop.
func BenchmarkCreateDropDatabase(b *testing.B) {
	base := URL(b)
	ctx := context.Background()
	for b.Loop() {
		name := newDBName("bench")
		if err := createDatabase(ctx, base, name, ""); err != nil {
			b.Fatal(err)
		}
		if err := dropDatabase(ctx, base, name); err != nil {
			b.Fatal(err)
		}
	}
}
