// Package pgtest gives tests of other packages a real PostgreSQL database.
//
// Every test that calls [NewDatabase] or [NewPool] gets its own freshly
// created, uniquely named database that is dropped again (WITH (FORCE)) in
// t.Cleanup, so tests can run in parallel, inside one test binary and across
// the binaries that "go test ./..." runs at the same time.
//
// Which server is used:
//
//   - If CRAWLMASTER_TEST_DATABASE_URL is set, it is used as the admin URL
//     (a role allowed to CREATE DATABASE, connected to any existing database),
//     e.g. in CI against a managed server.
//   - Otherwise the repository's private cluster is started with
//     scripts/pg.sh start (once per test process; concurrent starts from
//     several test binaries are serialised by the script's flock) and its URL,
//     postgres://crawlmaster@127.0.0.1:15432/crawlmaster?sslmode=disable&passfile=<repo>/.data/pg.pgpass
//     by default, is used. CRAWLMASTER_PGDATA and CRAWLMASTER_PGPORT are
//     honoured because the script reads them. The role crawlmaster logs in
//     with the scram-sha-256 password kept in that pgpass file; it is not a
//     superuser but may create databases, and drop those it created.
//
// If no server can be had, the test fails via t.Fatalf: database tests are
// never skipped silently.
//
// Typical use:
//
//	func TestFrontier(t *testing.T) {
//		t.Parallel()
//		pool, _ := pgtest.NewPool(t)
//		// ... run migrations, exercise code with pool ...
//	}
//
// Databases are created from template0 and are empty. Their names look like
// cmtest_<pid>_<n>_<random>_<test name>, so databases leaked by a test
// process that was killed before its cleanups ran can be recognised; the first
// use of the private cluster in a process drops such leftovers whose process
// is gone.
package pgtest
