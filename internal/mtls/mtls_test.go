package mtls

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/crawlmaster/crawlmaster/internal/testwait"
)

const masterName = "crawlmaster-master"

var quiet = slog.New(slog.DiscardHandler)

// issue creates a CA, a master and assistants in a new directory.
func issue(t *testing.T, assistants ...string) FileSet {
	t.Helper()
	set := FileSet{Dir: filepath.Join(t.TempDir(), "certs")}
	if _, err := Issue(set, IssueOptions{MasterName: masterName, Assistants: assistants, Validity: 24 * time.Hour}); err != nil {
		t.Fatal(err)
	}
	return set
}

func reloader(t *testing.T, f Files, m *Metrics) *Reloader {
	t.Helper()
	r, err := NewReloader(f, quiet, m)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// server is an assistant-like gRPC server (the health service) on
// 127.0.0.1, counting the calls that reach it.
type server struct {
	addr  string
	calls chan struct{}
	m     *Metrics
}

func serve(t *testing.T, creds credentials.TransportCredentials, m *Metrics) *server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &server{addr: ln.Addr().String(), calls: make(chan struct{}, 100), m: m}
	gs := grpc.NewServer(grpc.Creds(creds), grpc.UnaryInterceptor(func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		s.calls <- struct{}{}
		return h(ctx, req)
	}))
	healthpb.RegisterHealthServer(gs, health.NewServer())
	go func() { _ = gs.Serve(ln) }()
	t.Cleanup(gs.Stop)
	return s
}

// call makes one health check with creds; nil error means it got through.
func call(t *testing.T, addr string, creds credentials.TransportCredentials) error {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(creds))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err = healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
	return err
}

func refused(m *Metrics, side, reason string) float64 {
	return testutil.ToFloat64(m.RefusedPeers.WithLabelValues(side, reason))
}

// The assistant lets the master in and refuses every other client: none,
// plaintext, another CA's master, its own kind (an assistant's server
// certificate), a certificate from the right CA naming someone else. Each
// refusal is counted by reason and no call reaches the service.
func TestAssistantRefusesAllButTheMaster(t *testing.T) {
	set := issue(t, "127.0.0.1:1", "127.0.0.1:2")
	other := issue(t, "127.0.0.1:1")
	sm := NewMetrics(prometheus.NewRegistry())
	srv := serve(t, ServerCredentials(reloader(t, set.Assistant("127.0.0.1:1"), sm), masterName, quiet, sm), sm)
	host := "127.0.0.1"
	client := func(f Files) credentials.TransportCredentials {
		return ClientCredentials(reloader(t, f, nil), host, quiet, nil)
	}
	if err := call(t, srv.addr, client(set.Master())); err != nil {
		t.Fatalf("the master's call: %v", err)
	}
	<-srv.calls

	// A certificate from the right CA for a client, but not naming the
	// master.
	tmp := t.TempDir()
	wrongName := Files{CA: set.Master().CA, Cert: filepath.Join(tmp, "c.crt"), Key: filepath.Join(tmp, "c.key")}
	issueLeafFromCA(t, set, wrongName, "someone-else")

	cases := []struct {
		name   string
		creds  credentials.TransportCredentials
		reason string
	}{
		{"no certificate", credentials.NewTLS(clientNoCert(set)), "no_certificate"},
		{"plaintext", insecure.NewCredentials(), "not_tls"},
		{"another CA's master", credentials.NewTLS(impostorClient(t, other.Master())), "untrusted"},
		{"an assistant's certificate", client(Files{CA: set.Master().CA, Cert: set.Assistant("127.0.0.1:2").Cert, Key: set.Assistant("127.0.0.1:2").Key}), "wrong_identity"},
		{"right CA, not the master", client(wrongName), "wrong_identity"},
	}
	for _, tc := range cases {
		before := refused(sm, sideAssistant, tc.reason)
		if err := call(t, srv.addr, tc.creds); err == nil {
			t.Errorf("%s: call got through", tc.name)
		}
		// The server counts after sending its alert: the client may see
		// the refusal first.
		if !eventually(func() bool { return refused(sm, sideAssistant, tc.reason) > before }) {
			t.Errorf("%s: refused_peers_total{reason=%q} did not grow", tc.name, tc.reason)
		}
	}
	select {
	case <-srv.calls:
		t.Error("a refused client's call reached the service")
	default:
	}
}

