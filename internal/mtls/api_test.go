package mtls

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc/credentials"
)

// issueClient issues the API client name's certificate in set.
func issueClient(t *testing.T, set FileSet, name string) Files {
	t.Helper()
	if _, err := IssueClient(set, ClientOptions{Name: name, Validity: time.Hour}); err != nil {
		t.Fatal(err)
	}
	return set.Client(name)
}

// apiClient is a client of the master's API with f's files.
func apiClient(t *testing.T, f Files) credentials.TransportCredentials {
	t.Helper()
	c, err := APIClientConfig(f, masterName)
	if err != nil {
		t.Fatal(err)
	}
	return credentials.NewTLS(c)
}

// The master's API lets an API client in (which checks the master's
// certificate against the CA and tls.master_name) and refuses every other
// client: none, another CA's API client, the master's own certificate, an
// assistant's, a client certificate of the right CA that is not an API
// client's. Each refusal is counted by reason and no call reaches the
// service.
func TestAPIAcceptsOnlyAPIClients(t *testing.T) {
	set := issue(t, "127.0.0.1:1")
	other := issue(t)
	sm := NewMetrics(prometheus.NewRegistry())
	srv := serve(t, APIServerCredentials(reloader(t, set.Master(), sm), quiet, sm), sm)
	if err := call(t, srv.addr, apiClient(t, issueClient(t, set, "indexer"))); err != nil {
		t.Fatalf("the API client's call: %v", err)
	}
	<-srv.calls

	tmp := t.TempDir()
	plainClient := Files{CA: set.Master().CA, Cert: filepath.Join(tmp, "c.crt"), Key: filepath.Join(tmp, "c.key")}
	issueLeafFromCA(t, set, plainClient, "someone")
	cases := []struct {
		name   string
		creds  credentials.TransportCredentials
		reason string
	}{
		{"no certificate", credentials.NewTLS(&tls.Config{InsecureSkipVerify: true, NextProtos: []string{"h2"}}), "no_certificate"},
		{"another CA's API client", credentials.NewTLS(impostorClient(t, issueClient(t, other, "indexer"))), "untrusted"},
		{"the master's certificate", credentials.NewTLS(impostorClient(t, set.Master())), "wrong_identity"},
		{"an assistant's certificate", credentials.NewTLS(impostorClient(t, set.Assistant("127.0.0.1:1"))), "wrong_identity"},
		{"right CA, not an API client", credentials.NewTLS(impostorClient(t, plainClient)), "wrong_identity"},
	}
	for _, tc := range cases {
		before := refused(sm, sideAPI, tc.reason)
		if err := call(t, srv.addr, tc.creds); err == nil {
			t.Errorf("%s: call got through", tc.name)
		}
		if !eventually(func() bool { return refused(sm, sideAPI, tc.reason) > before }) {
			t.Errorf("%s: refused_peers_total{side=api,reason=%q} did not grow", tc.name, tc.reason)
		}
	}
	select {
	case <-srv.calls:
		t.Error("a refused client's call reached the service")
	default:
	}
}

// An assistant refuses an API client's certificate: API clients cannot
// pose as the master.
func TestAssistantRefusesAPIClients(t *testing.T) {
	set := issue(t, "127.0.0.1:1")
	sm := NewMetrics(prometheus.NewRegistry())
	srv := serve(t, ServerCredentials(reloader(t, set.Assistant("127.0.0.1:1"), sm), masterName, quiet, sm), sm)
	api := issueClient(t, set, masterName) // even one called as the master is
	if err := call(t, srv.addr, ClientCredentials(reloader(t, api, nil), "127.0.0.1", quiet, nil)); err == nil {
		t.Fatal("an API client's certificate got through to an assistant")
	}
	if !eventually(func() bool { return refused(sm, sideAssistant, "wrong_identity") >= 1 }) {
		t.Error("refused_peers_total{side=assistant,reason=wrong_identity} = 0")
	}
}

