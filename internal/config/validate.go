package config

import (
	"fmt"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/crawlmaster/crawlmaster/crawl/fetchconfig"
	"github.com/crawlmaster/crawlmaster/internal/yamlcheck"
)

// Bounds that only guard against typos and absurd values.
const (
	maxPort          = 65535
	maxWorkers       = 65536                // a slot is a goroutine with its own fetch state
	maxDispatchBatch = 1000                 // keeps a CrawlRequest far below gRPC's 4MB default message limit
	minMemoryLimit   = 16 * fetchconfig.MiB // below it the GC would run almost constantly
)

// Validate returns every problem found, joined (see [FieldError]), or nil.
func (c *Config) Validate() error { return joinProblems(c.validate(), "") }

// validate returns the problems by key path; Load adds their lines.
func (c *Config) validate() (ps []*FieldError) {
	var l yamlcheck.Problems // the rules read like those of the fetch section
	checkEndpoint(&l, "rpc.manager", c.RPC.Manager.Address, c.RPC.Manager.Port)
	l.Add(len(c.RPC.Assistants) == 0, "rpc.assistant", "at least one assistant is required")
	for i, a := range c.RPC.Assistants {
		p := fmt.Sprintf("rpc.assistant[%d]", i)
		checkEndpoint(&l, p, a.Address, a.Port)
		l.AtLeast(p+".workers", int(a.Workers), 1)
		l.Add(a.Workers > maxWorkers, p+".workers", "must be at most %d, got %d", maxWorkers, a.Workers)
		mp := a.EffectiveMetricsPort()
		l.Add(a.MetricsPort != 0 && !validPort(mp), p+".metrics_port", "must be between 1 and %d, got %d", maxPort, mp)
		l.Add(a.MetricsPort == 0 && validPort(a.Port) && !validPort(mp), p+".metrics_port",
			"the default port+%d = %d is not a valid port; set metrics_port explicitly", metricsPortDelta, mp)
	}
	checkListeners(&l, c)

	db := c.Database.URL
	u, err := url.Parse(db)
	isURL := strings.Contains(db, "://") // the value is never shown: it may hold a password
	l.Add(strings.TrimSpace(db) == "", "database.url", "required")
	l.Add(isURL && err != nil, "database.url", "not a valid URL (value not shown, it may hold a password)")
	l.Add(isURL && err == nil && u.Scheme != "postgres" && u.Scheme != "postgresql", "database.url",
		"scheme must be postgres:// or postgresql://, got %q", strings.ToLower(strings.SplitN(db, ":", 2)[0])+"://")
	l.Add(!isURL && strings.TrimSpace(db) != "" && !strings.Contains(db, "="), "database.url",
		"expected a postgres:// URL or a key=value connection string")
	l.AtLeast("database.max_conns", c.Database.MaxConns, 1)

	d := c.Dispatch
	l.Positive("dispatch.poll_interval", d.PollInterval)
	l.Positive("dispatch.poll_timeout", d.PollTimeout)
	l.Versus(d.PollTimeout > 0 && d.PollInterval > 0 && d.PollTimeout >= d.PollInterval, "dispatch.poll_timeout",
		"must be shorter than", "dispatch.poll_interval", d.PollInterval, d.PollTimeout)
	l.AtLeast("dispatch.down_after", d.DownAfter, 1)
	l.AtLeast("dispatch.batch_size", d.BatchSize, 1)
	l.Add(d.BatchSize > maxDispatchBatch, "dispatch.batch_size", "must be at most %d, got %d", maxDispatchBatch, d.BatchSize)
	l.NonNegative("dispatch.batch_duration", d.BatchDuration)
	l.AtLeast("dispatch.prefetch_batches", d.PrefetchBatches, 0)
	l.Positive("dispatch.lease_duration", d.LeaseDuration)
	l.Versus(d.LeaseDuration > 0 && c.Fetch.Timeout > 0 && d.LeaseDuration <= c.Fetch.Timeout, "dispatch.lease_duration",
		"must be longer than", "fetch.timeout", c.Fetch.Timeout, d.LeaseDuration)
	l.Positive("dispatch.rescue_interval", d.RescueInterval)
	l.Positive("dispatch.progress_interval", d.ProgressInterval)
	l.NonNegative("dispatch.shutdown_grace", d.ShutdownGrace)

	r := c.Retry
	l.AtLeast("retry.max_attempts", r.MaxAttempts, 1)
	l.Positive("retry.base_delay", r.BaseDelay)
	l.Positive("retry.max_delay", r.MaxDelay)
	l.Versus(r.BaseDelay > 0 && r.MaxDelay > 0 && r.MaxDelay < r.BaseDelay, "retry.max_delay", "must be >=", "retry.base_delay", r.BaseDelay, r.MaxDelay)
	l.Add(!(r.Jitter >= 0 && r.Jitter <= 1), "retry.jitter", "must be between 0 and 1, got %v", r.Jitter) // also rejects NaN

	p := c.Persist
	l.AtLeast("persist.batch_size", p.BatchSize, 1)
	l.Positive("persist.flush_interval", p.FlushInterval)
	l.Versus(p.Buffer < p.BatchSize || p.Buffer < 1, "persist.buffer", "must be >=", "persist.batch_size", p.BatchSize, p.Buffer)
	l.Add(p.StoredBodyCap <= 0, "persist.stored_body_cap", "must be > 0, got %d", int64(p.StoredBodyCap))
	l.Add(p.Retention != 0 && p.Retention < time.Second, "persist.retention", "must be 0 (keep forever) or at least 1s, got %v", p.Retention)
	l.Add(p.StoredBodyCap > fetchconfig.GiB, "persist.stored_body_cap", "must be at most 1GiB, got %s", p.StoredBodyCap)

	for _, e := range unjoin[*fetchconfig.FieldError](c.Fetch.Validate()) { // the crawl library's rules, keys below "fetch"
		if e.Other != "" { // named in Msg
			e.Msg = strings.Replace(e.Msg, e.Other, "fetch."+e.Other, 1)
		}
		l = append(l, yamlcheck.Problem{Key: "fetch." + e.Key, Msg: e.Msg})
	}
	const memMsg = "must be 0 (no limit) or at least %s, got %s"
	l.Add(c.Fetch.MemoryLimit != 0 && c.Fetch.MemoryLimit < minMemoryLimit, "fetch.memory_limit", memMsg, minMemoryLimit, c.Fetch.MemoryLimit)
	l.Add(c.Persist.MemoryLimit != 0 && c.Persist.MemoryLimit < minMemoryLimit, "persist.memory_limit", memMsg, minMemoryLimit, c.Persist.MemoryLimit)
	l.NonNegative("fetch.shutdown_grace", c.Fetch.ShutdownGrace)

	t := c.TLS
	l.Add(!t.Plaintext && strings.TrimSpace(t.Dir) == "", "tls.dir", "required unless tls.plaintext is true")
	l.Add(!validDNSName(t.MasterName), "tls.master_name", "must be a DNS name (letters, digits, '-', dots), got %q", t.MasterName)
	l.Positive("tls.reload_interval", t.ReloadInterval)
	l.Add(t.PlaintextNetwork && !t.Plaintext, "tls.plaintext_network", "only with tls.plaintext: true")

	l.Add(c.Log.Format != "text" && c.Log.Format != "json", "log.format", "must be \"text\" or \"json\", got %q", c.Log.Format)
	l.Add(!slices.Contains([]string{"debug", "info", "warn", "error"}, c.Log.Level), "log.level",
		"must be one of \"debug\", \"info\", \"warn\", \"error\", got %q", c.Log.Level)

	for _, p := range l {
		ps = append(ps, &FieldError{Path: p.Key, Msg: p.Msg})
	}
	return ps
}