// The master refuses an assistant with another CA's certificate or with
// a certificate for another address, before any call is sent.
func TestMasterRefusesImpostorAssistants(t *testing.T) {
	set := issue(t, "127.0.0.1:1", "127.0.0.2:1")
	other := issue(t, "127.0.0.1:1")
	mm := NewMetrics(prometheus.NewRegistry())
	master := ClientCredentials(reloader(t, set.Master(), nil), "127.0.0.1", quiet, mm)
	cases := []struct {
		name   string
		f      Files
		reason string
	}{
		{"another CA", Files{CA: other.Master().CA, Cert: other.Assistant("127.0.0.1:1").Cert, Key: other.Assistant("127.0.0.1:1").Key}, "untrusted"},
		{"another address", Files{CA: set.Master().CA, Cert: set.Assistant("127.0.0.2:1").Cert, Key: set.Assistant("127.0.0.2:1").Key}, "wrong_identity"},
	}
	for _, tc := range cases {
		srv := serve(t, ServerCredentials(reloader(t, tc.f, nil), masterName, quiet, nil), nil)
		if err := call(t, srv.addr, master); err == nil {
			t.Errorf("%s: the master's call got through", tc.name)
		}
		if !eventually(func() bool { return refused(mm, sideMaster, tc.reason) >= 1 }) {
			t.Errorf("%s: refused_peers_total{side=master,reason=%q} = 0, want >= 1", tc.name, tc.reason)
		}
		select {
		case <-srv.calls:
			t.Errorf("%s: a call reached the impostor", tc.name)
		default:
		}
	}
	// The genuine one is accepted.
	srv := serve(t, ServerCredentials(reloader(t, set.Assistant("127.0.0.1:1"), nil), masterName, quiet, nil), nil)
	if err := call(t, srv.addr, master); err != nil {
		t.Fatalf("the listed assistant: %v", err)
	}
}

// Certificates rotate without a restart: after a new CA and certificates
// are written, the running server and client pick them up (Run notices
// the changed files); a client still holding the old ones is refused.
func TestRotationWithoutRestart(t *testing.T) {
	set := issue(t, "127.0.0.1:1")
	sm, cm := NewMetrics(prometheus.NewRegistry()), NewMetrics(prometheus.NewRegistry())
	sr, cr := reloader(t, set.Assistant("127.0.0.1:1"), sm), reloader(t, set.Master(), cm)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{}, 2)
	go func() { sr.Run(ctx, 20*time.Millisecond, nil); done <- struct{}{} }()
	go func() { cr.Run(ctx, 20*time.Millisecond, nil); done <- struct{}{} }()
	defer func() { cancel(); <-done; <-done }()
	srv := serve(t, ServerCredentials(sr, masterName, quiet, sm), sm)
	master := ClientCredentials(cr, "127.0.0.1", quiet, cm)
	if err := call(t, srv.addr, master); err != nil {
		t.Fatal(err)
	}
	// Keep a copy of the old master files, then issue everything anew.
	oldDir := t.TempDir()
	old := Files{CA: copyFile(t, set.Master().CA, oldDir), Cert: copyFile(t, set.Master().Cert, oldDir), Key: copyFile(t, set.Master().Key, oldDir)}
	oldExpiry := cr.NotAfter()
	if _, err := Issue(set, IssueOptions{MasterName: masterName, Assistants: []string{"127.0.0.1:1"}, Validity: 48 * time.Hour, Force: true}); err != nil {
		t.Fatal(err)
	}
	testwait.Until(t, "the new certificates loaded", 5*time.Second, 10*time.Millisecond, func() bool {
		return cr.NotAfter().After(oldExpiry.Add(time.Hour)) && !sr.NotAfter().Before(oldExpiry.Add(time.Hour))
	})
	if err := call(t, srv.addr, master); err != nil {
		t.Fatalf("after rotation: %v", err)
	}
	if got := testutil.ToFloat64(cm.Expiry.WithLabelValues("own")); int64(got) != cr.NotAfter().Unix() {
		t.Errorf("expiry gauge %v, want %v", got, cr.NotAfter().Unix())
	}
	if err := call(t, srv.addr, ClientCredentials(reloader(t, old, nil), "127.0.0.1", quiet, nil)); err == nil {
		t.Error("a client with the old CA's certificate got through after rotation")
	}
	// Half-written files (a certificate without its key) do not load: the
	// previous set stays.
	if err := os.WriteFile(set.Master().Key, []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := cr.Reload(); err == nil {
		t.Error("Reload of a garbage key: no error")
	}
	if err := call(t, srv.addr, master); err != nil {
		t.Fatalf("after a failed reload: %v", err)
	}
}

