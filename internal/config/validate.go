package config

import (
	"fmt"
	"github.com/crawlmaster/crawlmaster/crawl"
	"net"
	"net/url"
	"strconv"
	"strings"
	"unicode"
)

// Upper bounds that only guard against typos and absurd values.
const (
	maxDispatchBatch = 1000    // keeps a CrawlRequest far below gRPC's 4MB default message limit
	maxRedirects     = 100     // net/http's own default is 10
	maxCap           = 1 * GiB // body_cap, robots_cap, stored_body_cap
)

// Validate checks every rule of the schema and returns all problems found,
// joined (see [FieldError]); nil if the configuration is usable. It does not
// modify c. An assistant's MetricsPort of 0 stands for Port+1000.
func (c *Config) Validate() error {
	return joinProblems(c.validate())
}

func (c *Config) validate() []*FieldError {
	var l problemList

	// rpc
	m := c.RPC.Manager
	if err := checkAddress(m.Address); err != nil {
		l.add("rpc.manager.address", "%v", err)
	}
	checkPort(&l, "rpc.manager.port", m.Port, true)
	if len(c.RPC.Assistants) == 0 {
		l.add("rpc.assistant", "at least one assistant is required")
	}
	for i, a := range c.RPC.Assistants {
		p := fmt.Sprintf("rpc.assistant[%d]", i)
		if err := checkAddress(a.Address); err != nil {
			l.add(p+".address", "%v", err)
		}
		checkPort(&l, p+".port", a.Port, true)
		switch {
		case a.Workers < 1:
			l.add(p+".workers", "must be >= 1, got %d", a.Workers)
		case a.Workers > MaxWorkers:
			l.add(p+".workers", "must be at most %d, got %d", MaxWorkers, a.Workers)
		}
		if a.MetricsPort != 0 {
			checkPort(&l, p+".metrics_port", a.MetricsPort, false)
		} else if validPort(a.Port) && !validPort(a.Port+DefaultMetricsPortDelta) {
			l.add(p+".metrics_port", "the default port+%d = %d is not a valid port; set metrics_port explicitly",
				DefaultMetricsPortDelta, a.Port+DefaultMetricsPortDelta)
		}
	}
	checkListeners(&l, c)

	// database
	checkDatabaseURL(&l, "database.url", c.Database.URL)
	if c.Database.MaxConns < 1 {
		l.add("database.max_conns", "must be >= 1, got %d", c.Database.MaxConns)
	}

	// dispatch
	d := c.Dispatch
	positive(&l, "dispatch.poll_interval", d.PollInterval)
	positive(&l, "dispatch.poll_timeout", d.PollTimeout)
	if d.PollTimeout > 0 && d.PollInterval > 0 && d.PollTimeout >= d.PollInterval {
		l.add("dispatch.poll_timeout", "must be shorter than dispatch.poll_interval (%s), got %s", d.PollInterval, d.PollTimeout)
	}
	atLeast(&l, "dispatch.down_after", d.DownAfter, 1)
	atLeast(&l, "dispatch.batch_size", d.BatchSize, 1)
	if d.BatchSize > maxDispatchBatch {
		l.add("dispatch.batch_size", "must be at most %d, got %d", maxDispatchBatch, d.BatchSize)
	}
	nonNegative(&l, "dispatch.batch_duration", d.BatchDuration)
	atLeast(&l, "dispatch.prefetch_batches", d.PrefetchBatches, 0)
	positive(&l, "dispatch.lease_duration", d.LeaseDuration)
	if d.LeaseDuration > 0 && c.Fetch.Timeout > 0 && d.LeaseDuration <= c.Fetch.Timeout {
		l.add("dispatch.lease_duration", "must be longer than fetch.timeout (%s), got %s", c.Fetch.Timeout, d.LeaseDuration)
	}
	positive(&l, "dispatch.rescue_interval", d.RescueInterval)
	positive(&l, "dispatch.progress_interval", d.ProgressInterval)
	nonNegative(&l, "dispatch.shutdown_grace", d.ShutdownGrace)

	// retry
	r := c.Retry
	atLeast(&l, "retry.max_attempts", r.MaxAttempts, 1)
	positive(&l, "retry.base_delay", r.BaseDelay)
	positive(&l, "retry.max_delay", r.MaxDelay)
	if r.BaseDelay > 0 && r.MaxDelay > 0 && r.MaxDelay < r.BaseDelay {
		l.add("retry.max_delay", "must be >= retry.base_delay (%s), got %s", r.BaseDelay, r.MaxDelay)
	}
	if !(r.Jitter >= 0 && r.Jitter <= 1) { // also rejects NaN
		l.add("retry.jitter", "must be between 0 and 1, got %v", r.Jitter)
	}

	// persist
	p := c.Persist
	atLeast(&l, "persist.batch_size", p.BatchSize, 1)
	positive(&l, "persist.flush_interval", p.FlushInterval)
	if p.Buffer < p.BatchSize || p.Buffer < 1 {
		l.add("persist.buffer", "must be >= persist.batch_size (%d), got %d", p.BatchSize, p.Buffer)
	}
	checkCap(&l, "persist.stored_body_cap", p.StoredBodyCap)

	// fetch
	f := c.Fetch
	if f.UserAgent == "" {
		l.add("fetch.user_agent", "must not be empty")
	} else if strings.IndexFunc(f.UserAgent, unicode.IsControl) >= 0 {
		l.add("fetch.user_agent", "must not contain control characters")
	}
	positive(&l, "fetch.connect_timeout", f.ConnectTimeout)
	positive(&l, "fetch.timeout", f.Timeout)
	if f.ConnectTimeout > 0 && f.Timeout > 0 && f.ConnectTimeout > f.Timeout {
		l.add("fetch.connect_timeout", "must not exceed fetch.timeout (%s), got %s", f.Timeout, f.ConnectTimeout)
	}
	positive(&l, "fetch.robots_timeout", f.RobotsTimeout)
	if f.MaxRedirects < 0 || f.MaxRedirects > maxRedirects {
		l.add("fetch.max_redirects", "must be between 0 and %d, got %d", maxRedirects, f.MaxRedirects)
	}
	checkCap(&l, "fetch.body_cap", f.BodyCap)
	checkCap(&l, "fetch.robots_cap", f.RobotsCap)
	if f.MemoryLimit != 0 && f.MemoryLimit < 16*MiB {
		l.add("fetch.memory_limit", "must be 0 (no limit) or at least 16MiB, got %s", f.MemoryLimit)
	}
	positive(&l, "fetch.robots_ttl", f.RobotsTTL)
	positive(&l, "fetch.robots_error_ttl", f.RobotsErrorTTL)
	atLeast(&l, "fetch.robots_cache_size", f.RobotsCacheSize, 1)
	nonNegative(&l, "fetch.default_delay", f.DefaultDelay)
	nonNegative(&l, "fetch.max_crawl_delay", f.MaxCrawlDelay)
	if f.DefaultDelay >= 0 && f.MaxCrawlDelay >= 0 && f.MaxCrawlDelay < f.DefaultDelay {
		l.add("fetch.max_crawl_delay", "must be >= fetch.default_delay (%s), got %s", f.DefaultDelay, f.MaxCrawlDelay)
	}
	for i, s := range f.Resolve {
		if _, err := crawl.ParseResolveRule(s); err != nil {
			l.add(fmt.Sprintf("fetch.resolve[%d]", i), "%v", err)
		}
	}
	nonNegative(&l, "fetch.shutdown_grace", f.ShutdownGrace)

	// log
	switch c.Log.Format {
	case "text", "json":
	default:
		l.add("log.format", "must be \"text\" or \"json\", got %q", c.Log.Format)
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		l.add("log.level", "must be one of \"debug\", \"info\", \"warn\", \"error\", got %q", c.Log.Level)
	}
	return l.ps
}

