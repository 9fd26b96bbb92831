package master_test

import (
	"context"
	"net/netip"
	"strings"
	"testing"

	"github.com/crawlmaster/crawlmaster/crawl/netguard"
	"github.com/crawlmaster/crawlmaster/master"
	"github.com/crawlmaster/crawlmaster/master/frontier"
	"github.com/crawlmaster/crawlmaster/master/store"
)

// memInserter keeps what an import would store.
type memInserter struct{ urls []string }

func (m *memInserter) Insert(_ context.Context, _ frontier.Crawl, urls []store.NewURL, _ store.ImportSource) (int64, error) {
	for _, u := range urls {
		m.urls = append(m.urls, u.URL)
	}
	return int64(len(urls)), nil
}

func (m *memInserter) Analyze(context.Context) error { return nil }

// special are hosts the fetcher would refuse to dial, as enqueue lines.
var special = []string{
	"http://127.0.0.1/", "http://127.1.2.3:8080/x", "http://169.254.169.254/latest/meta-data/",
	"http://[::1]/", "http://[::ffff:127.0.0.1]/", "http://[::ffff:7f00:1]/", "http://[64:ff9b::a9fe:a9fe]/",
	"http://[64:ff9b:1::1]/", "http://100.64.0.1/", "http://0.0.0.0/", "http://0.1.2.3/", "http://10.0.0.1/",
	"http://172.16.0.1/", "http://192.168.1.1/", "http://[fc00::1]/", "http://[fd00:ec2::254]/",
	"http://[fe80::1]/", "http://224.0.0.1/", "http://255.255.255.255/", "http://240.0.0.1/",
	"http://192.0.2.1/", "http://[2001:db8::1]/", "http://[2002:7f00:1::]/", "http://[::]/",
	"http://localhost/", "http://LOCALHOST.:8080/", "https://a.b.localhost/",
}

func enqueue(t *testing.T, text string, g *netguard.Guard) (master.ImportReport, []string) {
	t.Helper()
	ins := &memInserter{}
	rep, err := master.Enqueue(context.Background(), ins, frontier.Crawl{}, strings.NewReader(text), 0, g)
	if err != nil {
		t.Fatal(err)
	}
	return rep, ins.urls
}

