package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/crawlmaster/crawlmaster/internal/websim"
)

const childEnv = "WEBSIM_TEST_CHILD_ARGS"

// TestMain lets the test binary act as the websim command (for the signal
// test) when childEnv is set.
func TestMain(m *testing.M) {
	if args, ok := os.LookupEnv(childEnv); ok {
		os.Args = append([]string{"websim"}, strings.Split(args, "\x1f")...)
		main()
		return
	}
	// The in-process tests run websim's server, whose goroutines must all
	// be gone once run returns.
	goleak.VerifyTestMain(m)
}

func TestHelp(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"-h"}, &stdout, &stderr, nil); code != 0 {
		t.Fatalf("exit %d, stderr %s", code, stderr.String())
	}
	for _, want := range []string{"Usage: websim", "-domains", "-seed", "-listen", "-out", "-latency-median",
		"-latency-sigma", "-hang-fraction", "robots_hang", "-requests-out", "-sites", "-site-pages", "-site-features",
		"calendar", "-site-crawl-delay", "-crawl-truth", "-timeline-out", "-timeline-size"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("usage lacks %q:\n%s", want, stdout.String())
		}
	}
}

func TestBadFlags(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--domains", "abc", "--out", dir}, "-domains"},
		{[]string{"--domains", "0", "--out", dir}, "--domains"},
		{[]string{"--seed", "x", "--out", dir}, "-seed"},
		{[]string{"--latency-median", "fast", "--out", dir}, "-latency-median"},
		{[]string{"--latency-median", "-1s", "--out", dir}, "--latency-median"},
		{[]string{"--latency-sigma", "-1", "--out", dir}, "--latency-sigma"},
		{[]string{"--hang-fraction", "2", "--out", dir}, "-hang-fraction"},
		{[]string{"--hang-fraction", "x", "--out", dir}, "-hang-fraction"},
		{[]string{"--fraction", "bogus=0.1", "--out", dir}, "-fraction"},
		{[]string{"--fraction", "hang", "--out", dir}, "-fraction"},
		{[]string{"--fraction", "hang=0.9", "--fraction", "redirect=0.9", "--out", dir}, "--fraction"},
		{[]string{"--hang-for", "0s", "--out", dir}, "--hang-for"},
		{[]string{"--huge-body-size", "-5", "--out", dir}, "--huge-body-size"},
		{[]string{"--log-level", "loud", "--out", dir}, "--log-level"},
		{[]string{"--sites", "lots", "--out", dir}, "-sites"},
		{[]string{"--site-pages", "mean=x", "--out", dir}, "-site-pages"},
		{[]string{"--sites", "all", "--site-pages", "mean=0.5", "--out", dir}, "--sites"},
		{[]string{"--site-features", "bogus", "--out", dir}, "-site-features"},
		{[]string{"--site-crawl-delay", "-1s", "--out", dir}, "--site-crawl-delay"},
		{[]string{"--crawl-truth", "scope=planet", "--out", dir}, "--crawl-truth"},
		{[]string{"--domains", "10", "--crawl-truth", "seeds=11", "--out", dir}, "--crawl-truth"},
		{[]string{"--timeline-size", "-1", "--out", dir}, "--timeline-size"},
		{[]string{"--no-such-flag"}, "no-such-flag"},
		{[]string{"--domains", "5"}, "--out"},
		{[]string{"--out", dir, "stray"}, "stray"},
	}
	for _, c := range cases {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), c.args, &stdout, &stderr, nil)
		if code != 2 || !strings.Contains(stderr.String(), c.want) {
			t.Errorf("%q: exit %d, stderr %q; want exit 2 naming %q", c.args, code, stderr.String(), c.want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "addr")); err == nil {
		t.Error("a rejected invocation wrote addr")
	}
}

