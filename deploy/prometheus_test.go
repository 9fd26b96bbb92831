package deploy

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"gopkg.in/yaml.v3"
)

// alertRule is one rule of alerts.yml.
type alertRule struct {
	Alert       string            `yaml:"alert"`
	Expr        string            `yaml:"expr"`
	For         string            `yaml:"for,omitempty"`
	Labels      map[string]string `yaml:"labels,omitempty"`
	Annotations map[string]string `yaml:"annotations,omitempty"`
}

type ruleGroup struct {
	Name  string      `yaml:"name"`
	Rules []alertRule `yaml:"rules"`
}

type ruleFile struct {
	Groups []ruleGroup `yaml:"groups"`
}

func readRules(t testing.TB) ruleFile {
	t.Helper()
	b, err := os.ReadFile(deployFile(t, "prometheus/alerts.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var rf ruleFile
	if err := yaml.Unmarshal(b, &rf); err != nil {
		t.Fatalf("alerts.yml: %v", err)
	}
	if len(rf.Groups) == 0 || len(rf.Groups[0].Rules) == 0 {
		t.Fatal("alerts.yml has no rules")
	}
	return rf
}

func (rf ruleFile) alerts() []alertRule {
	var out []alertRule
	for _, g := range rf.Groups {
		out = append(out, g.Rules...)
	}
	return out
}

// The promtool invocations, run in deploy/prometheus (deploy/README.md
// gives the same commands).
var promtoolChecks = [][]string{
	{"check", "config", "prometheus.yml"},
	{"check", "rules", "alerts.yml"},
	{"test", "rules", "alerts_test.yml"},
}

// TestPromtool checks the scrape configuration and the rules, and runs the
// rules' unit tests, with Debian's promtool.
func TestPromtool(t *testing.T) {
	promtool := tool(t, "promtool")
	dir := deployFile(t, "prometheus")
	for _, args := range promtoolChecks {
		if out, err := runTool(t, dir, promtool, args...); err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// alertTests is the part of alerts_test.yml this file reads.
type alertTests struct {
	RuleFiles []string `yaml:"rule_files"`
	Tests     []struct {
		AlertRuleTest []struct {
			EvalTime  string `yaml:"eval_time"`
			Alertname string `yaml:"alertname"`
			ExpAlerts []any  `yaml:"exp_alerts"`
		} `yaml:"alert_rule_test"`
	} `yaml:"tests"`
}

// TestAlertRules checks every rule's form and that alerts_test.yml covers
// it both firing and not firing. Outside -short it also proves the unit
// tests can fail: each alert, made never to fire and then always to fire,
// must fail promtool test rules.
func TestAlertRules(t *testing.T) {
	rules := readRules(t).alerts()
	b, err := os.ReadFile(deployFile(t, "prometheus/alerts_test.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var at alertTests
	if err := yaml.Unmarshal(b, &at); err != nil {
		t.Fatalf("alerts_test.yml: %v", err)
	}
	if !slices.Equal(at.RuleFiles, []string{"alerts.yml"}) {
		t.Errorf("alerts_test.yml tests %v, want [alerts.yml]", at.RuleFiles)
	}
	firing, quiet := map[string]int{}, map[string]int{}
	for _, tc := range at.Tests {
		for _, a := range tc.AlertRuleTest {
			if len(a.ExpAlerts) > 0 {
				firing[a.Alertname]++
			} else {
				quiet[a.Alertname]++
			}
		}
	}
	seen := map[string]bool{}
	for _, r := range rules {
		if seen[r.Alert] {
			t.Errorf("alert %s defined twice", r.Alert)
		}
		seen[r.Alert] = true
		if !strings.HasPrefix(r.Alert, "Crawlmaster") {
			t.Errorf("alert %s: names start with Crawlmaster", r.Alert)
		}
		if s := r.Labels["severity"]; s != "critical" && s != "warning" {
			t.Errorf("alert %s: severity %q, want critical or warning", r.Alert, s)
		}
		if r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
			t.Errorf("alert %s: needs a summary and a description", r.Alert)
		}
		if firing[r.Alert] == 0 || quiet[r.Alert] == 0 {
			t.Errorf("alert %s: alerts_test.yml has %d firing and %d not-firing checks; each needs both",
				r.Alert, firing[r.Alert], quiet[r.Alert])
		}
	}
	for name := range firing {
		if !seen[name] {
			t.Errorf("alerts_test.yml tests %s, which alerts.yml does not define", name)
		}
	}

	if testing.Short() {
		t.Log("-short: the mutation checks (each alert made never and always firing must fail promtool test rules) are skipped")
		return
	}
	promtool := tool(t, "promtool")
	type mutant struct{ name, dir string }
	var mutants []mutant
	for i, r := range rules {
		for _, m := range []struct{ name, expr string }{{"never fires", "vector(1) < 0"}, {"always fires", "vector(1)"}} {
			rf := readRules(t)
			n := 0
			for gi := range rf.Groups {
				for ri := range rf.Groups[gi].Rules {
					if n == i {
						rf.Groups[gi].Rules[ri].Expr = m.expr
					}
					n++
				}
			}
			out, err := yaml.Marshal(rf)
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "alerts.yml"), out, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "alerts_test.yml"), b, 0o644); err != nil {
				t.Fatal(err)
			}
			mutants = append(mutants, mutant{r.Alert + " " + m.name, dir})
		}
	}
	// Two at a time: the machine has two cores.
	var wg sync.WaitGroup
	var mu sync.Mutex
	var survived []string
	sem := make(chan struct{}, 2)
	for _, m := range mutants {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			if _, err := runTool(t, m.dir, promtool, "test", "rules", "alerts_test.yml"); err == nil {
				mu.Lock()
				survived = append(survived, m.name)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	slices.Sort(survived)
	for _, s := range survived {
		t.Errorf("promtool test rules still passes when %s: alerts_test.yml does not really test it", s)
	}
}

// scrapeConfig is the part of prometheus.yml the tests read and rewrite.
type scrapeConfig struct {
	Global        map[string]any `yaml:"global"`
	RuleFiles     []string       `yaml:"rule_files"`
	ScrapeConfigs []struct {
		JobName       string `yaml:"job_name"`
		StaticConfigs []struct {
			Targets []string          `yaml:"targets"`
			Labels  map[string]string `yaml:"labels"`
		} `yaml:"static_configs"`
	} `yaml:"scrape_configs"`
}

// The jobs the rules and the dashboard select on.
const (
	masterJob    = "crawlmaster-master"
	assistantJob = "crawlmaster-assistant"
)

// TestScrapeConfig checks the conventions the rules and the dashboard rely
// on: the two jobs, and an assistant label on every assistant target.
func TestScrapeConfig(t *testing.T) {
	b, err := os.ReadFile(deployFile(t, "prometheus/prometheus.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var sc scrapeConfig
	if err := yaml.Unmarshal(b, &sc); err != nil {
		t.Fatalf("prometheus.yml: %v", err)
	}
	if !slices.Equal(sc.RuleFiles, []string{"alerts.yml"}) {
		t.Errorf("rule_files %v, want [alerts.yml]", sc.RuleFiles)
	}
	jobs := map[string]int{}
	for _, j := range sc.ScrapeConfigs {
		jobs[j.JobName]++
		if j.JobName != assistantJob {
			continue
		}
		for _, s := range j.StaticConfigs {
			if len(s.Targets) != 1 || s.Labels["assistant"] == "" {
				t.Errorf("assistant targets %v: want one target per entry, with its assistant label (the rpc.yaml address:port)", s.Targets)
			}
		}
	}
	if jobs[masterJob] != 1 || jobs[assistantJob] != 1 {
		t.Errorf("jobs %v, want one %s and one %s", jobs, masterJob, assistantJob)
	}
}