func validPort(p int) bool { return p >= 1 && p <= maxPort }

// validDNSName accepts dot-separated labels of letters, digits and '-'
// (what a certificate's DNS SAN holds).
func validDNSName(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 || strings.HasPrefix(label, "-") || strings.HasSuffix(label, "-") ||
			strings.Trim(strings.ToLower(label), "abcdefghijklmnopqrstuvwxyz0123456789-") != "" {
			return false
		}
	}
	return true
}

// checkEndpoint accepts a host name or IP address (no URL, no port) and a port.
func checkEndpoint(l *yamlcheck.Problems, path, a string, port int) {
	_, ipErr := netip.ParseAddr(a)
	host := validDNSName(strings.ReplaceAll(a, "_", "u")) // '_' too: some internal names have one
	l.Add(a == "", path+".address", "required")
	l.Add(strings.Contains(a, "://"), path+".address", "must be a host name or IP address, not a URL: %q", a)
	l.Add(!strings.Contains(a, "://") && strings.Contains(a, ":") && ipErr != nil, path+".address",
		"must be a host name or IP address without a port (the port has its own key), got %q", a)
	l.Add(a != "" && !strings.Contains(a, ":") && !host, path+".address", "invalid host name %q: want dot-separated labels of letters, digits, '-' or '_'", a)
	l.Add(port == 0, path+".port", "required")
	l.Add(port != 0 && !validPort(port), path+".port", "must be between 1 and %d, got %d", maxPort, port)
}

// checkListeners reports two of the master's and assistants' servers
// configured on one address and port.
func checkListeners(l *yamlcheck.Problems, c *Config) {
	type listener struct{ what, path, addr string }
	seen := map[string]listener{}
	// claim returns what already uses the endpoint, "" if nothing does.
	claim := func(host string, port int, what, path string) string {
		if host == "" || !validPort(port) {
			return ""
		}
		addr := strings.ToLower(joinHostPort(host, port))
		key := addr
		if ip, _ := netip.ParseAddr(host); addr == joinHostPort("localhost", port) || ip.Unmap() == netip.AddrFrom4([4]byte{127, 0, 0, 1}) || ip == netip.IPv6Loopback() {
			key = "loopback:" + strconv.Itoa(port) // one host, however spelt
		}
		prev, dup := seen[key]
		if !dup {
			seen[key] = listener{what, path, addr}
			return ""
		}
		both := what == "assistant" && prev.what == "assistant"
		l.Add(!both, path, "%s uses %s, already used by %s (%s)", what, addr, prev.path, prev.what)
		l.Add(both && addr == prev.addr, path, "duplicate endpoint %s: same address and port as %s", addr, prev.path)
		l.Add(both && addr != prev.addr, path, "duplicate endpoint %s: same endpoint as %s (%s): localhost, 127.0.0.1 and ::1 are the same loopback host", addr, prev.path, prev.addr)
		return prev.what
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
