package crawl

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// Config configures the fetch stack built by New. Start from DefaultConfig
// and override fields; New calls Validate.
type Config struct {
	// UserAgent is the full User-Agent header. Its first word up to '/' is
	// the robots.txt product token ("crawlmaster/1.0 (+url)" -> "crawlmaster").
	UserAgent string

	// ConnectTimeout bounds TCP connect and the TLS handshake.
	ConnectTimeout time.Duration
	// Timeout bounds one page fetch: all redirect hops (including robots.txt
	// checks of redirect targets) and the body read. It does not include the
	// robots.txt check of the first URL nor the politeness wait.
	Timeout time.Duration
	// MaxRedirects is the number of redirects followed; one more ends the
	// fetch as errclass.TooManyRedirects. 0 follows none.
	MaxRedirects int
	// BodyCap is the number of body bytes kept; more sets Result.Truncated.
	BodyCap int64

	// RobotsCap is the number of robots.txt bytes read and parsed.
	RobotsCap int64
	// RobotsTimeout bounds one robots.txt fetch including its redirects.
	RobotsTimeout time.Duration
	// RobotsTTL is how long a parsed robots.txt (or a 4xx "allow all") is
	// cached; RobotsErrorTTL how long an unavailable one is.
	RobotsTTL, RobotsErrorTTL time.Duration
	// RobotsCacheSize is the maximum number of origins cached; the least
	// recently used is evicted, so memory does not grow with hosts crawled.
	RobotsCacheSize int

	// DefaultDelay is the minimum interval between two page requests to one
	// host. The effective delay is max(DefaultDelay, min(Crawl-delay,
	// MaxCrawlDelay)).
	DefaultDelay time.Duration
	// MaxCrawlDelay caps the robots.txt Crawl-delay.
	MaxCrawlDelay time.Duration

	// Resolve overrides DNS. When non-empty the world is closed: a host no
	// rule matches fails as errclass.DNSNotFound without any DNS query.
	Resolve []ResolveRule

	// MaxIdleConns bounds idle keep-alive connections over all hosts.
	MaxIdleConns int

	// Clock is the time source for robots cache TTLs and politeness waits.
	// nil means the system clock. Tests inject a fake one. Measurements
	// (Result.Duration, Result.FetchedAt) always use the system clock.
	Clock Clock
}

// Default configuration values, see DefaultConfig. They are also the
// daemons' defaults: internal/config (rpc.yaml's fetch section) takes its
// fetch defaults from here, so the library and the assistant agree.
const (
	DefaultUserAgent       = "crawlmaster/0.1 (+https://github.com/crawlmaster/crawlmaster)"
	DefaultConnectTimeout  = 5 * time.Second
	DefaultTimeout         = 15 * time.Second
	DefaultMaxRedirects    = 5
	DefaultBodyCap         = 1 << 20   // 1 MiB
	DefaultRobotsCap       = 512 << 10 // 512 KiB, as Google and RFC 9309 (500 KiB minimum)
	DefaultRobotsTimeout   = 10 * time.Second
	DefaultRobotsTTL       = time.Hour // RFC 9309 2.4: SHOULD NOT use a cached copy for more than 24h
	DefaultRobotsErrorTTL  = 5 * time.Minute
	DefaultRobotsCacheSize = 10000
	DefaultDelay           = 1 * time.Second
	DefaultMaxCrawlDelay   = 30 * time.Second
	DefaultMaxIdleConns    = 512
)

// DefaultConfig returns the production defaults (see the Default*
// constants). Resolve is empty (real DNS) and Clock nil (system clock).
func DefaultConfig() Config {
	return Config{
		UserAgent:       DefaultUserAgent,
		ConnectTimeout:  DefaultConnectTimeout,
		Timeout:         DefaultTimeout,
		MaxRedirects:    DefaultMaxRedirects,
		BodyCap:         DefaultBodyCap,
		RobotsCap:       DefaultRobotsCap,
		RobotsTimeout:   DefaultRobotsTimeout,
		RobotsTTL:       DefaultRobotsTTL,
		RobotsErrorTTL:  DefaultRobotsErrorTTL,
		RobotsCacheSize: DefaultRobotsCacheSize,
		DefaultDelay:    DefaultDelay,
		MaxCrawlDelay:   DefaultMaxCrawlDelay,
		MaxIdleConns:    DefaultMaxIdleConns,
	}
}

