package deploy

import (
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/crawlmaster/crawlmaster/assistant"
	"github.com/crawlmaster/crawlmaster/crawl"
	"github.com/crawlmaster/crawlmaster/crawl/errclass"
	"github.com/crawlmaster/crawlmaster/internal/admin"
	"github.com/crawlmaster/crawlmaster/master/dispatch"
	"github.com/crawlmaster/crawlmaster/master/frontier"
	"github.com/crawlmaster/crawlmaster/master/persist"
)

// unexportedMetrics are registered by code this test cannot call: the
// master's frontier gauges (package master builds them in an unexported
// constructor) and the TLS metrics of internal/mtls (issue 11's mTLS
// work; kept out of this package's imports so that the quick tier does
// not depend on it). TestLivePrometheus sees every one of them on the
// real daemons.
var unexportedMetrics = []string{
	"crawlmaster_frontier_urls",
	"crawlmaster_frontier_oldest_due_age_seconds",
	"crawlmaster_master_leader",
	"crawlmaster_tls_refused_peers_total",
	"crawlmaster_tls_certificate_expiry_timestamp_seconds",
}

var fqName = regexp.MustCompile(`fqName: "([^"]+)"`)

// knownMetrics returns the names of every metric the daemons export:
// those of their packages' metric constructors, the Go and process
// collectors of their admin registry, Prometheus's own `up`, and
// unexportedMetrics.
func knownMetrics(t *testing.T) map[string]bool {
	t.Helper()
	reg := admin.NewRegistry()
	dispatch.NewMetrics(reg)
	persist.NewMetrics(reg)
	assistant.NewMetrics(reg)
	crawl.NewMetrics(reg)
	ch := make(chan *prometheus.Desc)
	go func() {
		reg.Describe(ch)
		close(ch)
	}()
	known := map[string]bool{"up": true}
	for d := range ch {
		m := fqName.FindStringSubmatch(d.String())
		if m == nil {
			t.Fatalf("cannot read the name of %s", d)
		}
		known[m[1]] = true
	}
	for _, n := range unexportedMetrics {
		known[n] = true
	}
	if len(known) < 40 {
		t.Fatalf("only %d metrics described: %v", len(known), known)
	}
	return known
}

// knownMetric reports whether name is a known metric, or a histogram's
// _bucket, _sum or _count series.
func knownMetric(known map[string]bool, name string) bool {
	if known[name] {
		return true
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(name, suffix); ok && known[base] {
			return true
		}
	}
	return false
}

var matcher = regexp.MustCompile(`([a-zA-Z_]\w*)\s*(=~|!~|!=|=)\s*"([^"]*)"`)

// labelVocabulary is, for the labels whose values come from the code, the
// values they can take.
func labelVocabulary() map[string][]string {
	var classes, states []string
	for _, c := range errclass.All() {
		classes = append(classes, string(c))
	}
	for _, s := range frontier.AllStates {
		states = append(states, string(s))
	}
	return map[string][]string{
		"class":   classes,
		"state":   states,
		"outcome": states,
		"job":     {masterJob, assistantJob},
	}
}

// checkSelectors fails the test for a selector of expr that names an
// unknown metric or a label value the code never produces (a misspelt
// class or state would make a rule or panel silently empty).
func checkSelectors(t *testing.T, where, expr string, known map[string]bool, vocab map[string][]string) {
	t.Helper()
	sels, err := selectors(expr)
	if err != nil {
		t.Errorf("%s: %v", where, err)
		return
	}
	if len(sels) == 0 {
		t.Errorf("%s: no metric in %q", where, expr)
	}
	for _, s := range sels {
		if !knownMetric(known, s.Name) {
			t.Errorf("%s: metric %s is not exported by the daemons", where, s.Name)
		}
		for _, m := range matcher.FindAllStringSubmatch(s.Matchers, -1) {
			values, ok := vocab[m[1]]
			if !ok {
				continue
			}
			alts := []string{m[3]}
			if m[2] == "=~" || m[2] == "!~" {
				if !regexp.MustCompile(`^[\w-]+(\|[\w-]+)*$`).MatchString(m[3]) {
					continue // a real regular expression: not checked
				}
				alts = strings.Split(m[3], "|")
			}
			for _, v := range alts {
				if !slices.Contains(values, v) {
					t.Errorf("%s: %s=%q in %s, but %s is one of %v", where, m[1], v, s, m[1], values)
				}
			}
		}
	}
}

// TestRulesUseExportedMetrics checks every selector of every alert.
func TestRulesUseExportedMetrics(t *testing.T) {
	known, vocab := knownMetrics(t), labelVocabulary()
	for _, r := range readRules(t).alerts() {
		checkSelectors(t, "alert "+r.Alert, r.Expr, known, vocab)
	}
}

