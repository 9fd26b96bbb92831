package deploy

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"gopkg.in/yaml.v3"

	"github.com/crawlmaster/crawlmaster/internal/faultproxy"
	"github.com/crawlmaster/crawlmaster/internal/pgtest"
	"github.com/crawlmaster/crawlmaster/internal/proctest"
	"github.com/crawlmaster/crawlmaster/internal/testwait"
)

// unusedManagerPort is rpc.manager's port in the test's rpc.yaml: the
// config needs one, but the master serves its admin endpoint on
// --admin-listen 127.0.0.1:0 instead.
const unusedManagerPort = 1

// TestLivePrometheus runs a real Prometheus (Debian's) against a live
// crawl: websim, two assistants and a master as processes, with the scrape
// configuration of prometheus/prometheus.yml (its targets replaced) and
// the rules of prometheus/alerts.yml (their `for` dropped, so that an
// alert fires at the first evaluation where its condition holds). It
// checks that
//
//   - a healthy crawl fires no alert;
//   - every dashboard query returns series;
//   - every part of every alert expression that does not depend on
//     something being wrong (the expression without its comparisons, see
//     operands) returns series, and so does every selector: an alert
//     whose metric or labels do not exist could never fire;
//   - provoked faults fire their alerts: URLs whose hosts resolve to
//     special-purpose addresses (CrawlmasterSSRFRefusals), a client
//     without a certificate calling an assistant (CrawlmasterPeerRefused),
//     an assistant SIGKILLed (CrawlmasterAssistantDown,
//     CrawlmasterTargetDown), and nothing else fires.
func TestLivePrometheus(t *testing.T) {
	skipInShort(t, "live Prometheus")
	started := time.Now()
	prometheusBin := tool(t, "prometheus")
	masterBin, assistantBin, websimBin := daemonBin(t, "master"), daemonBin(t, "assistant"), daemonBin(t, "websim")
	t.Logf("tools and binaries ready after %s", time.Since(started).Round(time.Millisecond))

	dir := t.TempDir()
	env := []string{"DATABASE_URL=" + pgtest.NewDatabase(t)}

	// A small synthetic web without the slow profiles (hanging pages,
	// Crawl-delay, robots.txt answering 500, which is retried minutes
	// later): the crawl ends within seconds. Server errors are made
	// common so that some URLs die (the dead-letter series).
	const domains = 150
	sim := startProc(t, "websim", websimBin, nil, "--domains", strconv.Itoa(domains), "--seed", "11",
		"--listen", "127.0.0.1:0", "--out", dir, "--log-level", "warn",
		"--fraction", "hang=0", "--fraction", "huge=0", "--fraction", "robots_crawl_delay=0",
		"--fraction", "robots_slow=0", "--fraction", "robots_hang=0", "--fraction", "robots_server_error=0",
		"--fraction", "server_error=0.06")
	simAddr := waitFile(t, filepath.Join(dir, "addr"), sim)

	// The master reaches each assistant through a proxy whose port is
	// known before rpc.yaml is written; the assistants bind port 0.
	px := []*faultproxy.Proxy{newProxy(t), newProxy(t)}
	cfgPath := filepath.Join(dir, "rpc.yaml")
	cfg := fmt.Sprintf(`rpc:
  manager: {address: 127.0.0.1, port: %d}
  assistant:
    - {address: 127.0.0.1, port: %s, workers: 8}
    - {address: 127.0.0.1, port: %s, workers: 8}
dispatch:
  poll_interval: 200ms
  poll_timeout: 150ms
  progress_interval: 300ms
  shutdown_grace: 2s
retry: {base_delay: 50ms, max_delay: 200ms}
fetch:
  timeout: 2s
  connect_timeout: 1s
  robots_timeout: 2s
  default_delay: 0s
  shutdown_grace: 2s
  resolve: ["metadata.test=169.254.169.254:80", "intranet.test=10.1.2.3:80", "cgnat.test=100.64.0.1:80", "*.test=%s"]
  allowed_networks: ["127.0.0.0/8"]
tls: {dir: certs}
log: {format: json}
`, unusedManagerPort, portOf(t, px[0].Addr()), portOf(t, px[1].Addr()), simAddr)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	mustRun(t, env, masterBin, "certs", "--config", cfgPath)
	mustRun(t, env, masterBin, "import-tranco", "--config", cfgPath, "--scheme", "http", filepath.Join(dir, "tranco.csv"))

	var assistants []*proc
	var metricsAddrs []string
	for i, p := range px {
		a, m := startAssistant(t, assistantBin, env, cfgPath, p, filepath.Join(dir, fmt.Sprintf("assistant-%d.addr", i+1)))
		assistants, metricsAddrs = append(assistants, a), append(metricsAddrs, m)
	}
	mst := startProc(t, "master", masterBin, env, "run", "--config", cfgPath, "--admin-listen", "127.0.0.1:0",
		"--addr-file", filepath.Join(dir, "master.addr"))
	adminAddr := waitFile(t, filepath.Join(dir, "master.addr"), mst)

	prom := startPrometheus(t, prometheusBin, dir, adminAddr, metricsAddrs, []string{px[0].Addr(), px[1].Addr()})
	t.Logf("daemons and Prometheus up after %s", time.Since(started).Round(time.Millisecond))

	// Every target scraped, the crawl final (every URL done, failed or
	// dead) in the leader's frontier gauges, and a few more scrapes so
	// that each rate window holds several samples.
	prom.waitValue(t, `count(up{job=~"crawlmaster-master|crawlmaster-assistant"} == 1)`, 3, 30*time.Second)
	// The health endpoints the README points at: the master is alive and
	// leads, the assistants are ready.
	for _, c := range []struct{ url, want string }{
		{"http://" + adminAddr + "/healthz", "ok"},
		{"http://" + adminAddr + "/readyz", "leader"},
		{"http://" + metricsAddrs[0] + "/readyz", ""},
		{"http://" + metricsAddrs[1] + "/readyz", ""},
	} {
		body, code, err := httpGet(c.url)
		if err != nil || code != 200 || !strings.Contains(body, c.want) {
			t.Errorf("GET %s: %d %v %q, want 200 with %q", c.url, code, err, body, c.want)
		}
	}
	if !prom.tryValue(t, `sum(crawlmaster_frontier_urls{state=~"done|failed|dead"} and on (instance) crawlmaster_master_leader == 1)`,
		domains, 45*time.Second) {
		t.Fatalf("the crawl did not end within 45s; URLs not final:\n%s", unfinished(t, env[0][len("DATABASE_URL="):]))
	}
	prom.waitValue(t, `min(count_over_time(up{job="crawlmaster-master"}[1m])) >= bool 8`, 1, 30*time.Second)
	t.Logf("crawl final after %s", time.Since(started).Round(time.Millisecond))

	// A healthy crawl fires nothing (alerts of Prometheus's first
	// evaluations, before the first scrapes, have cleared by now).
	eventually(t, 10*time.Second, "no alert firing in a healthy crawl", func() (bool, string) {
		firing := prom.firing(t)
		return len(firing) == 0, fmt.Sprint(firing)
	})

	// URLs whose hosts resolve to special-purpose addresses (link-local
	// with the cloud metadata service, private, shared address space):
	// the SSRF guard refuses every one (class blocked_address, counted by
	// the fetcher and in the assistant's results) and
	// CrawlmasterSSRFRefusals fires (over 10 refusals on an assistant in
	// 10 minutes: each host has 12 URLs, and all of a host's URLs go to
	// one assistant).
	const perHost = 12
	var ssrf strings.Builder
	for _, host := range []string{"metadata.test", "intranet.test", "cgnat.test"} {
		for i := range perHost {
			fmt.Fprintf(&ssrf, "http://%s/page-%d\n", host, i)
		}
	}
	ssrfSeeds := filepath.Join(dir, "ssrf.txt")
	if err := os.WriteFile(ssrfSeeds, []byte(ssrf.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	mustRun(t, env, masterBin, "enqueue", "--config", cfgPath, ssrfSeeds)
	if !prom.tryValue(t, `sum(crawlmaster_frontier_urls{state=~"done|failed|dead"} and on (instance) crawlmaster_master_leader == 1)`,
		domains+3*perHost, 30*time.Second) {
		t.Fatalf("the enqueued URLs were not crawled within 30s; URLs not final:\n%s", unfinished(t, env[0][len("DATABASE_URL="):]))
	}
	prom.waitValue(t, `sum(crawl_fetch_errors_total{class="blocked_address"})`, 3*perHost, 15*time.Second)
	prom.waitValue(t, `sum(crawlmaster_assistant_results_total{class="blocked_address"})`, 3*perHost, 15*time.Second)
	eventually(t, 20*time.Second, "CrawlmasterSSRFRefusals firing", func() (bool, string) {
		firing := prom.firing(t)
		return hasAlert(firing, "CrawlmasterSSRFRefusals", "alertname", "CrawlmasterSSRFRefusals"), fmt.Sprint(firing)
	})

	// A client without a certificate calls assistant 1: refused, counted,
	// and CrawlmasterPeerRefused fires for that assistant.
	callWithoutCertificate(t, px[0].Addr())
	prom.waitValue(t, fmt.Sprintf(`sum(crawlmaster_tls_refused_peers_total{side="assistant",instance=%q})`, metricsAddrs[0]),
		1, 15*time.Second)
	eventually(t, 20*time.Second, "CrawlmasterPeerRefused firing", func() (bool, string) {
		firing := prom.firing(t)
		return hasAlert(firing, "CrawlmasterPeerRefused", "instance", metricsAddrs[0]), fmt.Sprint(firing)
	})

	// A few scrapes of the new refusal series, so that rates over it have
	// the two samples they need.
	prom.waitValue(t, `min(count_over_time(crawlmaster_tls_refused_peers_total[1m])) >= bool 3`, 1, 15*time.Second)

	// Every dashboard query returns series.
	for _, p := range readDashboard(t).queryPanels() {
		for _, tg := range p.Targets {
			q, err := expandGrafana(tg.Expr)
			if err != nil {
				t.Fatal(err)
			}
			if n := prom.count(t, q); n == 0 {
				t.Errorf("dashboard panel %q, query %s: no series", p.Title, tg.RefID)
				prom.explain(t, q)
			}
		}
	}

	// Every alert expression is valid against live data, and its parts
	// that hold regardless of failure return series.
	for _, r := range readRules(t).alerts() {
		prom.count(t, r.Expr) // fails the test on an evaluation error
		parts, err := operands(r.Expr)
		if err != nil {
			t.Fatalf("alert %s: %v", r.Alert, err)
		}
		sels, err := selectors(r.Expr)
		if err != nil {
			t.Fatalf("alert %s: %v", r.Alert, err)
		}
		for _, sel := range sels {
			parts = append(parts, sel.String())
		}
		for _, q := range parts {
			// Prometheus started a minute ago: a part that looks further
			// back (`x offset 10m`) is checked on today's data.
			q = offsetClause.ReplaceAllString(q, "")
			if prom.count(t, q) == 0 {
				t.Errorf("alert %s: %s returns no series, so the alert could never fire", r.Alert, q)
				prom.explain(t, q)
			}
		}
	}

	// SIGKILL assistant 1: the master marks it down, Prometheus fails to
	// scrape it; both alerts fire for it and none for assistant 2.
	assistants[0].Kill(t)
	eventually(t, 30*time.Second, "CrawlmasterAssistantDown and CrawlmasterTargetDown firing for assistant 1", func() (bool, string) {
		firing := prom.firing(t)
		return hasAlert(firing, "CrawlmasterAssistantDown", "assistant", px[0].Addr()) &&
			hasAlert(firing, "CrawlmasterTargetDown", "instance", metricsAddrs[0]), fmt.Sprint(firing)
	})
	firing := prom.firing(t)
	if hasAlert(firing, "CrawlmasterAssistantDown", "assistant", px[1].Addr()) || hasAlert(firing, "CrawlmasterTargetDown", "instance", metricsAddrs[1]) {
		t.Errorf("assistant 2 is up but an alert says it is down: %v", firing)
	}
	// Nothing fires but what the test provoked.
	provoked := []string{"CrawlmasterSSRFRefusals", "CrawlmasterPeerRefused", "CrawlmasterAssistantDown", "CrawlmasterTargetDown"}
	for _, a := range firing {
		if !slices.Contains(provoked, a.Labels["alertname"]) {
			t.Errorf("alert firing that the test did not provoke: %s", a)
		}
	}
	t.Logf("assistant-down alerts fired after %s", time.Since(started).Round(time.Millisecond))

	mst.Stop(t, 20*time.Second)
	assistants[1].Stop(t, 15*time.Second)
	sim.Stop(t, 10*time.Second)
	prom.proc.Stop(t, 15*time.Second)
	t.Logf("total %s", time.Since(started).Round(time.Millisecond))
}

var offsetClause = regexp.MustCompile(`\s+offset\s+-?[0-9a-z]+`)

func newProxy(t *testing.T) *faultproxy.Proxy {
	t.Helper()
	p, err := faultproxy.New("127.0.0.1:0", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func portOf(t *testing.T, addr string) string {
	t.Helper()
	i := strings.LastIndexByte(addr, ':')
	if i < 0 {
		t.Fatalf("no port in %q", addr)
	}
	return addr[i+1:]
}

// mustRun runs a one-shot command and fails the test if it fails.
func mustRun(t *testing.T, env []string, bin string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(bin), strings.Join(args, " "), err, out)
	}
}

// startAssistant starts the assistant of the rpc.yaml entry that is px's
// address, with its gRPC and admin endpoints on port 0, points px at it,
// and returns it with the address of its admin endpoint. The assistant
// writes the gRPC address to addrFile on binding it, and the admin one to
// addrFile+".admin" once that endpoint serves.
func startAssistant(t *testing.T, bin string, env []string, cfg string, px *faultproxy.Proxy, addrFile string) (*proc, string) {
	t.Helper()
	adminFile := addrFile + ".admin"
	for _, f := range []string{addrFile, adminFile} {
		if err := os.Remove(f); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
	}
	p := startProc(t, "assistant "+px.Addr(), bin, env, "run", "--config", cfg, "--listen", "127.0.0.1:0",
		"--id", px.Addr(), "--metrics-listen", "127.0.0.1:0", "--addr-file", addrFile, "--admin-addr-file", adminFile)
	grpcAddr := waitFile(t, addrFile, p)
	metrics := waitFile(t, adminFile, p)
	px.SetTarget(grpcAddr)
	return p, metrics
}

// callWithoutCertificate opens a TLS connection to an assistant without a
// client certificate, which the assistant must refuse.
func callWithoutCertificate(t *testing.T, addr string) {
	t.Helper()
	conn, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"h2"}}) //nolint:gosec // the test is the impostor
	if err != nil {
		return // refused during the handshake
	}
	defer conn.Close()
	// TLS 1.3: the server checks the client's (missing) certificate after
	// the client's side of the handshake is done; its refusal arrives as
	// the first read.
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := conn.Write([]byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")); err != nil {
		return
	}
	buf := make([]byte, 64)
	if _, err := conn.Read(buf); err == nil {
		t.Errorf("assistant %s answered a client without a certificate", addr)
	}
}