// Validate reports every invalid field at once (errors.Join), or nil.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if strings.TrimSpace(c.UserAgent) == "" {
		bad("config: user agent is empty")
	} else if tok := productToken(c.UserAgent); tok == "" {
		bad("config: user agent %q has no robots product token (letters, digits, '-', '_' before '/')", c.UserAgent)
	}
	if strings.ContainsAny(c.UserAgent, "\r\n") {
		bad("config: user agent contains a line break")
	}
	positive := func(name string, d time.Duration) {
		if d <= 0 {
			bad("config: %s must be > 0, got %v", name, d)
		}
	}
	positive("connect timeout", c.ConnectTimeout)
	positive("timeout", c.Timeout)
	positive("robots timeout", c.RobotsTimeout)
	positive("robots ttl", c.RobotsTTL)
	positive("robots error ttl", c.RobotsErrorTTL)
	if c.MaxRedirects < 0 {
		bad("config: max redirects must be >= 0, got %d", c.MaxRedirects)
	}
	if c.BodyCap <= 0 {
		bad("config: body cap must be > 0, got %d", c.BodyCap)
	}
	if c.RobotsCap <= 0 {
		bad("config: robots cap must be > 0, got %d", c.RobotsCap)
	}
	if c.RobotsCacheSize <= 0 {
		bad("config: robots cache size must be > 0, got %d", c.RobotsCacheSize)
	}
	if c.DefaultDelay < 0 {
		bad("config: default delay must be >= 0, got %v", c.DefaultDelay)
	}
	if c.MaxCrawlDelay < 0 {
		bad("config: max crawl delay must be >= 0, got %v", c.MaxCrawlDelay)
	}
	if c.MaxIdleConns <= 0 {
		bad("config: max idle conns must be > 0, got %d", c.MaxIdleConns)
	}
	for i, r := range c.Resolve {
		if err := r.validate(); err != nil {
			bad("config: resolve rule %d: %w", i, err)
		}
	}
	return errors.Join(errs...)
}

// productToken returns the lowercase robots.txt product token of a
// User-Agent: its first word, up to the first '/'. It returns "" when that
// is not a valid RFC 9309 token ([a-zA-Z0-9_-]+; digits tolerated).
func productToken(ua string) string {
	ua = strings.TrimSpace(ua)
	if i := strings.IndexAny(ua, " \t"); i >= 0 {
		ua = ua[:i]
	}
	if i := strings.IndexByte(ua, '/'); i >= 0 {
		ua = ua[:i]
	}
	if ua == "" {
		return ""
	}
	for i := 0; i < len(ua); i++ {
		c := ua[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return ""
		}
	}
	return strings.ToLower(ua)
}

// ResolveRule routes hosts to a fixed address, like curl --resolve.
// Pattern is an exact host ("a.test"), a suffix wildcard ("*.test": any
// subdomain of test, not "test" itself) or "*" (every host). Addr is
// "ip:port"; all connections for a matching host go there whatever the
// URL's port. The most specific rule wins: exact, then longest suffix, then
// "*".
type ResolveRule struct{ Pattern, Addr string }

// ParseResolveRule parses "PATTERN=IP:PORT", e.g. "*.test=127.0.0.1:8080" or
// "a.test=[::1]:443". The pattern is lowercased. It returns an error naming
// the offending part.
func ParseResolveRule(s string) (ResolveRule, error) {
	pat, addr, ok := strings.Cut(strings.TrimSpace(s), "=")
	if !ok {
		return ResolveRule{}, fmt.Errorf("resolve rule %q: want PATTERN=IP:PORT", s)
	}
	r := ResolveRule{Pattern: strings.ToLower(strings.TrimSpace(pat)), Addr: strings.TrimSpace(addr)}
	if err := r.validate(); err != nil {
		return ResolveRule{}, fmt.Errorf("resolve rule %q: %w", s, err)
	}
	return r, nil
}

func (r ResolveRule) validate() error {
	p := r.Pattern
	switch {
	case p == "":
		return errors.New("empty pattern")
	case p == "*":
	case strings.HasPrefix(p, "*."):
		if err := validRuleHost(p[2:]); err != nil {
			return fmt.Errorf("pattern %q: %w", p, err)
		}
	default:
		if err := validRuleHost(p); err != nil {
			return fmt.Errorf("pattern %q: %w", p, err)
		}
	}
	ap, err := netip.ParseAddrPort(r.Addr)
	if err != nil {
		return fmt.Errorf("addr %q: want IP:PORT: %w", r.Addr, err)
	}
	if ap.Port() == 0 {
		return fmt.Errorf("addr %q: port must be 1-65535", r.Addr)
	}
	return nil
}

func validRuleHost(h string) error {
	if h == "" {
		return errors.New("empty host")
	}
	if strings.Contains(h, "*") {
		return errors.New("'*' is only allowed as \"*\" or a leading \"*.\"")
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_') {
			if c >= 'A' && c <= 'Z' {
				return errors.New("must be lowercase")
			}
			return fmt.Errorf("invalid character %q (want a lowercase ASCII host name; use punycode)", c)
		}
	}
	return nil
}