// dashboard is the part of the Grafana JSON the tests read.
type dashboard struct {
	UID           string  `json:"uid"`
	Title         string  `json:"title"`
	SchemaVersion int     `json:"schemaVersion"`
	Panels        []panel `json:"panels"`
	Templating    struct {
		List []struct {
			Name  string `json:"name"`
			Type  string `json:"type"`
			Query string `json:"query"`
		} `json:"list"`
	} `json:"templating"`
}

type panel struct {
	ID         int    `json:"id"`
	Type       string `json:"type"`
	Title      string `json:"title"`
	Datasource *struct {
		Type string `json:"type"`
		UID  string `json:"uid"`
	} `json:"datasource"`
	GridPos struct{ H, W, X, Y int } `json:"gridPos"`
	Targets []struct {
		RefID string `json:"refId"`
		Expr  string `json:"expr"`
	} `json:"targets"`
	Panels []panel `json:"panels"` // of a collapsed row
}

func readDashboard(t *testing.T) dashboard {
	t.Helper()
	b, err := os.ReadFile(deployFile(t, "grafana/crawlmaster.json"))
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	dec := json.NewDecoder(strings.NewReader(string(b)))
	if err := dec.Decode(&d); err != nil {
		t.Fatalf("grafana/crawlmaster.json: %v", err)
	}
	return d
}

// queryPanels returns the panels that query (rows' nested ones included).
func (d dashboard) queryPanels() []panel {
	var out []panel
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			if p.Type == "row" {
				walk(p.Panels)
				continue
			}
			out = append(out, p)
		}
	}
	walk(d.Panels)
	return out
}

// TestDashboard checks the dashboard's form (importable: one data source
// variable, unique ids, panels on Grafana's 24-column grid) and that its
// queries name only exported metrics and label values.
func TestDashboard(t *testing.T) {
	d := readDashboard(t)
	if d.UID == "" || d.Title == "" || d.SchemaVersion == 0 {
		t.Errorf("uid %q, title %q, schemaVersion %d: all are needed", d.UID, d.Title, d.SchemaVersion)
	}
	if len(d.Templating.List) != 1 || d.Templating.List[0].Name != "datasource" ||
		d.Templating.List[0].Type != "datasource" || d.Templating.List[0].Query != "prometheus" {
		t.Errorf("templating %+v: want the one Prometheus data source variable", d.Templating.List)
	}
	known, vocab := knownMetrics(t), labelVocabulary()
	ids := map[int]bool{}
	var all []panel
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			all = append(all, p)
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	for _, p := range all {
		if ids[p.ID] || p.ID == 0 {
			t.Errorf("panel %q: id %d missing or not unique", p.Title, p.ID)
		}
		ids[p.ID] = true
		if g := p.GridPos; g.W <= 0 || g.H <= 0 || g.X < 0 || g.X+g.W > 24 {
			t.Errorf("panel %q: gridPos %+v off the 24-column grid", p.Title, g)
		}
	}
	qp := d.queryPanels()
	if len(qp) < 20 {
		t.Errorf("only %d panels with queries", len(qp))
	}
	for _, p := range qp {
		if p.Datasource == nil || p.Datasource.UID != "${datasource}" {
			t.Errorf("panel %q: data source %+v, want uid ${datasource}", p.Title, p.Datasource)
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		refs := map[string]bool{}
		for _, tg := range p.Targets {
			if tg.RefID == "" || refs[tg.RefID] {
				t.Errorf("panel %q: refId %q missing or repeated", p.Title, tg.RefID)
			}
			refs[tg.RefID] = true
			expr, err := expandGrafana(tg.Expr)
			if err != nil {
				t.Errorf("panel %q: %v", p.Title, err)
				continue
			}
			checkSelectors(t, "panel "+p.Title, expr, known, vocab)
		}
	}
	// What the dashboard must show (issue 11).
	want := []string{"crawlmaster_persist_results_total", "crawlmaster_assistant_results_total", "crawlmaster_frontier_urls",
		"crawlmaster_frontier_oldest_due_age_seconds", "crawlmaster_assistant_busy_slots", "crawlmaster_dispatch_slot_refill_seconds_bucket",
		"crawlmaster_persist_batch_size_bucket", "crawlmaster_persist_batch_duration_seconds_bucket",
		"crawlmaster_persist_stale_results_rejected_total", "process_resident_memory_bytes", "go_memstats_heap_inuse_bytes"}
	used := map[string]bool{}
	for _, p := range qp {
		for _, tg := range p.Targets {
			sels, _ := selectors(tg.Expr)
			for _, s := range sels {
				used[s.Name] = true
			}
		}
	}
	for _, w := range want {
		if !used[w] {
			t.Errorf("the dashboard shows nothing of %s", w)
		}
	}
}