// syncBuffer collects logs written concurrently with reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestRunServes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	// A stale addr from an earlier run must not survive.
	if err := os.WriteFile(filepath.Join(dir, "addr"), []byte("stale"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := make(chan string, 1)
	done := make(chan int, 1)
	stderr := &syncBuffer{}
	requestsOut := filepath.Join(t.TempDir(), "requests.csv")
	go func() {
		done <- run(ctx, []string{"--domains", "300", "--seed", "4", "--listen", "127.0.0.1:0", "--out", dir,
			"--latency-median", "1ms", "--latency-sigma", "0.5", "--hang-fraction", "0.02", "--requests-out", requestsOut},
			io.Discard, stderr, func(a string) { ready <- a })
	}()
	var addr string
	select {
	case addr = <-ready:
	case code := <-done:
		t.Fatalf("run exited %d early: %s", code, stderr.String())
	case <-time.After(20 * time.Second):
		t.Fatal("websim did not become ready")
	}
	b, err := os.ReadFile(filepath.Join(dir, "addr"))
	if err != nil || string(b) != addr {
		t.Fatalf("addr file %q (%v), want %q", b, err, addr)
	}
	tranco, err := os.ReadFile(filepath.Join(dir, "tranco.csv"))
	if err != nil || bytes.Count(tranco, []byte("\r\n")) != 300 || !bytes.HasPrefix(tranco, []byte("1,w1-")) {
		t.Fatalf("tranco.csv: %v %q", err, tranco[:min(len(tranco), 40)])
	}
	f, err := os.Open(filepath.Join(dir, "ground-truth.csv"))
	if err != nil {
		t.Fatal(err)
	}
	rows, err := websim.ReadGroundTruth(f)
	f.Close()
	if err != nil || len(rows) != 300 {
		t.Fatalf("ground-truth.csv: %d rows, %v", len(rows), err)
	}
	// The files describe the same universe as the library.
	cfg := websim.DefaultConfig()
	cfg.Domains, cfg.Seed = 300, 4
	if err := cfg.Fractions.Set("hang", 0.02); err != nil {
		t.Fatal(err)
	}
	sim, err := websim.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for i, row := range rows {
		if row != sim.Expect(i+1) {
			t.Fatalf("row %d = %+v, library says %+v", i+1, row, sim.Expect(i+1))
		}
	}
	// And the server answers.
	var ok websim.Expectation
	for _, row := range rows {
		if row.Class == websim.ClassOK && row.Title != "" && row.FinalURL == row.URL {
			ok = row
			break
		}
	}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "tcp", addr)
		}}}
	resp, err := client.Get(ok.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Contains(body, []byte("<title>"+ok.Title+"</title>")) {
		t.Fatalf("GET %s: %d %s", ok.URL, resp.StatusCode, body)
	}
	client.CloseIdleConnections()

	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("websim did not stop")
	}
	logs := stderr.String()
	for _, want := range []string{"component=websim", "msg=serving", "msg=stopped"} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %q:\n%s", want, logs)
		}
	}
	// The one request of the test is the one request counted.
	rf, err := os.Open(requestsOut)
	if err != nil {
		t.Fatal(err)
	}
	counts, err := websim.ReadRequests(rf)
	rf.Close()
	want := []websim.RequestCount{{Host: strings.TrimSuffix(strings.TrimPrefix(ok.URL, "http://"), "/"), Path: "/", Count: 1}}
	if err != nil || !slices.Equal(counts, want) {
		t.Errorf("--requests-out: %v, %v; want %v", counts, err, want)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("temporary file left behind: %s", e.Name())
		}
	}
}

// TestSignal runs the command as a child process and stops it with SIGTERM.
func TestSignal(t *testing.T) {
	if testing.Short() {
		t.Skip("process: skipped in -short mode")
	}
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			dir := t.TempDir()
			cmd := exec.Command(os.Args[0])
			cmd.Env = append(os.Environ(), childEnv+"="+strings.Join([]string{"--domains", "50", "--out", dir}, "\x1f"))
			log := &syncBuffer{}
			cmd.Stderr = log
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			exit := make(chan error, 1)
			go func() { exit <- cmd.Wait() }()
			exited := false
			defer func() {
				if !exited {
					_ = cmd.Process.Kill()
					<-exit
				}
			}()
			// It serves once it has published its address (the file is
			// written atomically, after the listener is open).
			deadline := time.Now().Add(20 * time.Second)
			for {
				if b, err := os.ReadFile(filepath.Join(dir, "addr")); err == nil {
					if !strings.HasPrefix(string(b), "127.0.0.1:") {
						t.Fatalf("addr file: %q", b)
					}
					break
				}
				select {
				case err := <-exit:
					exited = true
					t.Fatalf("child exited before serving: %v\n%s", err, log.String())
				case <-time.After(10 * time.Millisecond):
				}
				if time.Now().After(deadline) {
					t.Fatalf("child did not write its address within 20s:\n%s", log.String())
				}
			}
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-exit:
				exited = true
				if err != nil {
					t.Fatalf("child exit: %v\n%s", err, log.String())
				}
			case <-time.After(20 * time.Second):
				t.Fatal("child did not exit after the signal")
			}
			// Read after the fact: the clean stop was logged.
			if !strings.Contains(log.String(), "msg=stopped") {
				t.Errorf("no clean stop logged:\n%s", log.String())
			}
		})
	}
}

