package pgtest

import (
	"context"
	"errors"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
)

// These tests check how scripts/pg.sh secures the private cluster (issue
// 11): scram-sha-256 over TCP and over the unix socket, the password kept
// 0600 in the pgpass file that the URL names, and a role that is not a
// superuser.

// privateCluster returns the URL of the tests' cluster if it is the
// repository's private cluster (as under make test, which passes pg.sh's URL
// in CRAWLMASTER_TEST_DATABASE_URL) and skips the test otherwise: another
// server is secured by whoever runs it.
func privateCluster(t *testing.T) string {
	t.Helper()
	base := URL(t)
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("bash", filepath.Join(root, "scripts", "pg.sh"), "url").Output()
	if err != nil {
		t.Fatalf("scripts/pg.sh url: %v", err)
	}
	if private := strings.TrimSpace(string(out)); base != private {
		t.Skipf("%s is not the private cluster (%s)", redact(base), private)
	}
	return base
}

// passFile returns the pgpass file named by the URL's passfile parameter.
func passFile(t *testing.T, base string) string {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	pf := u.Query().Get("passfile")
	if pf == "" || !filepath.IsAbs(pf) {
		t.Fatalf("URL %s names no absolute passfile", base)
	}
	return pf
}

// socketConfig returns base's connection config over the cluster's unix
// socket, "<data dir>sock" next to the "<data dir>.pgpass" the URL names.
func socketConfig(t *testing.T, base string) *pgx.ConnConfig {
	t.Helper()
	cfg, err := pgx.ParseConfig(base)
	if err != nil {
		t.Fatal(err)
	}
	pf := passFile(t, base)
	if !strings.HasSuffix(pf, ".pgpass") {
		t.Fatalf("passfile %s does not end in .pgpass", pf)
	}
	dir := strings.TrimSuffix(pf, ".pgpass") + "sock"
	sock := filepath.Join(dir, ".s.PGSQL."+strconv.Itoa(int(cfg.Port)))
	if fi, err := os.Stat(sock); err != nil || fi.Mode()&os.ModeSocket == 0 {
		t.Fatalf("no unix socket at %s: %v", sock, err)
	}
	cfg.Host = dir
	cfg.Fallbacks = nil
	return cfg
}

func tcpConfig(t *testing.T, base string) *pgx.ConnConfig {
	t.Helper()
	cfg, err := pgx.ParseConfig(base)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func connectConfig(cfg *pgx.ConnConfig) (*pgx.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return pgx.ConnectConfig(ctx, cfg)
}

// firstAuthRequest sends a startup message as user to the server at
// network/addr and returns the server's first answer: how it wants the
// client to authenticate (AuthenticationOk would mean trust).
func firstAuthRequest(t *testing.T, network, addr, user, database string) pgproto3.BackendMessage {
	t.Helper()
	conn, err := net.DialTimeout(network, addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	fe := pgproto3.NewFrontend(conn, conn)
	fe.Send(&pgproto3.StartupMessage{
		ProtocolVersion: pgproto3.ProtocolVersionNumber,
		Parameters:      map[string]string{"user": user, "database": database},
	})
	if err := fe.Flush(); err != nil {
		t.Fatal(err)
	}
	msg, err := fe.Receive()
	if err != nil {
		t.Fatalf("%s %s: no answer to the startup message: %v", network, addr, err)
	}
	return msg
}

func sqlState(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code
	}
	return ""
}

// TestPrivateClusterScram: over TCP and over the socket the server asks for
// SCRAM-SHA-256 (not trust, not md5); a connection without the password is
// refused, one with the password from the pgpass file is let in.
func TestPrivateClusterScram(t *testing.T) {
	base := privateCluster(t)
	for _, tc := range []struct {
		name string
		cfg  *pgx.ConnConfig
	}{
		{"tcp", tcpConfig(t, base)},
		{"socket", socketConfig(t, base)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			network, addr := pgconn.NetworkAddress(tc.cfg.Host, tc.cfg.Port)
			switch msg := firstAuthRequest(t, network, addr, tc.cfg.User, tc.cfg.Database).(type) {
			case *pgproto3.AuthenticationSASL:
				if !slices.Contains(msg.AuthMechanisms, "SCRAM-SHA-256") {
					t.Errorf("%s %s offers SASL mechanisms %v, want SCRAM-SHA-256", network, addr, msg.AuthMechanisms)
				}
			default:
				t.Errorf("%s %s answers a startup as %s with %T, want AuthenticationSASL (scram-sha-256)",
					network, addr, tc.cfg.User, msg)
			}

			if tc.cfg.Password == "" {
				t.Fatalf("the passfile of %s gives no password for %s over %s", base, tc.cfg.User, network)
			}
			conn, err := connectConfig(tc.cfg)
			if err != nil {
				t.Fatalf("connecting with the password over %s: %v", network, err)
			}
			var user string
			if err := conn.QueryRow(context.Background(), "SELECT current_user").Scan(&user); err != nil {
				t.Fatal(err)
			}
			conn.Close(context.Background())
			if user != tc.cfg.User {
				t.Errorf("connected as %q, want %q", user, tc.cfg.User)
			}

			for _, pw := range []string{"", "not-the-password"} {
				cfg := tc.cfg.Copy()
				cfg.Password = pw
				conn, err := connectConfig(cfg)
				if err == nil {
					conn.Close(context.Background())
					t.Errorf("connected over %s with password %q: want refused", network, pw)
					continue
				}
				// 28P01 invalid_password: the server checked a password.
				if code := sqlState(err); code != "28P01" {
					t.Errorf("connecting over %s with password %q: %v (SQLSTATE %q), want SQLSTATE 28P01", network, pw, err, code)
				}
			}
		})
	}
}

