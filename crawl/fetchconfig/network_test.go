package fetchconfig

import (
	"net/netip"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func TestParseNetwork(t *testing.T) {
	for in, want := range map[string]string{
		"127.0.0.0/8": "127.0.0.0/8", " 10.1.2.3/32 ": "10.1.2.3/32", "::1/128": "::1/128",
		"fd00::/8": "fd00::/8", "0.0.0.0/0": "0.0.0.0/0", "::/0": "::/0",
	} {
		n, err := ParseNetwork(in)
		if err != nil || n.String() != want {
			t.Errorf("ParseNetwork(%q) = %v, %v; want %s", in, n, err, want)
		}
	}
	for in, want := range map[string]string{
		"127.0.0.1/8":  `network "127.0.0.1/8": has host bits set: did you mean "127.0.0.0/8"?`,
		"10.1.2.3":     `network "10.1.2.3": want a CIDR such as "10.0.0.0/8"; for this one address write "10.1.2.3/32"`,
		"::1":          `for this one address write "::1/128"`,
		"10.0.0.0/33":  `network "10.0.0.0/33": want a CIDR`,
		"fe80::/10%lo": "want a CIDR",
		"localhost/8":  "want a CIDR",
		"":             "want a CIDR",
	} {
		if _, err := ParseNetwork(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseNetwork(%q) = %v, want %q", in, err, want)
		}
	}
}

func TestAllowedNetworksYAML(t *testing.T) {
	cfg := Default()
	src := "allowed_networks: [127.0.0.0/8, '::1/128', \"10.0.0.0/8\"]\n"
	if err := yaml.Unmarshal([]byte(src), &cfg); err != nil {
		t.Fatal(err)
	}
	want := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128"), netip.MustParsePrefix("10.0.0.0/8")}
	got := cfg.AllowedPrefixes()
	if len(got) != len(want) {
		t.Fatalf("AllowedPrefixes() = %v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("AllowedPrefixes()[%d] = %v, want %v", i, got[i], want[i])
		}
	}
	if err := cfg.Validate(); err != nil {
		t.Error(err)
	}
	out, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var again Config
	if err := yaml.Unmarshal(out, &again); err != nil || len(again.AllowedNetworks) != 3 || again.AllowedNetworks[1] != cfg.AllowedNetworks[1] {
		t.Errorf("round trip: %v %+v\n%s", err, again.AllowedNetworks, out)
	}

	err = yaml.Unmarshal([]byte("allowed_networks:\n  - 127.0.0.1/8\n  - [1]\n  - 8\n  - localhost\n"), &cfg)
	wantErrs := []string{
		`line 2: column 5: network "127.0.0.1/8": has host bits set: did you mean "127.0.0.0/8"?`,
		`line 3: column 5: expected a network such as "10.0.0.0/8", got a list`,
		`line 4: column 5: expected a network such as "10.0.0.0/8", got the number 8`,
		`line 5: column 5: network "localhost": want a CIDR such as "10.0.0.0/8" or "fd00::/8"`,
	}
	te, ok := err.(*yaml.TypeError)
	if !ok || strings.Join(te.Errors, "\n") != strings.Join(wantErrs, "\n") {
		t.Errorf("got %v, want\n%s", err, strings.Join(wantErrs, "\n"))
	}
}

func TestValidateAllowedNetworks(t *testing.T) {
	cfg := Default()
	cfg.AllowedNetworks = []Network{{netip.MustParsePrefix("127.0.0.0/8")}, {netip.MustParsePrefix("10.0.0.1/8")}, {}}
	err := cfg.Validate()
	for _, want := range []string{
		`allowed_networks[1]: network "10.0.0.1/8": has host bits set: did you mean "10.0.0.0/8"?`,
		`allowed_networks[2]: network "invalid Prefix": not a valid CIDR`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v, want %q", err, want)
		}
	}
	if err != nil && strings.Contains(err.Error(), "allowed_networks[0]") {
		t.Errorf("Validate() = %v: the first network is valid", err)
	}
}

// FuzzParseNetwork: ParseNetwork never panics; what it accepts is a valid,
// masked prefix without zone whose String parses back to itself, and
// YAML round-trips it.
func FuzzParseNetwork(f *testing.F) {
	for _, s := range []string{"127.0.0.0/8", "::1/128", "10.1.2.3", "127.0.0.1/8", "fe80::/10%lo", "::ffff:127.0.0.0/104",
		"64:ff9b::/96", " 0.0.0.0/0 ", "1.2.3.4/33", "", "/", "1.2.3.4/-1", "01.2.3.4/32"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseNetwork(s)
		if err != nil {
			if !strings.Contains(err.Error(), "network ") {
				t.Errorf("ParseNetwork(%q): error %q does not name the network", s, err)
			}
			return
		}
		p := n.Prefix
		if !p.IsValid() || p != p.Masked() || p.Addr().Zone() != "" {
			t.Fatalf("ParseNetwork(%q) = %v: not a valid masked prefix", s, p)
		}
		again, err := ParseNetwork(n.String())
		if err != nil || again != n {
			t.Fatalf("ParseNetwork(%q) = %v, reparsed %v, %v", s, n, again, err)
		}
		out, err := yaml.Marshal(struct{ N Network }{n})
		if err != nil {
			t.Fatal(err)
		}
		var back struct{ N Network }
		if err := yaml.Unmarshal(out, &back); err != nil || back.N != n {
			t.Fatalf("YAML round trip of %v: %q gave %v, %v", n, out, back.N, err)
		}
	})
}