// TestRunSites serves sites, writes the crawl truth the library computes,
// and at exit the request timeline.
func TestRunSites(t *testing.T) {
	dir := t.TempDir()
	timelineOut := filepath.Join(t.TempDir(), "timeline.csv")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := make(chan string, 1)
	done := make(chan int, 1)
	stderr := &syncBuffer{}
	args := []string{"--domains", "40", "--seed", "2", "--out", dir, "--sites", "all", "--site-pages", "mean=5,sigma=0",
		"--site-features", "-calendar", "--site-crawl-delay", "250ms", "--crawl-truth", "scope=domain,depth=2,sitemaps=true",
		"--timeline-out", timelineOut}
	go func() { done <- run(ctx, args, io.Discard, stderr, func(a string) { ready <- a }) }()
	var addr string
	select {
	case addr = <-ready:
	case code := <-done:
		t.Fatalf("run exited %d early: %s", code, stderr.String())
	case <-time.After(20 * time.Second):
		t.Fatal("websim did not become ready")
	}
	cfg := websim.Config{Domains: 40, Seed: 2, Fractions: websim.DefaultFractions(), CoverageWindow: websim.DefaultCoverageWindow}
	cfg.Sites = websim.SiteConfig{Fraction: 1, PagesMean: 5, CrawlDelay: 250 * time.Millisecond}
	cfg.Sites.Without, _ = websim.ParseSiteFeatures("-calendar")
	sim, err := websim.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	pol, _ := websim.ParseCrawlPolicy("scope=domain,depth=2,sitemaps=true")
	want, err := sim.CrawlTruth(pol)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(dir, "crawl-truth.csv"))
	if err != nil {
		t.Fatal(err)
	}
	rows, err := websim.ReadCrawlTruth(f)
	f.Close()
	slices.SortFunc(rows, func(a, b websim.TruthURL) int { return strings.Compare(a.URL, b.URL) })
	if err != nil || len(sim.Sites()) == 0 || !slices.Equal(rows, want.URLs) {
		t.Fatalf("crawl-truth.csv: %d rows (%v), the library says %d", len(rows), err, len(want.URLs))
	}
	var site websim.SiteInfo
	for _, r := range sim.Sites() {
		if sim.Profile(r).Robots == websim.RobotsAllowAll {
			site, _ = sim.Site(r)
			break
		}
	}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "tcp", addr)
		}}}
	for _, path := range []string{"/robots.txt", "/s0/p1.html"} {
		resp, err := client.Get("http://" + site.Domain + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || (path == "/robots.txt") != strings.Contains(string(body), "Crawl-delay: 0.25") {
			t.Fatalf("GET %s: %d %s", path, resp.StatusCode, body)
		}
	}
	client.CloseIdleConnections()
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("websim did not stop")
	}
	tf, err := os.Open(timelineOut)
	if err != nil {
		t.Fatal(err)
	}
	spans, err := websim.ReadTimeline(tf)
	tf.Close()
	if err != nil || len(spans) != 2 || spans[0].Path != "/robots.txt" || spans[1].Path != "/s0/p1.html" ||
		spans[1].Start.Before(spans[0].End) || spans[0].Host != site.Domain {
		t.Fatalf("--timeline-out: %+v, %v", spans, err)
	}
	if !strings.Contains(stderr.String(), "msg=\"wrote crawl truth\"") {
		t.Errorf("no crawl truth logged:\n%s", stderr.String())
	}
}