// TestPrivateClusterRole: the URL's role owns its database and is not a
// superuser (it may create databases, for the tests); the superuser cannot be
// reached over TCP, nor over the socket by another OS user than the
// cluster's.
func TestPrivateClusterRole(t *testing.T) {
	base := privateCluster(t)
	ctx := context.Background()
	conn := connect(t, base)
	defer conn.Close(ctx)
	var (
		user, owner                                  string
		super, createdb, createrole, repl, bypassRLS bool
	)
	if err := conn.QueryRow(ctx, `
		SELECT current_user, rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls,
			(SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = current_database())
		FROM pg_roles WHERE rolname = current_user`).Scan(&user, &super, &createdb, &createrole, &repl, &bypassRLS, &owner); err != nil {
		t.Fatal(err)
	}
	if user != "crawlmaster" {
		t.Errorf("the URL's role is %q, want crawlmaster", user)
	}
	if super || createrole || repl || bypassRLS {
		t.Errorf("role %s: superuser %v, createrole %v, replication %v, bypassrls %v; want all false",
			user, super, createrole, repl, bypassRLS)
	}
	if !createdb {
		t.Errorf("role %s lacks CREATEDB, which the tests need", user)
	}
	if owner != user {
		t.Errorf("database of %s is owned by %q, want %q", redact(base), owner, user)
	}
	// What only a superuser may do.
	if _, err := conn.Exec(ctx, "SELECT count(*) FROM pg_authid"); sqlState(err) != "42501" {
		t.Errorf("reading pg_authid: %v, want insufficient_privilege (42501)", err)
	}

	su := tcpConfig(t, base)
	su.User, su.Password = "postgres", ""
	if c, err := connectConfig(su); err == nil {
		c.Close(ctx)
		t.Errorf("connected as superuser postgres over TCP")
	} else if code := sqlState(err); code != "28000" {
		t.Errorf("connecting as postgres over TCP: %v (SQLSTATE %q), want rejected by pg_hba.conf (28000)", err, code)
	}
	// Peer authentication lets the cluster's own OS user in as postgres
	// (scripts/pg.sh needs it; that user owns the data files anyway). When
	// the tests run as another user (root: the cluster runs as postgres),
	// the socket refuses them too.
	sock := socketConfig(t, base)
	var st syscall.Stat_t
	if err := syscall.Stat(sock.Host, &st); err != nil {
		t.Fatal(err)
	}
	if int(st.Uid) == os.Geteuid() {
		t.Logf("tests run as the cluster's OS user (uid %d): peer authentication as postgres is theirs", st.Uid)
		return
	}
	sock.User, sock.Password = "postgres", ""
	if c, err := connectConfig(sock); err == nil {
		c.Close(ctx)
		t.Errorf("connected as superuser postgres over the socket as uid %d", os.Geteuid())
	} else if code := sqlState(err); code != "28000" {
		t.Errorf("connecting as postgres over the socket: %v (SQLSTATE %q), want peer authentication failed (28000)", err, code)
	}
}

// TestPrivateClusterPassFile: the URL carries no password, only the name of
// a pgpass file that only its owner can read.
func TestPrivateClusterPassFile(t *testing.T) {
	base := privateCluster(t)
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := u.User.Password(); ok {
		t.Errorf("URL %s carries a password", redact(base))
	}
	cfg := tcpConfig(t, base)
	if cfg.Password == "" || strings.Contains(base, cfg.Password) {
		t.Errorf("password from the passfile is empty or part of the URL")
	}
	pf := passFile(t, base)
	fi, err := os.Stat(pf)
	if err != nil {
		t.Fatal(err)
	}
	if mode := fi.Mode(); mode != 0o600 {
		t.Errorf("%s has mode %v, want -rw-------", pf, mode)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Geteuid() {
		t.Errorf("%s belongs to uid %d, not to us (%d)", pf, st.Uid, os.Geteuid())
	}
}