// Issue writes private files, keeps existing keys (issuing a missing
// certificate for an existing key), and replaces them only when forced.
func TestIssueKeepsKeys(t *testing.T) {
	set := FileSet{Dir: filepath.Join(t.TempDir(), "certs")}
	opts := IssueOptions{MasterName: masterName, Assistants: []string{"127.0.0.1:50052", "[::1]:50053", "node-3.example:50052"}, Validity: time.Hour}
	first, err := Issue(set, opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(first) != 5 || slices.ContainsFunc(first, func(i Issued) bool { return i.Kept }) {
		t.Fatalf("first issue: %+v, want 5 new", first)
	}
	entries, err := os.ReadDir(set.Dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		fi, _ := e.Info()
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want 0600", e.Name(), fi.Mode().Perm())
		}
	}
	if fi, _ := os.Stat(set.Dir); fi.Mode().Perm() != 0o700 {
		t.Errorf("directory mode %v, want 0700", fi.Mode().Perm())
	}
	key := read(t, set.Master().Key)
	if err := os.Remove(set.Master().Cert); err != nil {
		t.Fatal(err)
	}
	second, err := Issue(set, opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, is := range second {
		if want := is.What != "master"; is.Kept != want {
			t.Errorf("second issue: %s kept=%v, want %v", is.What, is.Kept, want)
		}
	}
	if read(t, set.Master().Key) != key {
		t.Error("the master's key was replaced without --force")
	}
	reloader(t, set.Master(), nil) // the new certificate matches the kept key
	opts.Force = true
	if _, err := Issue(set, opts); err != nil {
		t.Fatal(err)
	}
	if read(t, set.Master().Key) == key {
		t.Error("--force kept the master's key")
	}
	// The SANs are the addresses.
	for id, want := range map[string]string{"127.0.0.1:50052": "127.0.0.1", "[::1]:50053": "::1", "node-3.example:50052": "node-3.example"} {
		r := reloader(t, set.Assistant(id), nil)
		if err := r.cur.Load().leaf.VerifyHostname(want); err != nil {
			t.Errorf("%s: %v", id, err)
		}
	}
}

// eventually polls cond for up to 5 s.
func eventually(cond func() bool) bool {
	ok, _ := testwait.Poll(5*time.Second, 5*time.Millisecond, func() (bool, string) { return cond(), "" })
	return ok
}

func read(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func copyFile(t *testing.T, src, dir string) string {
	t.Helper()
	dst := filepath.Join(dir, filepath.Base(src))
	if err := os.WriteFile(dst, []byte(read(t, src)), 0o600); err != nil {
		t.Fatal(err)
	}
	return dst
}

// clientNoCert trusts the CA but offers no certificate.
func clientNoCert(set FileSet) *tls.Config {
	r, _ := NewReloader(set.Master(), quiet, nil)
	c := ClientConfig(r, "127.0.0.1")
	c.GetClientCertificate = nil
	return c
}

// impostorClient offers f's certificate and accepts any server, as an
// attacker would.
func impostorClient(t *testing.T, f Files) *tls.Config {
	t.Helper()
	c, err := tls.LoadX509KeyPair(f.Cert, f.Key)
	if err != nil {
		t.Fatal(err)
	}
	// GetClientCertificate, not Certificates: Go's client sends a
	// certificate from Certificates only if its issuer is among the CAs
	// the server names, which another CA's is only when both CAs were
	// made in the same second (their names carry the time).
	return &tls.Config{GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &c, nil },
		InsecureSkipVerify: true, NextProtos: []string{"h2"}}
}

// issueLeafFromCA issues, with set's CA, a client certificate naming name
// into f.
func issueLeafFromCA(t *testing.T, set FileSet, f Files, name string) {
	t.Helper()
	crtPath, keyPath := set.CA()
	ca, err := readCert(crtPath)
	if err != nil {
		t.Fatal(err)
	}
	key, err := readKey(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	is := &issuer{ca: ca, key: key, now: time.Now(), validity: time.Hour}
	if _, err := is.leaf("x", f, clientTemplate(name)); err != nil {
		t.Fatal(err)
	}
}

// A value on Run's channel (SIGHUP in the daemons) reloads at once, long
// before the next periodic check.
func TestReloadOnSignal(t *testing.T) {
	set := issue(t, "127.0.0.1:1")
	r := reloader(t, set.Master(), nil)
	before := r.NotAfter()
	ctx, cancel := context.WithCancel(context.Background())
	hup := make(chan os.Signal, 1)
	done := make(chan struct{})
	go func() { r.Run(ctx, time.Hour, hup); close(done) }()
	defer func() { cancel(); <-done }()
	if _, err := Issue(set, IssueOptions{MasterName: masterName, Validity: 72 * time.Hour, Force: true}); err != nil {
		t.Fatal(err)
	}
	hup <- syscall.SIGHUP
	if !eventually(func() bool { return r.NotAfter().After(before.Add(24 * time.Hour)) }) {
		t.Fatal("not reloaded after the signal")
	}
}