// promServer is a Prometheus started by the test.
type promServer struct {
	proc *proc
	base string // http://127.0.0.1:PORT
}

// startPrometheus writes the test's Prometheus configuration (the
// deployed one with these targets and 1 s intervals) and rules (the
// deployed ones without `for`), starts Prometheus on a free loopback port
// with its storage in dir, and waits until it is ready.
func startPrometheus(t *testing.T, bin, dir, master string, assistantMetrics, assistantIDs []string) *promServer {
	t.Helper()
	rules := readRules(t)
	for gi := range rules.Groups {
		for ri := range rules.Groups[gi].Rules {
			rules.Groups[gi].Rules[ri].For = ""
		}
	}
	rulesPath := filepath.Join(dir, "alerts.yml")
	writeYAML(t, rulesPath, rules)

	b, err := os.ReadFile(deployFile(t, "prometheus/prometheus.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var conf map[string]any
	if err := yaml.Unmarshal(b, &conf); err != nil {
		t.Fatal(err)
	}
	conf["global"] = map[string]any{"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"}
	conf["rule_files"] = []string{rulesPath}
	jobs, _ := conf["scrape_configs"].([]any)
	found := 0
	for _, j := range jobs {
		job, _ := j.(map[string]any)
		switch job["job_name"] {
		case masterJob:
			job["static_configs"] = []any{map[string]any{"targets": []string{master}}}
			found++
		case assistantJob:
			var sc []any
			for i := range assistantMetrics {
				sc = append(sc, map[string]any{"targets": []string{assistantMetrics[i]},
					"labels": map[string]string{"assistant": assistantIDs[i]}})
			}
			job["static_configs"] = sc
			found++
		}
	}
	if found != 2 {
		t.Fatalf("prometheus.yml: found %d of the jobs %s and %s", found, masterJob, assistantJob)
	}
	confPath := filepath.Join(dir, "prometheus.yml")
	writeYAML(t, confPath, conf)

	for attempt := 1; ; attempt++ {
		addr := freeLoopbackAddr(t)
		p := startProc(t, "prometheus", bin, nil, "--config.file="+confPath,
			"--storage.tsdb.path="+filepath.Join(dir, fmt.Sprintf("tsdb-%d", attempt)),
			"--web.listen-address="+addr, "--log.level=warn")
		ps := &promServer{proc: p, base: "http://" + addr}
		ready, exited := false, false
		eventually(t, 60*time.Second, "Prometheus ready", func() (bool, string) {
			if _, ok := p.Exited(); ok {
				exited = true
				return true, ""
			}
			_, code, err := httpGet(ps.base + "/-/ready")
			ready = err == nil && code == 200
			return ready, fmt.Sprint(code, err)
		})
		if ready {
			return ps
		}
		if !exited || attempt == 3 {
			t.Fatalf("Prometheus did not get ready on %s (attempt %d):\n%s", addr, attempt, proctest.LastLines(p.Output(), 10))
		}
		t.Logf("Prometheus exited (port %s taken?), retrying:\n%s", addr, proctest.LastLines(p.Output(), 3))
	}
}

func writeYAML(t *testing.T, path string, v any) {
	t.Helper()
	b, err := yaml.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// apiResponse is the envelope of Prometheus's HTTP API.
type apiResponse struct {
	Status    string          `json:"status"`
	ErrorType string          `json:"errorType"`
	Error     string          `json:"error"`
	Data      json.RawMessage `json:"data"`
}

func (ps *promServer) get(t *testing.T, path string) json.RawMessage {
	t.Helper()
	body, code, err := httpGet(ps.base + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	var r apiResponse
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		t.Fatalf("GET %s: %d %v: %q", path, code, err, body)
	}
	if r.Status != "success" {
		t.Fatalf("GET %s: %s: %s", path, r.ErrorType, r.Error)
	}
	return r.Data
}

type sample struct {
	Metric map[string]string `json:"metric"`
	Value  [2]any            `json:"value"`
}

// query evaluates q now; a scalar is returned as one sample.
func (ps *promServer) query(t *testing.T, q string) []sample {
	t.Helper()
	var d struct {
		ResultType string          `json:"resultType"`
		Result     json.RawMessage `json:"result"`
	}
	if err := json.Unmarshal(ps.get(t, "/api/v1/query?query="+url.QueryEscape(q)), &d); err != nil {
		t.Fatal(err)
	}
	switch d.ResultType {
	case "vector":
		var s []sample
		if err := json.Unmarshal(d.Result, &s); err != nil {
			t.Fatal(err)
		}
		return s
	case "scalar":
		var v [2]any
		if err := json.Unmarshal(d.Result, &v); err != nil {
			t.Fatal(err)
		}
		return []sample{{Value: v}}
	default:
		t.Fatalf("query %s: result type %s, want vector or scalar", q, d.ResultType)
		return nil
	}
}

// count is the number of series q returns now.
func (ps *promServer) count(t *testing.T, q string) int {
	t.Helper()
	return len(ps.query(t, q))
}

// explain logs which selectors of q return nothing, to say why q does not.
func (ps *promServer) explain(t *testing.T, q string) {
	t.Helper()
	sels, err := selectors(q)
	if err != nil {
		return
	}
	for _, s := range sels {
		if ps.count(t, s.String()) == 0 {
			t.Logf("  %s: no series", s)
		}
	}
}

// waitValue waits until q returns one sample whose value is want.
func (ps *promServer) waitValue(t *testing.T, q string, want float64, within time.Duration) {
	t.Helper()
	eventually(t, within, q+" = "+strconv.FormatFloat(want, 'g', -1, 64), func() (bool, string) {
		return ps.valueIs(t, q, want)
	})
}

// tryValue is waitValue that reports a timeout instead of failing.
func (ps *promServer) tryValue(t *testing.T, q string, want float64, within time.Duration) bool {
	t.Helper()
	ok, why := testwait.Poll(within, 100*time.Millisecond, func() (bool, string) { return ps.valueIs(t, q, want) })
	if !ok {
		t.Logf("%s = %g: not within %s (last: %s)", q, want, within, why)
	}
	return ok
}

func (ps *promServer) valueIs(t *testing.T, q string, want float64) (bool, string) {
	t.Helper()
	s := ps.query(t, q)
	if len(s) != 1 {
		return false, fmt.Sprintf("%d samples", len(s))
	}
	v, _ := s[0].Value[1].(string)
	f, err := strconv.ParseFloat(v, 64)
	return err == nil && f == want, v
}

// unfinished lists the frontier's URLs that are not final, to say why a
// crawl did not end.
func unfinished(t *testing.T, dbURL string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return err.Error()
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT url, state, attempts, next_fetch_at - now(), coalesce(last_class, ''), coalesce(last_error, '')
		FROM frontier WHERE state NOT IN ('done', 'failed', 'dead') ORDER BY id LIMIT 20`)
	if err != nil {
		return err.Error()
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var u, state, class, msg string
		var attempts int
		var due time.Duration
		if err := rows.Scan(&u, &state, &attempts, &due, &class, &msg); err != nil {
			return err.Error()
		}
		fmt.Fprintf(&b, "  %s %s attempts=%d due_in=%s last=%s %s\n", u, state, attempts, due, class, msg)
	}
	if err := rows.Err(); err != nil {
		return err.Error()
	}
	return b.String()
}

type alert struct {
	Labels map[string]string `json:"labels"`
	State  string            `json:"state"`
}

func (a alert) String() string {
	keys := make([]string, 0, len(a.Labels))
	for k := range a.Labels {
		if k != "alertname" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString(a.Labels["alertname"] + "{")
	for i, k := range keys {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, "%s=%q", k, a.Labels[k])
	}
	b.WriteString("}")
	return b.String()
}

// firing returns the alerts firing now.
func (ps *promServer) firing(t *testing.T) []alert {
	t.Helper()
	var d struct {
		Alerts []alert `json:"alerts"`
	}
	if err := json.Unmarshal(ps.get(t, "/api/v1/alerts"), &d); err != nil {
		t.Fatal(err)
	}
	var out []alert
	for _, a := range d.Alerts {
		if a.State == "firing" {
			out = append(out, a)
		}
	}
	return out
}

func hasAlert(alerts []alert, name, label, value string) bool {
	for _, a := range alerts {
		if a.Labels["alertname"] == name && a.Labels[label] == value {
			return true
		}
	}
	return false
}
