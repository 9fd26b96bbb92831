package fetchconfig

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"

	"github.com/crawlmaster/crawlmaster/internal/yamlcheck"
)

// Config configures the fetch stack built by crawl.New. Start from
// [Default] and override fields; crawl.New calls [Config.Validate].
type Config struct {
	// UserAgent is the full User-Agent header. Its first word up to '/' is
	// the robots.txt product token ("crawlmaster/1.0 (+url)" ->
	// "crawlmaster"), see [ProductToken].
	UserAgent string `yaml:"user_agent"`
	// ConnectTimeout bounds DNS lookup, TCP connect and the TLS handshake;
	// at most Timeout.
	ConnectTimeout time.Duration `yaml:"connect_timeout"`
	// Timeout bounds one page fetch: all redirect hops (including robots.txt
	// checks of redirect targets) and the body read. It does not include
	// the robots.txt check of the first URL nor the politeness wait.
	Timeout time.Duration `yaml:"timeout"`
	// RobotsTimeout bounds one robots.txt fetch including its redirects.
	RobotsTimeout time.Duration `yaml:"robots_timeout"`
	// MaxRedirects is the number of redirects followed, 0..100; one more
	// ends the fetch as errclass.TooManyRedirects. 0 follows none.
	MaxRedirects int `yaml:"max_redirects"`
	// BodyCap is the number of body bytes kept; more sets Result.Truncated.
	BodyCap ByteSize `yaml:"body_cap"`
	// RobotsCap is the number of robots.txt bytes read and parsed.
	RobotsCap ByteSize `yaml:"robots_cap"`
	// RobotsTTL is how long a parsed robots.txt (or a 4xx "allow all") is
	// cached.
	RobotsTTL time.Duration `yaml:"robots_ttl"`
	// RobotsErrorTTL is how long an unavailable robots.txt (timeout, 5xx)
	// is remembered; meanwhile the origin is not crawled.
	RobotsErrorTTL time.Duration `yaml:"robots_error_ttl"`
	// RobotsCacheSize is the maximum number of origins cached; the least
	// recently used is evicted, so memory does not grow with hosts crawled.
	RobotsCacheSize int `yaml:"robots_cache_size"`
	// DefaultDelay is the minimum interval between two requests to one
	// host (robots.txt and sitemaps included). The effective delay is
	// max(DefaultDelay, min(Crawl-delay, MaxCrawlDelay)).
	DefaultDelay time.Duration `yaml:"default_delay"`
	// MaxCrawlDelay caps the robots.txt Crawl-delay; at least DefaultDelay.
	// It also caps (with a floor of 1s) the host backoff after a 429 or
	// 503 and the Retry-After honoured for the whole host: it is the
	// longest any politeness wait makes a slot sleep.
	MaxCrawlDelay time.Duration `yaml:"max_crawl_delay"`
	// Resolve overrides DNS (see [ResolveRule]). When non-empty the world
	// is closed: a host no rule matches fails as errclass.DNSNotFound
	// without any DNS query.
	Resolve []ResolveRule `yaml:"resolve"`
	// AllowedNetworks lists the networks the fetcher may connect to
	// although they are special-purpose ranges (loopback, private,
	// link-local, ...), which it refuses otherwise, before connecting, as
	// errclass.BlockedAddress (see package crawl/netguard). Empty (the
	// default) crawls only the public internet. An intranet crawl lists its
	// networks; tests and websim, on loopback, list 127.0.0.0/8: Resolve
	// does not lift the guard.
	AllowedNetworks []Network `yaml:"allowed_networks"`
	// MaxIdleConns bounds idle keep-alive connections over all hosts. It is
	// not a YAML setting: the assistant derives it from its slot count.
	MaxIdleConns int `yaml:"-"`
}

// Default returns the production defaults, which are also rpc.yaml's:
// Resolve is empty (real DNS), AllowedNetworks too (public addresses only).
func Default() Config {
	return Config{
		UserAgent:       "crawlmaster/0.1 (+https://github.com/crawlmaster/crawlmaster)",
		ConnectTimeout:  5 * time.Second,
		Timeout:         15 * time.Second,
		RobotsTimeout:   10 * time.Second,
		MaxRedirects:    5,
		BodyCap:         1 * MiB,
		RobotsCap:       512 * KiB, // as Google; RFC 9309 asks for at least 500 KiB
		RobotsTTL:       time.Hour, // RFC 9309 2.4: no cached copy beyond 24h
		RobotsErrorTTL:  5 * time.Minute,
		RobotsCacheSize: 10000,
		DefaultDelay:    time.Second,
		MaxCrawlDelay:   30 * time.Second,
		MaxIdleConns:    512,
	}
}

