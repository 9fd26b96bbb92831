package urlnorm_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/crawlmaster/crawlmaster/crawl/urlnorm"
)

func TestNormalize(t *testing.T) {
	cases := []struct{ in, want string }{
		{"http://example.com", "http://example.com/"},
		{"HTTP://Example.COM/Path", "http://example.com/Path"},
		{"https://example.com:443/a", "https://example.com/a"},
		{"http://example.com:80/a", "http://example.com/a"},
		{"http://example.com:443/a", "http://example.com:443/a"},
		{"https://example.com:8443/a", "https://example.com:8443/a"},
		{"http://example.com:0080/", "http://example.com/"},
		{"http://example.com:/", "http://example.com/"},
		{"http://example.com/a#frag", "http://example.com/a"},
		{"http://example.com/a?", "http://example.com/a"},
		{"http://example.com/a/./b/../c", "http://example.com/a/c"},
		{"http://example.com/../../a", "http://example.com/a"},
		{"http://example.com/a/b/..", "http://example.com/a/"},
		{"http://example.com/a/%2e%2E/b", "http://example.com/b"},
		{"http://example.com/%7euser/%41", "http://example.com/~user/A"},
		{"http://example.com/a%2fb%3a", "http://example.com/a%2Fb%3A"},
		{"http://example.com/a b", "http://example.com/a%20b"},
		{"http://example.com/ü", "http://example.com/%C3%BC"},
		{"http://example.com/?q=a b&x=%7e&y=%zz", "http://example.com/?q=a%20b&x=~&y=%25zz"},
		{"http://example.com/?b=2&a=1", "http://example.com/?a=1&b=2"},
		{"http://example.com/?b=2&a=1&b=1&&a", "http://example.com/?a=1&a&b=2&b=1"},
		{"http://example.com/?x=1&SID=abc&PHPSESSID=def&sessionid=g", "http://example.com/?x=1"},
		{"http://example.com/?sid=abc", "http://example.com/"},
		{"http://example.com/shop;jsessionid=A1B2/cart;JSESSIONID=x?sid=1", "http://example.com/shop/cart"},
		{"http://example.com/a;jsessionid=1;v=2/b", "http://example.com/a;v=2/b"},
		{"http://example.com/?side=1&sidx=2", "http://example.com/?side=1&sidx=2"},
		{"http://Bücher.example/", "http://xn--bcher-kva.example/"},
		{"http://xn--bcher-kva.example/", "http://xn--bcher-kva.example/"},
		{"http://EXAMPLE.com./", "http://example.com/"},
		{"http://%41.com/", ""}, // net/url rejects escapes of ASCII in hosts
		{"http://1.2.3/", ""},
		{"http://0x7f.1/", ""},
		{"http://a.0x/", ""},
		{"http://a.b0/", "http://a.b0/"},
		{"http://[2001:DB8::0001]:8080/", "http://[2001:db8::1]:8080/"},
		{"http://192.168.000.1/", ""}, // leading zeros: ambiguous octal, rejected
		{"http://10.0.0.1/x", "http://10.0.0.1/x"},
		{"  http://example.com/x \n", "http://example.com/x"},
		{"http://under_score.example.com/", "http://under_score.example.com/"},
		{"http://example.com//a//b", "http://example.com//a//b"},
	}
	for _, c := range cases {
		got, err := urlnorm.Normalize(c.in)
		if c.want == "" {
			if err == nil {
				t.Errorf("Normalize(%q) = %q, want error", c.in, got)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("Normalize(%q) = %q, %v; want %q", c.in, got, err, c.want)
			continue
		}
		if again, err := urlnorm.Normalize(got); again != got || err != nil {
			t.Errorf("not idempotent: %q -> %q, %v", got, again, err)
		}
	}
}

func TestNormalizeErrors(t *testing.T) {
	cases := map[string]string{
		"":                           "empty",
		"example.com/a":              "not absolute",
		"/a/b":                       "not absolute",
		"ftp://example.com/":         "scheme",
		"javascript:alert(1)":        "scheme",
		"http:example.com":           "missing",
		"http:///a":                  "empty host",
		"http://user@/":              "userinfo",
		"http://user:pw@example.com": "userinfo",
		"http://example.com:99999/":  "port",
		"http://example.com:0/":      "port",
		"http://exa mple.com/":       "invalid",
		"http://a..b/":               "empty label",
		"http://a/%zz":               "escape",
		"http://[::1%25eth0]/":       "IPv6",
		"http://" + strings.Repeat("a", 64) + ".com/":            "63",
		"http://a.com/" + strings.Repeat("x", urlnorm.MaxLength): "longer than the 8192 allowed",
	}
	for in, want := range cases {
		got, err := urlnorm.Normalize(in)
		if err == nil {
			t.Errorf("Normalize(%q) = %q, want error containing %q", in, got, want)
			continue
		}
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Normalize(%q) error %q does not mention %q", in, err, want)
		}
	}
}

