package crawl_test

import (
	"strings"
	"testing"
	"time"

	"github.com/crawlmaster/crawlmaster/crawl"
)

func TestDefaultConfigValid(t *testing.T) {
	if err := crawl.DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestConfigValidate(t *testing.T) {
	cases := map[string]func(*crawl.Config){
		"user agent is empty":     func(c *crawl.Config) { c.UserAgent = " " },
		"product token":           func(c *crawl.Config) { c.UserAgent = "bad.bot/1" },
		"line break":              func(c *crawl.Config) { c.UserAgent = "bot/1\r\nX-Evil: 1" },
		"connect timeout":         func(c *crawl.Config) { c.ConnectTimeout = 0 },
		"config: timeout":         func(c *crawl.Config) { c.Timeout = -time.Second },
		"robots timeout":          func(c *crawl.Config) { c.RobotsTimeout = 0 },
		"robots ttl":              func(c *crawl.Config) { c.RobotsTTL = 0 },
		"robots error ttl":        func(c *crawl.Config) { c.RobotsErrorTTL = 0 },
		"max redirects":           func(c *crawl.Config) { c.MaxRedirects = -1 },
		"body cap":                func(c *crawl.Config) { c.BodyCap = 0 },
		"robots cap":              func(c *crawl.Config) { c.RobotsCap = 0 },
		"robots cache size":       func(c *crawl.Config) { c.RobotsCacheSize = 0 },
		"default delay":           func(c *crawl.Config) { c.DefaultDelay = -1 },
		"max crawl delay":         func(c *crawl.Config) { c.MaxCrawlDelay = -1 },
		"max idle conns":          func(c *crawl.Config) { c.MaxIdleConns = 0 },
		"resolve rule 0: pattern": func(c *crawl.Config) { c.Resolve = []crawl.ResolveRule{{Pattern: "A.test", Addr: "127.0.0.1:1"}} },
		"resolve rule 0: addr":    func(c *crawl.Config) { c.Resolve = []crawl.ResolveRule{{Pattern: "a.test", Addr: "localhost:1"}} },
		"port must be 1-65535":    func(c *crawl.Config) { c.Resolve = []crawl.ResolveRule{{Pattern: "a.test", Addr: "127.0.0.1:0"}} },
		"only allowed as":         func(c *crawl.Config) { c.Resolve = []crawl.ResolveRule{{Pattern: "a.*.test", Addr: "127.0.0.1:1"}} },
	}
	for want, mutate := range cases {
		cfg := crawl.DefaultConfig()
		mutate(&cfg)
		err := cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: Validate() = %v", want, err)
		}
	}
	// All problems are reported at once.
	err := crawl.Config{}.Validate()
	if err == nil || strings.Count(err.Error(), "\n") < 5 {
		t.Errorf("zero config: %v", err)
	}
}

func TestParseResolveRule(t *testing.T) {
	good := map[string]crawl.ResolveRule{
		"a.test=127.0.0.1:8080":           {Pattern: "a.test", Addr: "127.0.0.1:8080"},
		" *.Test = 10.0.0.1:80 ":          {Pattern: "*.test", Addr: "10.0.0.1:80"},
		"*=[::1]:443":                     {Pattern: "*", Addr: "[::1]:443"},
		"xn--bcher-kva.example=1.2.3.4:1": {Pattern: "xn--bcher-kva.example", Addr: "1.2.3.4:1"},
	}
	for in, want := range good {
		got, err := crawl.ParseResolveRule(in)
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
		_, err := crawl.ParseResolveRule(in)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseResolveRule(%q) error %v, want mention of %q", in, err, want)
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	cases := map[string]time.Duration{
		"":                              0,
		"120":                           120 * time.Second,
		" 0 ":                           0,
		"-5":                            0,
		"1.5":                           0,
		"99999999999999999999":          crawl.MaxRetryAfter,
		"86401":                         crawl.MaxRetryAfter,
		"Wed, 01 Jan 2025 00:02:00 GMT": 2 * time.Minute,
		"Tue, 31 Dec 2024 23:00:00 GMT": 0,
		"Fri, 01 Jan 2100 00:00:00 GMT": crawl.MaxRetryAfter,
		"tomorrow":                      0,
	}
	for in, want := range cases {
		if got := crawl.ParseRetryAfter(in, now); got != want {
			t.Errorf("ParseRetryAfter(%q) = %v, want %v", in, got, want)
		}
	}
}
