package e2e

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/crawlmaster/crawlmaster/internal/websim"
)

// metricSums reads a daemon's /metrics and returns, for every sample of
// the metric family name, its value keyed by the sample's label set as
// written ("" when unlabelled), e.g. `charged="true",reason="stream_error"`.
func metricSums(addr, name string) (map[string]float64, error) {
	c := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get("http://" + addr + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	out := map[string]float64{}
	for line := range strings.Lines(string(body)) {
		line = strings.TrimSpace(line)
		rest, ok := strings.CutPrefix(line, name)
		if !ok || rest == "" || (rest[0] != ' ' && rest[0] != '{') {
			continue
		}
		labels := ""
		if rest[0] == '{' {
			end := strings.LastIndexByte(rest, '}')
			if end < 0 {
				continue
			}
			labels, rest = rest[1:end], rest[end+1:]
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
		if err != nil {
			return nil, fmt.Errorf("%s: %q: %v", name, line, err)
		}
		out[labels] = v
	}
	return out, nil
}

// sumWhere adds the samples whose label set contains every one of match
// (each written as `key="value"`).
func sumWhere(samples map[string]float64, match ...string) float64 {
	var sum float64
next:
	for labels, v := range samples {
		for _, m := range match {
			if !strings.Contains(","+labels+",", ","+m+",") {
				continue next
			}
		}
		sum += v
	}
	return sum
}

// readRequestCounts reads websim's --requests-out file as "host path" ->
// count.
func readRequestCounts(path string) (map[string]int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	counts, err := websim.ReadRequests(f)
	if err != nil {
		return nil, err
	}
	out := make(map[string]int64, len(counts))
	for _, c := range counts {
		out[c.Host+" "+c.Path] = c.Count
	}
	return out, nil
}

// readTimeline reads websim's --timeline-out file, by host, oldest first.
func readTimeline(path string) (map[string][]websim.RequestSpan, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	spans, err := websim.ReadTimeline(f)
	if err != nil {
		return nil, err
	}
	out := map[string][]websim.RequestSpan{}
	for _, sp := range spans {
		out[sp.Host] = append(out[sp.Host], sp) // ReadTimeline sorts by host, then start
	}
	return out, nil
}

// requestKey is websim's counter key ("host path?query") of an absolute
// http URL as websim's own canonical form writes it, or "" if it has none.
func requestKey(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return ""
	}
	k := u.Hostname() + " " + u.EscapedPath()
	if u.EscapedPath() == "" {
		k += "/"
	}
	if u.RawQuery != "" {
		k += "?" + u.RawQuery
	}
	return k
}

// guardViolation returns why a frontier URL breaks one of the default trap
// guards (URL length 2,048 bytes, 20 path segments, a segment at most
// twice), or "".
func guardViolation(raw string) string {
	if len(raw) > 2048 {
		return fmt.Sprintf("%d bytes > 2048", len(raw))
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "unparsable: " + err.Error()
	}
	seen := map[string]int{}
	n := 0
	for _, s := range strings.Split(u.EscapedPath(), "/") {
		if s == "" {
			continue
		}
		n++
		seen[s]++
		if seen[s] > 2 {
			return fmt.Sprintf("segment %q more than twice", s)
		}
	}
	if n > 20 {
		return fmt.Sprintf("%d path segments > 20", n)
	}
	return ""
}

// siteOf is the site (registrable domain) of a websim host: the www.
// alias belongs to its domain.
func siteOf(host string) string { return strings.TrimPrefix(host, "www.") }

// gapStat is the smallest start-to-start gap seen on the hosts of one
// delay, for the report.
type gapStat struct {
	hosts, gaps int
	min         time.Duration
	minHost     string
	nearMiss    int // gaps in [delay - tolerance, delay): within the clock tolerance
}

func (g *gapStat) add(host string, gap time.Duration, delay, tolerance time.Duration) {
	g.gaps++
	if g.gaps == 1 || gap < g.min {
		g.min, g.minHost = gap, host
	}
	if gap < delay && gap >= delay-tolerance {
		g.nearMiss++
	}
}

// sortedKeys returns m's keys in order.
func sortedKeys[V any](m map[time.Duration]V) []time.Duration {
	keys := make([]time.Duration, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	return keys
}

// notFinal lists the URLs of a crawl that are not final, with what the
// frontier says of them.
func notFinal(t *testing.T, conn *pgx.Conn, crawlID int) []string {
	t.Helper()
	rows, err := conn.Query(t.Context(), `SELECT url, depth, state, attempts, coalesce(assistant, ''), coalesce(last_class, ''),
		next_fetch_at - now(), domain, shard FROM frontier WHERE crawl_id = $1 AND state NOT IN ('done', 'failed', 'dead') ORDER BY url`, crawlID)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var u, state, asst, class, domain string
		var depth, shard int16
		var attempts int
		var due time.Duration
		if err := rows.Scan(&u, &depth, &state, &attempts, &asst, &class, &due, &domain, &shard); err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%s depth %d %s attempts %d assistant %q class %q due in %s (site %s, shard %d)",
			u, depth, state, attempts, asst, class, due.Round(time.Millisecond), domain, shard))
	}
	return out
}

// saveSiteLogs writes the processes' whole output and copies files (websim's
// counts, timeline and truth) to .data/sites-logs for a post-mortem.
func saveSiteLogs(t *testing.T, procs []*proc, files ...string) {
	dir := "../../.data/sites-logs"
	_ = os.RemoveAll(dir)
	if os.MkdirAll(dir, 0o755) != nil {
		return
	}
	for i, p := range procs {
		_ = os.WriteFile(filepath.Join(dir, fmt.Sprintf("%02d-%s.log", i, p.Name)), []byte(p.Output()), 0o644)
	}
	for _, f := range files {
		if b, err := os.ReadFile(f); err == nil {
			_ = os.WriteFile(filepath.Join(dir, filepath.Base(f)), b, 0o644)
		}
	}
	t.Logf("process logs and websim's files: .data/sites-logs/")
}