func TestHostAndSite(t *testing.T) {
	hosts := map[string]string{
		"http://WWW.Example.com/a":       "www.example.com",
		"https://example.com:443/":       "example.com",
		"http://example.com:8080/":       "example.com:8080",
		"http://[::1]:8080/":             "[::1]:8080",
		"http://Bücher.example/":         "xn--bcher-kva.example",
		"https://sub.example.co.uk/path": "sub.example.co.uk",
	}
	for in, want := range hosts {
		if got, err := urlnorm.Host(in); got != want || err != nil {
			t.Errorf("Host(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := urlnorm.Host("mailto:x@y"); err == nil {
		t.Error("Host accepted mailto:")
	}
	sites := map[string]string{
		"www.example.com":       "example.com",
		"WWW.Example.COM:8080":  "example.com",
		"example.com.":          "example.com",
		"a.b.example.com":       "example.com",
		"shop.example.co.uk":    "example.co.uk",
		"www.example.co.uk":     "example.co.uk",
		"co.uk":                 "co.uk", // a public suffix is its own site
		"foo.blogspot.com":      "foo.blogspot.com",
		"www.w42-maple.test":    "w42-maple.test", // unlisted TLD: the default rule "*"
		"localhost":             "localhost",
		"[::1]:8080":            "::1",
		"127.0.0.1:80":          "127.0.0.1",
		"xn--bcher-kva.example": "xn--bcher-kva.example",
		"":                      "",
	}
	for in, want := range sites {
		if got := urlnorm.Site(in); got != want {
			t.Errorf("Site(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzNormalize(f *testing.F) {
	for _, s := range []string{
		"http://example.com", "HTTPS://A.B:443/./x/../y?q=%7e#f", "http://Bücher.example/ü?ä=ö",
		"http://[::1]:80/", "http://1.2.3.4:8080", "http://a/%2e%2e/%2F", "http://a/?%", "http://x.y/a b\\c",
		"http://xn--nxasmq6b.com/", "http://ａｂｃ.com/", "http://a.b/;p?q=1&q=2", "http://a_b.c/",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out, err := urlnorm.Normalize(in)
		if err != nil {
			return
		}
		u, err := url.Parse(out)
		if err != nil {
			t.Fatalf("output %q of %q does not parse: %v", out, in, err)
		}
		if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Fragment != "" || u.User != nil {
			t.Fatalf("output %q of %q: bad parts %+v", out, in, u)
		}
		again, err := urlnorm.Normalize(out)
		if err != nil || again != out {
			t.Fatalf("not idempotent: %q -> %q -> %q (%v)", in, out, again, err)
		}
		if h, err := urlnorm.Host(out); err != nil || !strings.Contains(out, "://"+h+"/") {
			t.Fatalf("Host(%q) = %q, %v", out, h, err)
		}
	})
}

// TestMaxLength checks the limit is on the normalised form: a URL that
// normalises to exactly MaxLength bytes is accepted, one byte more is not.
func TestMaxLength(t *testing.T) {
	base := "http://a.com/"
	ok := base + strings.Repeat("x", urlnorm.MaxLength-len(base))
	if got, err := urlnorm.Normalize(ok); err != nil || len(got) != urlnorm.MaxLength {
		t.Fatalf("%d-byte URL: %d bytes, %v; want accepted", len(ok), len(got), err)
	}
	// The limit applies after normalisation: escapes of unreserved
	// characters are decoded first.
	if _, err := urlnorm.Normalize(ok[:len(ok)-1] + "%78"); err != nil {
		t.Fatalf("a URL at the limit once %%78 is decoded: %v", err)
	}
	if _, err := urlnorm.Normalize(ok + "y"); err == nil {
		t.Fatal("a URL one byte over MaxLength was accepted")
	}
}