// TestEnqueueRefusesSpecialHosts: by default (no network allowed) every
// special-purpose IP literal and localhost name is refused with its line
// and range named; public hosts pass. Allowing networks lifts the
// refusal for them only.
func TestEnqueueRefusesSpecialHosts(t *testing.T) {
	lines := append([]string{"http://example.com/", "http://93.184.215.14/", "http://[2606:2800:21f:cb07:6820:80da:af6b:8b2c]/",
		"http://localhost.example.com/"}, special...)
	for _, u := range special {
		rep, stored := enqueue(t, "http://example.com/\n"+u+"\n", nil)
		if len(stored) != 1 || rep.Bad != 1 || len(rep.FirstBad) != 1 {
			t.Errorf("%s: stored %v, %d bad", u, stored, rep.Bad)
			continue
		}
		b := rep.FirstBad[0]
		if b.Line != 2 || !strings.Contains(b.Reason, "blocked ") || !strings.Contains(b.Reason, "fetch.allowed_networks") {
			t.Errorf("%s: %s", u, b)
		}
	}
	rep, stored := enqueue(t, strings.Join(lines, "\n"), nil)
	if len(stored) != 4 || rep.Bad != len(special) {
		t.Errorf("stored %v, %d bad", stored, rep.Bad)
	}
	if b := rep.FirstBad[0].String(); b != `line 5: blocked address 127.0.0.1: loopback (RFC 1122) 127.0.0.0/8, `+
		`a special-purpose range not in fetch.allowed_networks: "http://127.0.0.1/"` {
		t.Errorf("message: %s", b)
	}

	// Loopback allowed (as for tests and websim): 127/8, its mapped and
	// NAT64 forms and localhost pass; ::1 and the rest do not.
	g := netguard.New([]netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")})
	_, stored = enqueue(t, strings.Join(special, "\n"), g)
	want := []string{"http://127.0.0.1/", "http://127.1.2.3:8080/x", "http://[::ffff:127.0.0.1]/", "http://[::ffff:127.0.0.1]/",
		"http://localhost/", "http://localhost:8080/", "https://a.b.localhost/"}
	if strings.Join(stored, " ") != strings.Join(want, " ") {
		t.Errorf("127.0.0.0/8 allowed: stored %v\nwant %v", stored, want)
	}
	// Other spellings of loopback are not canonical, hence invalid, or
	// normalise to a refused form.
	rep, stored = enqueue(t, "http://127.1/\nhttp://2130706433/\nhttp://0x7f.0.0.1/\nhttp://0177.0.0.1/\n"+
		"http://127.0.0.1./\nhttp://[0:0:0:0:0:ffff:7f00:1]/\nhttp://[::127.0.0.1]/\n", nil)
	if len(stored) != 0 || rep.Bad != 7 {
		t.Errorf("obfuscated loopback: stored %v, %d bad", stored, rep.Bad)
	}

	g = netguard.New([]netip.Prefix{netip.MustParsePrefix("::1/128"), netip.MustParsePrefix("169.254.0.0/16")})
	_, stored = enqueue(t, "http://[::1]/\nhttp://localhost/\nhttp://169.254.169.254/\nhttp://127.0.0.1/\n", g)
	if strings.Join(stored, " ") != "http://[::1]/ http://localhost/ http://169.254.169.254/" {
		t.Errorf("::1/128 and 169.254.0.0/16 allowed: stored %v", stored)
	}
}

// TestImportTrancoRefusesSpecialHosts: a Tranco entry that is a special
// IP address or a localhost name is skipped, its line named.
func TestImportTrancoRefusesSpecialHosts(t *testing.T) {
	list := "1,example.com\n2,127.0.0.1\n3,169.254.169.254\n4,app.localhost\n5,100.64.1.1\n6,example.org\n"
	ins := &memInserter{}
	rep, err := master.ImportTranco(context.Background(), ins, strings.NewReader(list), master.ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(ins.urls, " ") != "https://example.com/ https://example.org/" || rep.Bad != 4 {
		t.Fatalf("stored %v, %d bad", ins.urls, rep.Bad)
	}
	for i, b := range rep.FirstBad {
		if b.Line != i+2 || !strings.Contains(b.Reason, "blocked ") {
			t.Errorf("bad line %d: %s", i, b)
		}
	}
	ins = &memInserter{}
	g := netguard.New([]netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("100.64.0.0/10")})
	if _, err := master.ImportTranco(context.Background(), ins, strings.NewReader(list), master.ImportOptions{Scheme: "http", Guard: g}); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(ins.urls, " "); got != "http://example.com/ http://127.0.0.1/ http://app.localhost/ http://100.64.1.1/ http://example.org/" {
		t.Errorf("allowed: stored %s", got)
	}
}

// TestEnqueueRedactsUserinfo: a rejected line with userinfo is reported
// without its credentials, whatever the reason (userinfo itself, a
// blocked host, an over-long line).
func TestEnqueueRedactsUserinfo(t *testing.T) {
	long := "http://alice:s3cret@example.com/" + strings.Repeat("a", 20<<10)
	rep, stored := enqueue(t, "http://alice:s3cret@example.com/\nhttp://alice:s3cret@127.0.0.1/\n"+long+"\n", nil)
	if len(stored) != 0 || len(rep.FirstBad) != 3 {
		t.Fatalf("stored %v, bad %v", stored, rep.FirstBad)
	}
	for _, b := range rep.FirstBad {
		if s := b.String(); strings.Contains(s, "alice") || strings.Contains(s, "s3cret") || !strings.Contains(s, "xxxxx@") {
			t.Errorf("not redacted: %s", s)
		}
	}
}
