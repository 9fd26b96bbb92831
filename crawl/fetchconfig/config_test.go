package fetchconfig

import (
	"errors"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

func TestDefaultValid(t *testing.T) {
	if err := Default().Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestValidate(t *testing.T) {
	cases := []struct {
		want   string
		mutate func(*Config)
	}{
		{"user_agent: must not be empty", func(c *Config) { c.UserAgent = " " }},
		{"user_agent: \"bad.bot/1\" has no robots.txt product token", func(c *Config) { c.UserAgent = "bad.bot/1" }},
		{"user_agent: must not contain control characters", func(c *Config) { c.UserAgent = "bot/1\r\nX-Evil: 1" }},
		{"connect_timeout: must be > 0, got 0s", func(c *Config) { c.ConnectTimeout = 0 }},
		{"timeout: must be > 0, got -1s", func(c *Config) { c.Timeout = -time.Second }},
		{"connect_timeout: must not exceed timeout (15s), got 20s", func(c *Config) { c.ConnectTimeout = 20 * time.Second }},
		{"robots_timeout: must be > 0", func(c *Config) { c.RobotsTimeout = 0 }},
		{"robots_ttl: must be > 0", func(c *Config) { c.RobotsTTL = 0 }},
		{"robots_error_ttl: must be > 0", func(c *Config) { c.RobotsErrorTTL = 0 }},
		{"max_redirects: must be between 0 and 100, got -1", func(c *Config) { c.MaxRedirects = -1 }},
		{"max_redirects: must be between 0 and 100, got 101", func(c *Config) { c.MaxRedirects = 101 }},
		{"body_cap: must be > 0, got 0", func(c *Config) { c.BodyCap = 0 }},
		{"body_cap: must be at most 1GiB, got 2GiB", func(c *Config) { c.BodyCap = 2 * GiB }},
		{"robots_cap: must be > 0, got -1", func(c *Config) { c.RobotsCap = -1 }},
		{"robots_cache_size: must be >= 1, got 0", func(c *Config) { c.RobotsCacheSize = 0 }},
		{"default_delay: must not be negative, got -1ns", func(c *Config) { c.DefaultDelay = -1 }},
		{"max_crawl_delay: must not be negative", func(c *Config) { c.MaxCrawlDelay = -1 }},
		{"max_crawl_delay: must be >= default_delay (1s), got 500ms", func(c *Config) { c.MaxCrawlDelay = 500 * time.Millisecond }},
		{"MaxIdleConns: must be >= 1, got 0", func(c *Config) { c.MaxIdleConns = 0 }},
		{`resolve[0]: resolve rule "A.test=127.0.0.1:1": pattern "A.test": must be lowercase`,
			func(c *Config) { c.Resolve = []ResolveRule{{Pattern: "A.test", Addr: "127.0.0.1:1"}} }},
		{`resolve[1]: resolve rule "a.test=localhost:1": addr "localhost:1": want IP:PORT`,
			func(c *Config) {
				c.Resolve = []ResolveRule{{"*", "127.0.0.1:1"}, {Pattern: "a.test", Addr: "localhost:1"}}
			}},
		{"port must be 1-65535", func(c *Config) { c.Resolve = []ResolveRule{{Pattern: "a.test", Addr: "127.0.0.1:0"}} }},
		{"only allowed as", func(c *Config) { c.Resolve = []ResolveRule{{Pattern: "a.*.test", Addr: "127.0.0.1:1"}} }},
		{"resolve[0]: empty rule: want PATTERN=IP:PORT", func(c *Config) { c.Resolve = []ResolveRule{{}} }},
	}
	for _, tc := range cases {
		cfg := Default()
		tc.mutate(&cfg)
		err := cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Validate() = %v", tc.want, err)
		}
	}
	// All problems are reported at once.
	if err := (Config{}).Validate(); err == nil || strings.Count(err.Error(), "\n") < 9 {
		t.Errorf("zero config: %v", err)
	}
}

// TestFieldErrors checks that Validate's error joins one *FieldError per
// problem, in order, and names the other setting of a rule relating two.
func TestFieldErrors(t *testing.T) {
	cfg := Default()
	cfg.Timeout = 0
	cfg.ConnectTimeout = time.Minute
	cfg.DefaultDelay = time.Minute
	err := cfg.Validate()
	var fe *FieldError
	if !errors.As(err, &fe) || *fe != (FieldError{Key: "timeout", Msg: "must be > 0, got 0s"}) {
		t.Errorf("errors.As: %+v", fe)
	}
	cfg.Timeout = 15 * time.Second
	j, ok := cfg.Validate().(interface{ Unwrap() []error })
	if !ok {
		t.Fatalf("Validate() = %v, want errors joined", err)
	}
	want := []FieldError{
		{Key: "connect_timeout", Msg: "must not exceed timeout (15s), got 1m", Other: "timeout"},
		{Key: "max_crawl_delay", Msg: "must be >= default_delay (1m), got 30s", Other: "default_delay"},
	}
	errs := j.Unwrap()
	for i, e := range errs {
		if fe, ok := e.(*FieldError); !ok || i >= len(want) || *fe != want[i] {
			t.Errorf("error %d = %#v, want %+v", i, e, want)
		}
	}
	if len(errs) != len(want) || errs[0].Error() != "connect_timeout: must not exceed timeout (15s), got 1m" {
		t.Errorf("Validate() = %v", errors.Join(errs...))
	}
}

func TestProductToken(t *testing.T) {
	for ua, want := range map[string]string{
		"crawlmaster/1.0 (+https://x)": "crawlmaster",
		"TestBot":                      "testbot",
		"  my-bot_2/3":                 "my-bot_2",
		"bad.bot/1":                    "",
		"/1.0":                         "",
		"":                             "",
	} {
		if got := ProductToken(ua); got != want {
			t.Errorf("ProductToken(%q) = %q, want %q", ua, got, want)
		}
	}
}

func TestParseResolveRule(t *testing.T) {
	good := map[string]ResolveRule{
		"a.test=127.0.0.1:8080":           {Pattern: "a.test", Addr: "127.0.0.1:8080"},
		" *.Test = 10.0.0.1:80 ":          {Pattern: "*.test", Addr: "10.0.0.1:80"},
		"*=[::1]:443":                     {Pattern: "*", Addr: "[::1]:443"},
		"xn--bcher-kva.example=1.2.3.4:1": {Pattern: "xn--bcher-kva.example", Addr: "1.2.3.4:1"},
	}
	for in, want := range good {
		got, err := ParseResolveRule(in)
		if err != nil || got != want {
			t.Errorf("ParseResolveRule(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	bad := map[string]string{
		"a.test":                "PATTERN=IP:PORT",
		"=127.0.0.1:1":          "empty pattern",
		"a.test=127.0.0.1":      "IP:PORT",
		"a.test=example.com:80": "IP:PORT",
		"a.test=127.0.0.1:0":    "1-65535",
		"a b=127.0.0.1:1":       "invalid character",
		"*a.test=127.0.0.1:1":   "only allowed",
		"bücher=127.0.0.1:1":    "punycode",
	}
	for in, want := range bad {
		_, err := ParseResolveRule(in)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseResolveRule(%q) error %v, want mention of %q", in, err, want)
		}
	}
}

// TestYAML decodes a whole section: the values with their own syntax, the
// type errors collected together with their positions, and a round trip.
func TestYAML(t *testing.T) {
	src := "timeout: 2s\nbody_cap: 64kB\nrobots_cap: 1536\nresolve: ['*.test=127.0.0.1:8080', 'A.test=[::1]:8443']\n"
	cfg := Default()
	if err := yaml.Unmarshal([]byte(src), &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.Timeout != 2*time.Second || cfg.BodyCap != 64000 || cfg.RobotsCap != 1536 ||
		len(cfg.Resolve) != 2 || cfg.Resolve[1] != (ResolveRule{"a.test", "[::1]:8443"}) || cfg.MaxIdleConns != 512 {
		t.Errorf("decoded %+v", cfg)
	}
	out, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var again Config
	if err := yaml.Unmarshal(out, &again); err != nil {
		t.Fatal(err)
	}
	again.MaxIdleConns = cfg.MaxIdleConns // not a YAML setting
	if again.Timeout != cfg.Timeout || again.BodyCap != cfg.BodyCap || again.Resolve[1] != cfg.Resolve[1] {
		t.Errorf("round trip: %+v\n%s", again, out)
	}

	err = yaml.Unmarshal([]byte("body_cap: 1 MeB\nresolve:\n  - x.test\n  - [1]\nrobots_cap: -1\n"), &cfg)
	want := []string{
		`line 1: column 11: invalid size "1 MeB": unknown unit "MeB" (use B, kB, MB, GB, KiB, MiB or GiB)`,
		`line 3: column 5: resolve rule "x.test": want PATTERN=IP:PORT`,
		`line 4: column 5: expected a string "PATTERN=IP:PORT", got a list`,
		`line 5: column 13: size -1 must not be negative`,
	}
	te, ok := err.(*yaml.TypeError)
	if !ok || strings.Join(te.Errors, "\n") != strings.Join(want, "\n") {
		t.Errorf("got %v, want\n%s", err, strings.Join(want, "\n"))
	}
}

func TestByteSizeYAML(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want ByteSize
		err  string
	}{
		{"0", 0, ""},
		{"4096", 4096, ""},
		{"0x10", 16, ""},
		{"512KiB", 512 * KiB, ""},
		{"1MiB", MiB, ""},
		{"1 MiB", MiB, ""},
		{"2gib", 2 * GiB, ""},
		{"64kB", 64000, ""},
		{"64KB", 64000, ""},
		{"3MB", 3000000, ""},
		{"1GB", 1000000000, ""},
		{"10B", 10, ""},
		{"1.5KiB", 1536, ""},
		{"0.5MiB", 512 * KiB, ""},
		{"' 7 '", 7, ""},
		{"1.1kB", 1100, ""},
		{"1.3B", 0, `invalid size "1.3B": not a whole number of bytes`},
		{"-1KiB", 0, `size "-1KiB" must not be negative`},
		{"-1", 0, "size -1 must not be negative"},
		{"1 MeB", 0, `invalid size "1 MeB": unknown unit "MeB" (use B, kB, MB, GB, KiB, MiB or GiB)`},
		{"MiB", 0, "expected a number followed by a unit"},
		{"1..2KiB", 0, "expected a number"},
		{"'.'", 0, "expected a number"},
		{"''", 0, "expected a number"},
		{"'1e3'", 0, `unknown unit "e3"`},
		{"1e3", 0, "got the number 1e3"},
		{"1.5", 0, `expected a size such as 1048576 or "1MiB", got the number 1.5`},
		{"[1]", 0, "got a list"},
		{"true", 0, "got the boolean true"},
		{"9223372036854775807", 1<<63 - 1, ""},
		{"9223372036854775808", 0, "size 9223372036854775808 is out of range"},
		{"'9223372036854775808'", 0, "too large"},
		{"8589934592GiB", 0, "too large"},
		{"'" + strings.Repeat("1", 100) + "'", 0, "expected a number"},
	} {
		var b ByteSize
		err := yaml.Unmarshal([]byte(tc.in), &b)
		switch {
		case tc.err == "" && (err != nil || b != tc.want):
			t.Errorf("%s: got %d, %v; want %d", tc.in, b, err, tc.want)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%s: got %d, %v; want error %q", tc.in, b, err, tc.err)
		}
	}
}

func TestByteSizeString(t *testing.T) {
	for b, want := range map[ByteSize]string{0: "0B", 1000: "1000B", 1024: "1KiB", 256 * KiB: "256KiB", MiB: "1MiB", 3 * GiB: "3GiB", 1536: "1536B"} {
		if got := b.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", int64(b), got, want)
		}
		back, err := parseByteSize(want)
		if err != nil || back != b {
			t.Errorf("parseByteSize(%q) = %d, %v", want, back, err)
		}
	}
}
