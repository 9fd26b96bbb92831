package websim

import (
	"bytes"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func newSim(t testing.TB, cfg Config) *Sim {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

func cfgN(n int, seed int64) Config {
	cfg := DefaultConfig()
	cfg.Domains = n
	cfg.Seed = seed
	return cfg
}

// TestCoverage checks that at 2000 domains every kind and every class
// occurs, unmasked, for several seeds (seed 1 is the documented one).
func TestCoverage(t *testing.T) {
	for seed := int64(1); seed <= 5; seed++ {
		s := newSim(t, cfgN(2000, seed))
		var homes [numHomeKinds]int
		var robots [numRobotsKinds]int
		classes := map[Class]int{}
		for r := 1; r <= 2000; r++ {
			p := s.Profile(r)
			if !p.Robots.masksHome() {
				homes[p.Home]++
			}
			robots[p.Robots]++
			classes[s.Expect(r).Class]++
		}
		for _, k := range HomeKinds() {
			if homes[k] == 0 {
				t.Errorf("seed %d: home kind %s missing", seed, k)
			}
		}
		for _, k := range RobotsKinds() {
			if robots[k] == 0 {
				t.Errorf("seed %d: robots kind %s missing", seed, k)
			}
		}
		for _, c := range Classes() {
			if classes[c] == 0 {
				t.Errorf("seed %d: class %s missing", seed, c)
			}
		}
		if seed == 1 {
			t.Logf("seed 1, 2000 domains: home %v robots %v classes %v overrides %d", homes, robots, classes, len(s.overrides))
		}
	}
}

// TestCoverageSmall: with as few domains as kinds the guarantee still
// holds as far as it can, and nothing panics.
func TestCoverageSmall(t *testing.T) {
	for n := 1; n <= 40; n++ {
		s := newSim(t, cfgN(n, 7))
		for r := 1; r <= n; r++ {
			_ = s.Expect(r)
		}
	}
}

// TestFractions checks that observed shares follow the configured fractions.
func TestFractions(t *testing.T) {
	const n = 200000
	cfg := cfgN(n, 3)
	cfg.CoverageWindow = -1
	s := newSim(t, cfg)
	var homes [numHomeKinds]int
	var robots [numRobotsKinds]int
	for r := 1; r <= n; r++ {
		h, rb := s.kinds(r)
		homes[h]++
		robots[rb]++
	}
	f := cfg.Fractions
	hf := f.homeFields()
	for k := HomeKind(1); k < numHomeKinds; k++ {
		want := *hf[k]
		got := float64(homes[k]) / n
		if math.Abs(got-want) > 4*math.Sqrt(want*(1-want)/n)+1e-4 {
			t.Errorf("home %s: share %.4f, want %.4f", k, got, want)
		}
	}
	rf := f.robotsFields()
	// Robots are drawn independently but forced for unknown-host and
	// redirect-disallowed domains.
	served := 1 - f.UnknownHost - f.RedirectDisallowed
	for k := RobotsKind(1); k < RobotsNone; k++ {
		want := *rf[k] * served
		if k == RobotsDisallowSome {
			want += f.RedirectDisallowed
		}
		got := float64(robots[k]) / n
		if math.Abs(got-want) > 4*math.Sqrt(want*(1-want)/n)+1e-4 {
			t.Errorf("robots %s: share %.4f, want %.4f", k, got, want)
		}
	}
}

func TestDeterminism(t *testing.T) {
	files := func(seed int64) (string, string) {
		s := newSim(t, cfgN(3000, seed))
		var tr, gt bytes.Buffer
		if err := s.WriteTranco(&tr); err != nil {
			t.Fatal(err)
		}
		if err := s.WriteGroundTruth(&gt); err != nil {
			t.Fatal(err)
		}
		return tr.String(), gt.String()
	}
	tr1, gt1 := files(1)
	tr1b, gt1b := files(1)
	if tr1 != tr1b || gt1 != gt1b {
		t.Fatal("same seed produced different files")
	}
	tr2, gt2 := files(2)
	if tr1 == tr2 || gt1 == gt2 {
		t.Fatal("different seeds produced identical files")
	}
}

func TestTrancoFormat(t *testing.T) {
	s := newSim(t, cfgN(500, 1))
	var b bytes.Buffer
	if err := s.WriteTranco(&b); err != nil {
		t.Fatal(err)
	}
	text := b.String()
	if !strings.HasSuffix(text, "\r\n") {
		t.Fatal("missing final CRLF")
	}
	lines := strings.Split(strings.TrimSuffix(text, "\r\n"), "\r\n")
	if len(lines) != 500 {
		t.Fatalf("%d lines, want 500", len(lines))
	}
	seen := map[string]bool{}
	for i, line := range lines {
		rank, domain, ok := strings.Cut(line, ",")
		if !ok || rank != strconv.Itoa(i+1) || strings.ContainsAny(domain, ",\r\n") {
			t.Fatalf("line %d: %q", i+1, line)
		}
		if domain != s.Domain(i+1) || seen[domain] {
			t.Fatalf("line %d: domain %q (Domain=%q, dup=%v)", i+1, domain, s.Domain(i+1), seen[domain])
		}
		seen[domain] = true
		if !strings.HasPrefix(domain, "w"+rank+"-") {
			t.Fatalf("line %d: domain %q does not encode the rank", i+1, domain)
		}
		r, ok := s.Rank(domain)
		if !ok || r != i+1 {
			t.Fatalf("Rank(%q) = %d, %v", domain, r, ok)
		}
		if s.Profile(i+1).Home == HomeUnknownHost {
			if !strings.HasSuffix(domain, ".invalid") {
				t.Fatalf("unknown host %q not under .invalid", domain)
			}
		} else {
			if !strings.HasSuffix(domain, ".test") {
				t.Fatalf("served domain %q not under .test", domain)
			}
			if r, ok := s.Rank("WWW." + strings.ToUpper(domain) + ".:80"); !ok || r != i+1 {
				t.Fatalf("Rank(www alias of %q) = %d, %v", domain, r, ok)
			}
		}
	}
	for _, bad := range []string{"", "w0-apple.test", "w501-apple.test", "w1-nope.test", "x1-apple.test", "w01-apple.test", "w1apple.test", "w99999999999999999999999-a.test"} {
		if r, ok := s.Rank(bad); ok {
			t.Errorf("Rank(%q) = %d, want not ok", bad, r)
		}
	}
}

func TestRedirectVariety(t *testing.T) {
	s := newSim(t, cfgN(2000, 1))
	codes := map[int]bool{}
	var www, rel, maxHopsSeen int
	for r := 1; r <= 2000; r++ {
		p := s.Profile(r)
		if p.Home != HomeRedirect {
			continue
		}
		for _, c := range p.RedirectCodes {
			codes[c] = true
		}
		for _, u := range p.Redirects {
			if strings.HasPrefix(u, "http://www.") {
				www++
			}
		}
		maxHopsSeen = max(maxHopsSeen, len(p.Redirects))
		ip := s.profile(r)
		for i := 0; i < ip.nHops; i++ {
			if ip.hops[i].relative {
				rel++
			}
		}
	}
	for _, c := range []int{301, 302, 307, 308} {
		if !codes[c] {
			t.Errorf("redirect code %d never used", c)
		}
	}
	if www == 0 || rel == 0 || maxHopsSeen != 3 {
		t.Errorf("www hops %d, relative hops %d, max hops %d", www, rel, maxHopsSeen)
	}
}

func TestConfigValidation(t *testing.T) {
	bad := []func(*Config){
		func(c *Config) { c.Domains = 0 },
		func(c *Config) { c.LatencySigma = -1 },
		func(c *Config) { c.LatencyMedian = -1 },
		func(c *Config) { c.HangFor = -1 },
		func(c *Config) { c.HugeBodySize = -1 },
		func(c *Config) { c.Fractions.Hang = 1.5 },
		func(c *Config) { c.Fractions.Hang = math.NaN() },
		func(c *Config) { c.Fractions.Redirect = 0.9; c.Fractions.NotFound = 0.2 },
		func(c *Config) { c.Fractions.RobotsNotFound = 0.95; c.Fractions.RobotsSlow = 0.1 },
	}
	for i, mod := range bad {
		cfg := DefaultConfig()
		mod(&cfg)
		if _, err := New(cfg); err == nil {
			t.Errorf("case %d: New accepted an invalid config", i)
		}
	}
	s := newSim(t, Config{Domains: 1})
	c := s.Config()
	if c.Addr != DefaultAddr || c.HangFor != DefaultHangFor || c.HugeBodySize != DefaultHugeBodySize ||
		c.RobotsSlowDelay != DefaultRobotsSlowDelay || c.LatencyMax != DefaultLatencyMax {
		t.Errorf("defaults not filled: %+v", c)
	}
	if e := s.Expect(1); e.Class != ClassOK {
		t.Errorf("zero fractions: rank 1 is %+v, want plain ok", e)
	}
}

func TestFractionsSet(t *testing.T) {
	var f Fractions
	names := FractionNames()
	if len(names) != int(numHomeKinds)-1+int(RobotsNone)-1 {
		t.Fatalf("FractionNames: %v", names)
	}
	for i, name := range names {
		if err := f.Set(name, float64(i+1)/1000); err != nil {
			t.Fatalf("Set(%q): %v", name, err)
		}
	}
	hf, rf := f.homeFields(), f.robotsFields()
	var got []float64
	for _, p := range hf {
		if p != nil {
			got = append(got, *p)
		}
	}
	for _, p := range rf {
		if p != nil {
			got = append(got, *p)
		}
	}
	for i, v := range got {
		if v != float64(i+1)/1000 {
			t.Fatalf("field %d (%s) = %v", i, names[i], v)
		}
	}
	if err := f.Set("nope", 0.1); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("Set(nope): %v", err)
	}
	if err := f.Set("hang", 2); err == nil {
		t.Error("Set(hang, 2) accepted")
	}
	if !slices.Contains(names, "hang") || !slices.Contains(names, "robots_hang") {
		t.Errorf("names: %v", names)
	}
}

func TestLatencyDistribution(t *testing.T) {
	cfg := cfgN(10, 1)
	cfg.LatencyMedian = 100e6 // 100ms
	cfg.LatencySigma = 1
	cfg.LatencyMax = 1e12
	s := newSim(t, cfg)
	var ds []float64
	for n := int64(1); n <= 20001; n++ {
		ds = append(ds, float64(s.drawLatency(1, 1, n)))
	}
	slices.Sort(ds)
	med := ds[len(ds)/2] / 1e6
	p84 := ds[len(ds)*841/1000] / 1e6 // median * e^sigma
	if med < 95 || med > 105 || p84 < 250 || p84 > 295 {
		t.Errorf("median %.1fms, p84 %.1fms; want ~100ms, ~272ms", med, p84)
	}
	if a, b := s.drawLatency(3, 2, 7), s.drawLatency(3, 2, 7); a != b {
		t.Error("latency not deterministic")
	}
	cfg.LatencyMax = 150e6
	s = newSim(t, cfg)
	for n := int64(1); n < 1000; n++ {
		if d := s.drawLatency(1, 1, n); d > 150e6 {
			t.Fatalf("latency %v above max", d)
		}
	}
}

// TestCoverageOverrides: kinds too rare to occur naturally in the window
// are placed there by overrides, deterministically.
func TestCoverageOverrides(t *testing.T) {
	cfg := cfgN(5000, 1)
	cfg.Fractions.Hang = 1e-7
	cfg.Fractions.RobotsHang = 1e-7
	cfg.Fractions.RobotsDisallowAll = 1e-7
	s := newSim(t, cfg)
	if len(s.overrides) != 3 {
		t.Fatalf("%d overrides, want 3: %v", len(s.overrides), s.overrides)
	}
	found := map[string]int{}
	for r := 1; r <= 2000; r++ {
		p := s.Profile(r)
		if p.Home == HomeHang {
			found["hang"] = r
			if p.Robots.masksHome() {
				t.Errorf("hang override rank %d masked by robots %s", r, p.Robots)
			}
		}
		if p.Robots == RobotsHang {
			found["robots_hang"] = r
		}
		if p.Robots == RobotsDisallowAll {
			found["robots_disallow_all"] = r
		}
	}
	if len(found) != 3 {
		t.Fatalf("found %v", found)
	}
	s2 := newSim(t, cfg)
	for r := 1; r <= 5000; r++ {
		if s.Expect(r) != s2.Expect(r) {
			t.Fatalf("rank %d differs between identical Sims", r)
		}
	}
	cfg.CoverageWindow = -1
	if s3 := newSim(t, cfg); len(s3.overrides) != 0 {
		t.Fatalf("coverage disabled but %d overrides", len(s3.overrides))
	}
}