func validPort(p int) bool { return p >= 1 && p <= maxPort }

func checkPort(l *problemList, path string, p int, required bool) {
	switch {
	case p == 0 && required:
		l.add(path, "required")
	case !validPort(p):
		l.add(path, "must be between 1 and %d, got %d", maxPort, p)
	}
}

// checkAddress accepts a host name, an IPv4 address or an IPv6 address
// (without brackets), but not a port or URL.
func checkAddress(a string) error {
	switch {
	case a == "":
		return fmt.Errorf("required")
	case strings.Contains(a, "://"):
		return fmt.Errorf("must be a host name or IP address, not a URL: %q", a)
	case strings.Contains(a, ":"):
		if ip := net.ParseIP(a); ip != nil {
			return nil
		}
		return fmt.Errorf("must be a host name or IP address without a port (the port has its own key), got %q", a)
	}
	if err := checkHostName(a); err != nil {
		return fmt.Errorf("invalid host name %q: %v", a, err)
	}
	return nil
}

// checkHostName checks the syntax of a host name in rpc.yaml.
func checkHostName(h string) error {
	if h == "" {
		return fmt.Errorf("empty host name")
	}
	if len(h) > 253 {
		return fmt.Errorf("host name longer than 253 characters")
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" {
			return fmt.Errorf("empty label in host name")
		}
		if len(label) > 63 {
			return fmt.Errorf("label longer than 63 characters")
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return fmt.Errorf("character %q not allowed in a host name", c)
			}
		}
	}
	return nil
}