// IssueClient needs the CA, writes private files, keeps the key on a
// second run and replaces it with Force; a bad name is refused. The
// master's certificate serves too, and one of the older layout (client
// authentication only) is issued again for its key.
func TestIssueClient(t *testing.T) {
	empty := FileSet{Dir: t.TempDir()}
	if _, err := IssueClient(empty, ClientOptions{Name: "x", Validity: time.Hour}); err == nil || !strings.Contains(err.Error(), "master certs") {
		t.Fatalf("without a CA: %v, want an error naming `master certs`", err)
	}
	set := issue(t)
	for _, bad := range []string{"", "../x", "-x", "a b", strings.Repeat("a", 65)} {
		if _, err := IssueClient(set, ClientOptions{Name: bad, Validity: time.Hour}); err == nil {
			t.Errorf("name %q accepted", bad)
		}
	}
	is, err := IssueClient(set, ClientOptions{Name: "indexer-1", Validity: time.Hour})
	if err != nil || is.Kept {
		t.Fatalf("IssueClient: %+v, %v", is, err)
	}
	f := set.Client("indexer-1")
	if filepath.Base(f.Cert) != "client-indexer-1.crt" || filepath.Base(f.Key) != "client-indexer-1.key" {
		t.Errorf("files %+v", f)
	}
	for _, p := range []string{f.Cert, f.Key} {
		if st, err := os.Stat(p); err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v, %v; want mode 0600", p, st, err)
		}
	}
	crt, err := readCert(f.Cert)
	if err != nil {
		t.Fatal(err)
	}
	if crt.Subject.CommonName != "indexer-1" || !slices.Equal(crt.Subject.OrganizationalUnit, []string{APIClientOU}) ||
		len(crt.DNSNames) != 0 || !slices.Equal(crt.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}) {
		t.Errorf("client certificate: CN %q OU %v DNS %v usages %v", crt.Subject.CommonName, crt.Subject.OrganizationalUnit, crt.DNSNames, crt.ExtKeyUsage)
	}
	key := read(t, f.Key)
	if is, err := IssueClient(set, ClientOptions{Name: "indexer-1", Validity: time.Hour}); err != nil || !is.Kept || read(t, f.Key) != key {
		t.Errorf("second run: %+v, %v; want kept, same key", is, err)
	}
	if is, err := IssueClient(set, ClientOptions{Name: "indexer-1", Validity: time.Hour, Force: true}); err != nil || is.Kept || read(t, f.Key) == key {
		t.Errorf("--force: %+v, %v; want a new key", is, err)
	}

	m := reloader(t, set.Master(), nil)
	if !m.ServerAuth() {
		t.Error("the master's certificate is not for server authentication")
	}
	// An older master certificate: client authentication only.
	caCrt, caKey := set.CA()
	ca, err := readCert(caCrt)
	if err != nil {
		t.Fatal(err)
	}
	cakey, err := readKey(caKey)
	if err != nil {
		t.Fatal(err)
	}
	old := &issuer{ca: ca, key: cakey, now: time.Now(), validity: time.Hour, force: true}
	if _, err := old.leaf("master", set.Master(), clientTemplate(masterName)); err != nil {
		t.Fatal(err)
	}
	if reloader(t, set.Master(), nil).ServerAuth() {
		t.Fatal("test setup: the old-layout certificate serves")
	}
	mkey := read(t, set.Master().Key)
	oldCrt := read(t, set.Master().Cert)
	issued, err := Issue(set, IssueOptions{MasterName: masterName, Validity: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if issued[1].Kept || read(t, set.Master().Key) != mkey || read(t, set.Master().Cert) == oldCrt {
		t.Errorf("old-layout master certificate: %+v; want issued again with the same key", issued[1])
	}
	if !reloader(t, set.Master(), nil).ServerAuth() || !bytes.Contains([]byte(read(t, set.Master().Cert)), []byte("CERTIFICATE")) {
		t.Error("the master's certificate issued again does not serve")
	}
}