// Upper bounds that only guard against typos and absurd values.
const (
	maxRedirects = 100 // net/http's own default is 10
	maxCap       = GiB // body_cap, robots_cap
)

// FieldError is one invalid setting found by [Config.Validate], which
// joins them with errors.Join.
type FieldError struct {
	// Key is the setting's YAML key ("timeout", "resolve[2]"), or its Go
	// field name for a setting that has none ("MaxIdleConns").
	Key string
	// Msg says what is wrong, e.g. "must be > 0, got 0s".
	Msg string
	// Other is, for a rule relating two settings, the YAML key of the
	// setting Key's value is compared with; Msg names it first ("timeout"
	// in "must not exceed timeout (15s), got 20s"). It is "" otherwise.
	Other string
}

// Error returns "KEY: MSG".
func (e *FieldError) Error() string { return e.Key + ": " + e.Msg }

// Validate reports every invalid setting at once: errors.Join of one
// [*FieldError] per problem, or nil.
func (c Config) Validate() error {
	var ps yamlcheck.Problems
	ua := c.UserAgent
	ps.Add(strings.TrimSpace(ua) == "", "user_agent", "must not be empty")
	ps.Add(strings.IndexFunc(ua, unicode.IsControl) >= 0, "user_agent", "must not contain control characters")
	ps.Add(strings.TrimSpace(ua) != "" && ProductToken(ua) == "", "user_agent",
		"%q has no robots.txt product token: it must start with letters, digits, '-' or '_' up to the first '/' or space", ua)
	ps.Positive("connect_timeout", c.ConnectTimeout)
	ps.Positive("timeout", c.Timeout)
	ps.Versus(c.ConnectTimeout > 0 && c.Timeout > 0 && c.ConnectTimeout > c.Timeout, "connect_timeout",
		"must not exceed", "timeout", c.Timeout, c.ConnectTimeout)
	ps.Positive("robots_timeout", c.RobotsTimeout)
	ps.Add(c.MaxRedirects < 0 || c.MaxRedirects > maxRedirects, "max_redirects", "must be between 0 and %d, got %d", maxRedirects, c.MaxRedirects)
	for _, b := range []struct {
		k string
		v ByteSize
	}{{"body_cap", c.BodyCap}, {"robots_cap", c.RobotsCap}} {
		ps.Add(b.v <= 0, b.k, "must be > 0, got %d", int64(b.v))
		ps.Add(b.v > maxCap, b.k, "must be at most %s, got %s", ByteSize(maxCap), b.v)
	}
	ps.Positive("robots_ttl", c.RobotsTTL)
	ps.Positive("robots_error_ttl", c.RobotsErrorTTL)
	ps.AtLeast("robots_cache_size", c.RobotsCacheSize, 1)
	ps.NonNegative("default_delay", c.DefaultDelay)
	ps.NonNegative("max_crawl_delay", c.MaxCrawlDelay)
	ps.Versus(c.DefaultDelay >= 0 && c.MaxCrawlDelay >= 0 && c.MaxCrawlDelay < c.DefaultDelay, "max_crawl_delay",
		"must be >=", "default_delay", c.DefaultDelay, c.MaxCrawlDelay)
	for i, r := range c.Resolve {
		if err := r.validate(); err != nil {
			if r != (ResolveRule{}) {
				err = fmt.Errorf("resolve rule %q: %w", r.String(), err)
			}
			ps.Add(true, fmt.Sprintf("resolve[%d]", i), "%v", err)
		}
	}
	for i, n := range c.AllowedNetworks {
		if err := n.validate(); err != nil {
			ps.Add(true, fmt.Sprintf("allowed_networks[%d]", i), "network %q: %v", n.String(), err)
		}
	}
	ps.AtLeast("MaxIdleConns", c.MaxIdleConns, 1)
	errs := make([]error, len(ps))
	for i, p := range ps {
		errs[i] = &FieldError{Key: p.Key, Msg: p.Msg, Other: p.Other}
	}
	return errors.Join(errs...)
}

// ProductToken returns the lowercase robots.txt product token of a
// User-Agent: its first word, up to the first '/'. It returns "" when that
// is not a valid RFC 9309 token ([a-zA-Z_-]+, digits tolerated).
func ProductToken(ua string) string {
	ua = strings.TrimSpace(ua)
	if i := strings.IndexAny(ua, " \t"); i >= 0 {
		ua = ua[:i]
	}
	if i := strings.IndexByte(ua, '/'); i >= 0 {
		ua = ua[:i]
	}
	if ua == "" || strings.TrimLeft(strings.ToLower(ua), "abcdefghijklmnopqrstuvwxyz0123456789-_") != "" {
		return ""
	}
	return strings.ToLower(ua)
}