// checkListeners reports two servers configured on the same address and
// port: the master's admin server, each assistant's gRPC server and each
// assistant's admin server.
func checkListeners(l *problemList, c *Config) {
	type listener struct{ what, path string }
	seen := map[string]listener{}
	// claim returns what already uses the address, "" if nothing does.
	claim := func(addr string, port int, what, path string) string {
		if addr == "" || !validPort(port) {
			return ""
		}
		key := strings.ToLower(joinHostPort(addr, port))
		if prev, dup := seen[key]; dup {
			if what == "assistant" && prev.what == "assistant" {
				l.add(path, "duplicate endpoint %s: same address and port as %s", key, prev.path)
			} else {
				l.add(path, "%s uses %s, already used by %s (%s)", what, key, prev.path, prev.what)
			}
			return prev.what
		}
		seen[key] = listener{what, path}
		return ""
	}
	claim(c.RPC.Manager.Address, c.RPC.Manager.Port, "manager admin server", "rpc.manager")
	dup := make([]bool, len(c.RPC.Assistants))
	for i, a := range c.RPC.Assistants {
		dup[i] = claim(a.Address, a.Port, "assistant", fmt.Sprintf("rpc.assistant[%d]", i)) == "assistant"
	}
	for i, a := range c.RPC.Assistants {
		if !dup[i] { // a duplicated entry's admin port clashes too: say it once
			claim(a.Address, a.EffectiveMetricsPort(), "assistant admin server", fmt.Sprintf("rpc.assistant[%d].metrics_port", i))
		}
	}
}

// checkDatabaseURL accepts a postgres:// or postgresql:// URL or a
// key=value connection string. The value is never echoed: it may hold a
// password.
func checkDatabaseURL(l *problemList, path, s string) {
	switch {
	case strings.TrimSpace(s) == "":
		l.add(path, "required")
	case strings.Contains(s, "://"):
		u, err := url.Parse(s)
		if err != nil {
			l.add(path, "not a valid URL (value not shown, it may hold a password)")
			return
		}
		if u.Scheme != "postgres" && u.Scheme != "postgresql" {
			l.add(path, "scheme must be postgres:// or postgresql://, got %q", u.Scheme+"://")
		}
	case !strings.Contains(s, "="):
		l.add(path, "expected a postgres:// URL or a key=value connection string")
	}
}

func positive(l *problemList, path string, d Duration) {
	if d <= 0 {
		l.add(path, "must be > 0, got %s", d)
	}
}

func nonNegative(l *problemList, path string, d Duration) {
	if d < 0 {
		l.add(path, "must not be negative, got %s", d)
	}
}

func atLeast(l *problemList, path string, v, min int) {
	if v < min {
		l.add(path, "must be >= %d, got %d", min, v)
	}
}

func checkCap(l *problemList, path string, b ByteSize) {
	switch {
	case b <= 0:
		l.add(path, "must be > 0, got %s", strconv.FormatInt(int64(b), 10))
	case b > maxCap:
		l.add(path, "must be at most %s, got %s", maxCap, b)
	}
}
