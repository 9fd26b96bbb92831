package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/crawlmaster/crawlmaster/internal/pgtest"
)

// seedConfig writes an rpc.yaml with extra (a fetch section, say) and
// returns its path.
func seedConfig(t *testing.T, extra string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "rpc.yaml")
	body := "rpc:\n  manager: {address: 127.0.0.1, port: 1}\n  assistant:\n    - {address: 127.0.0.1, port: 2, workers: 1}\n" + extra
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func seedFile(t *testing.T, name, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// runMaster runs a master command, returning stdout and stderr together.
func runMaster(t *testing.T, args ...string) string {
	t.Helper()
	var out, errOut bytes.Buffer
	if err := run(args, &out, &errOut); err != nil {
		t.Fatalf("master %v: %v\n%s%s", args, err, out.String(), errOut.String())
	}
	return out.String() + errOut.String()
}

// `master enqueue` and `master import-tranco` refuse the hosts the
// fetcher refuses (special-purpose IP literals, localhost) line by line,
// unless rpc.yaml's fetch.allowed_networks lists them; a line with
// userinfo is reported without the credentials.
func TestSeedCommandsRefuseSpecialHosts(t *testing.T) {
	if testing.Short() {
		t.Skip("needs PostgreSQL: skipped in -short mode")
	}
	t.Setenv("DATABASE_URL", pgtest.NewDatabase(t))
	strict := seedConfig(t, "")
	urls := seedFile(t, "urls.txt", "http://example.com/\nhttp://169.254.169.254/latest/meta-data/\nhttp://[::1]/\n"+
		"http://[::ffff:127.0.0.1]/\nhttp://localhost/\nhttp://100.64.0.1/\nhttp://alice:s3cret@example.org/\n")
	out := runMaster(t, "enqueue", "--config", strict, urls)
	for _, want := range []string{
		"line 2: blocked address 169.254.169.254: link-local (RFC 3927) 169.254.0.0/16",
		"line 3: blocked address ::1: loopback (RFC 4291) ::1/128",
		"line 4: blocked address ::ffff:127.0.0.1: IPv4-mapped form of loopback",
		"line 5: blocked host localhost",
		"line 6: blocked address 100.64.0.1: shared address space (RFC 6598)",
		`line 7: normalize url "http://xxxxx@example.org/": userinfo not allowed`,
		"1 new URLs", "6 bad lines",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("enqueue output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "s3cret") || strings.Contains(out, "alice") {
		t.Errorf("enqueue output shows the userinfo:\n%s", out)
	}

	list := seedFile(t, "top.csv", "1,example.net\n2,127.0.0.1\n3,10.1.2.3\n4,www.localhost\n")
	out = runMaster(t, "import-tranco", "--config", strict, list)
	for _, want := range []string{"line 2: blocked address 127.0.0.1", "line 3: blocked address 10.1.2.3: private-use (RFC 1918)",
		"line 4: blocked host www.localhost", "1 new URLs", "3 bad lines"} {
		if !strings.Contains(out, want) {
			t.Errorf("import-tranco output lacks %q:\n%s", want, out)
		}
	}

	// The allow-list lifts the refusal for its networks only.
	open := seedConfig(t, "fetch:\n  allowed_networks: ['127.0.0.0/8', '10.0.0.0/8']\n")
	out = runMaster(t, "import-tranco", "--config", open, list)
	if !strings.Contains(out, "3 new URLs") || !strings.Contains(out, "0 bad lines") {
		t.Errorf("import-tranco with 127.0.0.0/8 and 10.0.0.0/8 allowed:\n%s", out)
	}
	out = runMaster(t, "enqueue", "--config", open, urls)
	if !strings.Contains(out, "2 new URLs") || !strings.Contains(out, "4 bad lines") || !strings.Contains(out, "line 2: blocked") {
		t.Errorf("enqueue with 127.0.0.0/8 allowed (localhost and the mapped loopback pass):\n%s", out)
	}
}
