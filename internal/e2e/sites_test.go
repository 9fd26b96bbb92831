package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/crawlmaster/crawlmaster/internal/pgtest"
	"github.com/crawlmaster/crawlmaster/internal/proctest"
	"github.com/crawlmaster/crawlmaster/internal/websim"
)

// The site crawl's parameters. 650 domains make 514 sites (only plain HTML
// home pages can be sites). Every site carries all the feature pages and
// traps (about 70 URLs at depth 3), so few regular pages per site are
// enough: about 39,000 URLs.
const (
	siteDomains  = 650
	siteSeed     = 5
	sitePages    = "mean=8,sigma=0.5,max=30"
	sitePolicy   = "scope=domain,depth=3,sitemaps=true" // websim's --crawl-truth; the crawl below is created alike
	siteSlots    = 16                                   // per assistant
	sitePoll     = 250 * time.Millisecond
	siteDownPoll = 3 // dispatch.down_after: an assistant is down after about 750 ms without an answer
	siteAttempts = 3 // retry.max_attempts
	// Politeness: every host waits at least siteDefaultDelay between two
	// requests; sites advertise Crawl-delay siteCrawlDelay; the plain
	// domains of websim's crawl_delay robots kind advertise 1 s, capped to
	// siteMaxCrawlDelay. So three delays occur: 20, 30 and 50 ms.
	siteDefaultDelay  = 20 * time.Millisecond
	siteCrawlDelay    = 30 * time.Millisecond
	siteMaxCrawlDelay = 50 * time.Millisecond
	// siteClockTolerance is how much shorter than its delay a gap between
	// two request starts may look at websim. websim stamps a request with
	// the kernel's receive time of the segment that carried it (on Linux;
	// see websim's arrival_linux.go), so its own scheduling does not skew
	// the gaps; what is left is the crawler's side: its politeness clock
	// runs from the moment its write returned, a few microseconds after
	// the kernel stamped the segment. Measured: the shortest gap is the
	// delay + 0.03 ms. A larger shortfall is a request sent too early.
	siteClockTolerance = 2 * time.Millisecond
	siteDeadline       = 3 * time.Minute
)

// siteSitemapPaths are the paths of websim's sitemap files (package
// documentation, "Sitemaps"): requests of them are sitemap reads, not pages.
var siteSitemapPaths = []string{"/sitemap.xml", "/sitemap.xml.gz", "/sitemap_index.xml", "/sitemaps/pages.xml", "/sitemaps/extra.xml.gz"}

// TestSiteCrawlEndToEnd is issue 10's end-to-end check: the real binaries
// (websim with 500+ sites and every site feature, the master, two
// assistants behind proxies) crawl in domain scope to depth 3 with
// sitemaps, and one assistant is SIGKILLed and restarted when a third of
// the URLs are final. Against websim's ground truth for the same policy:
// the URLs requested and the frontier are exactly the truth's (depth,
// state and class included), each URL requested once (apart from URLs in
// flight on the killed assistant, no more than the master released),
// no disallowed path, no nofollow-only page, traps within their guards,
// no overlapping requests to a site, every gap between two requests to a
// host at least its delay, no lease left.
func TestSiteCrawlEndToEnd(t *testing.T) {
	skipInShort(t, "site crawl end-to-end (real binaries, about 30 s)")
	dir := t.TempDir()
	dbURL := pgtest.NewDatabase(t)
	env := []string{"DATABASE_URL=" + dbURL}

	// websim as a process, and the same universe in-process: the graph is
	// deterministic, so the in-process Sim answers what the process serves
	// (its truth is checked equal to the process's --crawl-truth file).
	simCfg := websim.DefaultConfig()
	simCfg.Domains, simCfg.Seed, simCfg.HangFor = siteDomains, siteSeed, 6*time.Second
	if err := websim.ParseSites("all", &simCfg.Sites); err != nil {
		t.Fatal(err)
	}
	if err := websim.ParseSitePages(sitePages, &simCfg.Sites); err != nil {
		t.Fatal(err)
	}
	simCfg.Sites.CrawlDelay = siteCrawlDelay
	model, err := websim.New(simCfg)
	if err != nil {
		t.Fatal(err)
	}
	pol, err := websim.ParseCrawlPolicy(sitePolicy)
	if err != nil {
		t.Fatal(err)
	}
	truth, err := model.CrawlTruth(pol)
	if err != nil {
		t.Fatal(err)
	}
	sites := model.Sites()
	if len(sites) < 500 || !truth.Exact() {
		t.Fatalf("websim: %d sites (want >= 500), %d over budget (want 0)", len(sites), len(truth.OverBudget))
	}

	reqPath, tlPath := filepath.Join(dir, "requests.csv"), filepath.Join(dir, "timeline.csv")
	sim := start(t, "websim", nil, "--domains", strconv.Itoa(siteDomains), "--seed", strconv.Itoa(siteSeed),
		"--sites", "all", "--site-pages", sitePages, "--site-features", "all", "--site-crawl-delay", siteCrawlDelay.String(),
		"--hang-for", "6s", "--listen", "127.0.0.1:0", "--out", dir, "--crawl-truth", sitePolicy,
		"--requests-out", reqPath, "--timeline-out", tlPath, "--timeline-size", "100000")
	simAddr := waitFile(t, filepath.Join(dir, "addr"), sim)
	procs := []*proc{sim} // every process started, for their logs
	t.Cleanup(func() {
		// Before t.TempDir is removed: keep the logs and websim's files.
		if t.Failed() {
			saveSiteLogs(t, procs, reqPath, tlPath, filepath.Join(dir, "crawl-truth.csv"))
		}
	})
	f, err := os.Open(filepath.Join(dir, "crawl-truth.csv"))
	if err != nil {
		t.Fatal(err)
	}
	fileTruth, err := websim.ReadCrawlTruth(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range fileTruth {
		if w, _ := truth.Get(u.URL); w != u || len(fileTruth) != len(truth.URLs) {
			t.Fatalf("websim's crawl-truth.csv (%d URLs) differs from the in-process truth (%d URLs): the configurations differ; e.g. %+v vs %+v",
				len(fileTruth), len(truth.URLs), u, w)
		}
	}

	px1, px2 := newProxy(t), newProxy(t)
	cfgPath := filepath.Join(dir, "rpc.yaml")
	// robots_error_ttl: a seed whose robots.txt fails is retried when its
	// remembered failure expires (5 min by default).
	cfg := fmt.Sprintf(`rpc:
  manager: {address: 127.0.0.1, port: %d}
  assistant:
    - {address: 127.0.0.1, port: %s, workers: %d}
    - {address: 127.0.0.1, port: %s, workers: %d}
dispatch:
  poll_interval: %s
  poll_timeout: 200ms
  down_after: %d
  progress_interval: 2s
  shutdown_grace: 5s
retry: {max_attempts: %d, base_delay: 100ms, max_delay: 500ms}
fetch:
  timeout: 2s
  connect_timeout: 1s
  robots_timeout: 2s
  robots_error_ttl: 1s
  default_delay: %s
  max_crawl_delay: %s
  shutdown_grace: 5s
  resolve: ["*.test=%s"]
  allowed_networks: ["127.0.0.0/8"] # websim, on loopback
log: {format: json}
`, unusedManagerPort, portOf(px1.Addr()), siteSlots, portOf(px2.Addr()), siteSlots, sitePoll, siteDownPoll, siteAttempts,
		siteDefaultDelay, siteMaxCrawlDelay, simAddr)
	writeDaemonConfig(t, env, cfgPath, cfg)

	// The crawl, with the CLI: domain scope, depth 3, sitemaps, default
	// guards and budget; websim's Tranco list as its seeds.
	out, err := run(t, env, "master", "crawl", "create", "sites", "--config", cfgPath, "--scope", "domain", "--max-depth", "3", "--sitemaps")
	if err != nil || !strings.Contains(out, "created crawl sites") {
		t.Fatalf("master crawl create: %v\n%s", err, out)
	}
	out, err = run(t, env, "master", "import-tranco", "--config", cfgPath, "--crawl", "sites", "--scheme", "http", filepath.Join(dir, "tranco.csv"))
	if err != nil || !strings.Contains(out, fmt.Sprintf("%d new URLs", siteDomains)) {
		t.Fatalf("import-tranco --crawl sites: %v\n%s", err, out)
	}
	conn := connect(t, dbURL)
	var crawlID int
	if err := conn.QueryRow(t.Context(), `SELECT id FROM crawls WHERE name = 'sites'`).Scan(&crawlID); err != nil {
		t.Fatal(err)
	}

	asstFiles := []string{filepath.Join(dir, "assistant-1.addr"), filepath.Join(dir, "assistant-2.addr")}
	assts := []*proc{startAssistantProc(t, env, cfgPath, px1, asstFiles[0]), startAssistantProc(t, env, cfgPath, px2, asstFiles[1])}
	mst, adminAddr := startMasterProc(t, env, cfgPath, filepath.Join(dir, "master.addr"))
	procs = append(procs, mst, assts[0], assts[1])
	t0 := time.Now()

	final := func() (int, int) {
		if exited(mst) {
			t.Fatalf("master exited:\n%s", proctest.LastLines(mst.Output(), 15))
		}
		var fin, total int
		if err := conn.QueryRow(t.Context(), `SELECT count(*) FILTER (WHERE state IN ('done', 'failed', 'dead')), count(*)
			FROM frontier WHERE crawl_id = $1`, crawlID).Scan(&fin, &total); err != nil {
			t.Fatal(err)
		}
		return fin, total
	}

	// Mid-crawl: SIGKILL assistant-1 when a third of the truth's URLs are
	// final, restart it 1.5 s later (its proxy follows it to its new port).
	waitFor(t, "a third of the URLs final", siteDeadline, func() bool {
		fin, _ := final()
		return fin >= len(truth.URLs)/3
	})
	killFinal, killTotal := final()
	killAt := time.Now()
	t.Logf("t=%4.1fs  %d of %d frontier URLs final: SIGKILL assistant-1", killAt.Sub(t0).Seconds(), killFinal, killTotal)
	assts[0].Kill(t)
	<-time.After(1500 * time.Millisecond)
	assts[0] = startAssistantProc(t, env, cfgPath, px1, asstFiles[0])
	procs = append(procs, assts[0])
	t.Logf("t=%4.1fs  assistant-1 restarted", time.Since(t0).Seconds())

	// The end: every URL of the crawl final. Links are admitted in the
	// transaction that stores their page's result, so once nothing is
	// pending or leased nothing more can be admitted.
	deadline := time.Now().Add(siteDeadline)
	for {
		if fin, total := final(); fin == total {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not every URL final within %s; not final:\n  %s", siteDeadline, head(notFinal(t, conn, crawlID)))
		}
		<-time.After(100 * time.Millisecond)
	}
	crawlTime := time.Since(t0)

	released, err := metricSums(adminAddr, "crawlmaster_dispatch_released_urls_total")
	if err != nil {
		t.Fatal(err)
	}
	refused, err := metricSums(adminAddr, "crawlmaster_dispatch_links_refused_total")
	if err != nil {
		t.Fatal(err)
	}
	charged := int(sumWhere(released, `charged="true"`))
	releasedN := int(sumWhere(released))
	mst.Stop(t, 15*time.Second)
	for _, a := range assts {
		a.Stop(t, 10*time.Second)
	}
	disallowed := countDisallowed(t, sim) // stops websim: it writes its counts and timeline
	var logCharged, logReleased int64
	for _, l := range parseLogs(mst.Output()) {
		if l.Msg == "batch finished" {
			logCharged += num(l.Attr["charged"])
			logReleased += num(l.Attr["released"])
		}
	}

	// 1. The frontier equals the truth: one row per URL, with the truth's
	// depth, state and class; within the default trap guards; no lease.
	rows, err := conn.Query(t.Context(), `SELECT url, depth, state, coalesce(last_class, ''), lease_expires_at IS NOT NULL
		FROM frontier WHERE crawl_id = $1`, crawlID)
	if err != nil {
		t.Fatal(err)
	}
	frontier := map[string]bool{}
	var dupURLs, extra, wrong, guardBad []string
	leases := 0
	for rows.Next() {
		var u, state, class string
		var depth int16
		var leased bool
		if err := rows.Scan(&u, &depth, &state, &class, &leased); err != nil {
			t.Fatal(err)
		}
		if leased || state == "leased" {
			leases++
		}
		if frontier[u] {
			dupURLs = append(dupURLs, u)
		}
		frontier[u] = true
		if why := guardViolation(u); why != "" {
			guardBad = append(guardBad, fmt.Sprintf("%.120s: %s", u, why))
		}
		w, ok := truth.Get(u)
		switch {
		case !ok:
			extra = append(extra, fmt.Sprintf("%.200s (depth %d, %s/%s)", u, depth, state, class))
		case int(depth) != w.Depth || state != string(w.State) || class != string(w.Class):
			wrong = append(wrong, fmt.Sprintf("%s: depth %d %s/%s, want depth %d %s/%s", u, depth, state, class, w.Depth, w.State, w.Class))
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	var missing []string
	for _, w := range truth.URLs {
		if !frontier[w.URL] {
			missing = append(missing, fmt.Sprintf("%s (depth %d, %s/%s)", w.URL, w.Depth, w.State, w.Class))
		}
	}

	// 2. The pages websim served are exactly the truth's requested URLs,
	// each once as a fault-free crawl requests it: dead URLs once per
	// attempt, a flaky home page twice (503, then 200), everything else
	// once. The kill may add one request to a URL that was in flight on
	// the killed assistant, which the master then released: at most
	// `released` URLs, each requested once more. Not exactly those the
	// master charged: a STARTED written just before the SIGKILL may die
	// with the connection (the kernel resets a socket closed with unread
	// data, dropping what it had not sent), and that URL gets its next
	// attempt free; the report shows both.
	counts, err := readRequestCounts(reqPath)
	if err != nil {
		t.Fatal(err)
	}
	wantCount := map[string]int64{} // request key -> requests of a fault-free crawl
	keyURL := map[string]string{}
	seedsOnHost := map[string]int64{} // depth-0 URLs per host: the design's seeds, each of which reads its host's sitemaps
	for _, w := range truth.URLs {
		k := requestKey(w.URL)
		if w.Depth == 0 {
			h, _, _ := strings.Cut(k, " ")
			seedsOnHost[h]++
		}
		if !w.Requested() {
			continue
		}
		n := int64(1)
		switch {
		case w.State == websim.StateDead:
			n = siteAttempts
		case w.Depth == 0 && strings.Count(w.URL, "/") == 3:
			if rank, ok := model.Rank(strings.Trim(strings.TrimPrefix(w.URL, "http://"), "/")); ok && model.Profile(rank).Home == websim.HomeFlaky {
				n = 2
			}
		}
		wantCount[k], keyURL[k] = n, w.URL
	}
	truthSitemaps := map[string]bool{}
	for _, sm := range truth.Sitemaps {
		k := requestKey(sm.URL)
		if _, ok := wantCount[k]; ok {
			t.Fatalf("%s is both a page and a sitemap file of the truth: this test cannot tell their requests apart", sm.URL)
		}
		truthSitemaps[k] = true
	}
	var unexpected, unrequested, wrongCount, sitemapBad []string
	var again []string // requested once more than a fault-free crawl: only URLs the kill interrupted
	var robotsReq, sitemapReq, sitemapExtra, pageReq int64
	for k, n := range counts {
		host, path, _ := strings.Cut(k, " ")
		want, isPage := wantCount[k]
		switch {
		case path == "/robots.txt":
			robotsReq += n
		case !isPage && (truthSitemaps[k] || slices.Contains(siteSitemapPaths, path)):
			// A sitemap file. The truth reads those of each Tranco seed's
			// host; the design reads them "for each seed", and a depth-0
			// redirect target is a seed too, so the product also reads
			// the hosts of redirect targets, once per seed on the host.
			sitemapReq += n
			if !truthSitemaps[k] {
				sitemapExtra += n
			}
			if seedsOnHost[host] == 0 || n > 2*seedsOnHost[host] {
				sitemapBad = append(sitemapBad, fmt.Sprintf("http://%s%s read %d times; %d seeds on the host", host, path, n, seedsOnHost[host]))
			}
		case !isPage:
			pageReq += n
			unexpected = append(unexpected, fmt.Sprintf("http://%s%.200s requested %d times", host, path, n))
		case n == want:
			pageReq += n
		case n == want+1:
			pageReq += n
			again = append(again, fmt.Sprintf("%s: %d requests, a fault-free crawl makes %d", keyURL[k], n, want))
		default:
			pageReq += n
			wrongCount = append(wrongCount, fmt.Sprintf("%s: %d requests, want %d", keyURL[k], n, want))
		}
	}
	for k, want := range wantCount {
		if counts[k] == 0 {
			unrequested = append(unrequested, fmt.Sprintf("%s (want %d requests)", keyURL[k], want))
		}
	}
	for k := range truthSitemaps {
		if counts[k] == 0 {
			sitemapBad = append(sitemapBad, "http://"+strings.Replace(k, " ", "", 1)+" never read")
		}
	}

	// 3. Nofollow-only pages: linked only with rel=nofollow, or only from a
	// page whose meta robots or X-Robots-Tag says nofollow. The truth
	// leaves them out; check by path that nothing requested or admitted
	// them, and, as a control, count the children of noindex-only and
	// other-crawler pages that were crawled.
	nofollowOnly := []string{"/hidden/h0.html", "/hidden/h1.html", "/meta/nofollow-child.html", "/meta/none-child.html",
		"/meta/upper-child.html", "/meta/xrt-nofollow-child.html"}
	followedControls := []string{"/meta/noindex-child.html", "/meta/otherbot-child.html", "/meta/xrt-noindex-child.html"}
	var nofollowHit []string
	controls := 0
	for _, r := range sites {
		d := model.Domain(r)
		for _, p := range nofollowOnly {
			u := "http://" + d + p
			if _, ok := truth.Get(u); ok {
				nofollowHit = append(nofollowHit, u+": in websim's truth")
			}
			if frontier[u] {
				nofollowHit = append(nofollowHit, u+": in the frontier")
			}
			if counts[d+" "+p] > 0 {
				nofollowHit = append(nofollowHit, u+": requested")
			}
		}
		for _, p := range followedControls {
			if _, ok := truth.Get("http://" + d + p); ok && counts[d+" "+p] == 1 {
				controls++
			}
		}
	}

	// 4. Politeness, from websim's timelines. No two requests to one site
	// (a domain and its www. alias) overlap: the master never has a site
	// in flight on two slots. Per host, every start is at least the host's
	// delay after the previous one, robots.txt and sitemaps included:
	// delay = max(default_delay, min(Crawl-delay, max_crawl_delay)).
	//
	// The kill does not break this: the killed assistant's last request
	// to a site was sent before the SIGKILL, and the master gives its sites
	// to the other assistant only once it has declared it down (down_after
	// polls, about 750 ms), far longer than any delay here. When it comes
	// back, its sites return to it only once no URL of theirs is leased on
	// the other assistant, and the master plans each site's next batch from
	// the wait the assistant reported (next_request_after). A host taken
	// over by an assistant shows as its robots.txt fetched again (the new
	// assistant's cache is cold); the report gives the smallest gap before
	// such a take-over (hundreds of ms in every run so far), and the short
	// gaps before and after the kill.
	timeline, err := readTimeline(tlPath)
	if err != nil {
		t.Fatal(err)
	}
	bySite := map[string][]websim.RequestSpan{}
	gaps := map[time.Duration]*gapStat{}
	var overlaps, short, incomplete []string
	var shortBefore, shortAfter, gapsBefore, gapsAfter int
	// A robots.txt requested again after the host's pages is, apart from
	// retries of an unavailable robots.txt, an assistant that took the
	// host over with a cold cache: the kill (the other assistant takes the
	// killed one's sites) and the restart (they move back).
	moves := gapStat{}
	var movesShort int
	spans := 0
	perHost := map[string]int64{}
	for k, n := range counts {
		h, _, _ := strings.Cut(k, " ")
		perHost[h] += n
	}
	for host, hs := range timeline {
		spans += len(hs)
		bySite[siteOf(host)] = append(bySite[siteOf(host)], hs...)
		if int64(len(hs)) != perHost[host] {
			incomplete = append(incomplete, fmt.Sprintf("%s: %d spans, %d requests counted", host, len(hs), perHost[host]))
		}
		delay := max(siteDefaultDelay, min(model.CrawlDelay(host), siteMaxCrawlDelay))
		g := gaps[delay]
		if g == nil {
			g = &gapStat{}
			gaps[delay] = g
		}
		g.hosts++
		for i := 1; i < len(hs); i++ {
			gap := hs[i].Start.Sub(hs[i-1].Start)
			g.add(host, gap, delay, siteClockTolerance)
			if hs[i].Path == "/robots.txt" && slices.ContainsFunc(hs[:i], func(sp websim.RequestSpan) bool { return sp.Path != "/robots.txt" }) {
				moves.add(host, gap, delay, siteClockTolerance)
				if gap < delay-siteClockTolerance {
					movesShort++
				}
			}
			after := hs[i].Start.After(killAt)
			if after {
				gapsAfter++
			} else {
				gapsBefore++
			}
			if gap >= delay-siteClockTolerance {
				continue
			}
			if after {
				shortAfter++
			} else {
				shortBefore++
			}
			prev := "(first gap)"
			if i >= 2 {
				prev = hs[i-1].Start.Sub(hs[i-2].Start).Round(10 * time.Microsecond).String()
			}
			short = append(short, fmt.Sprintf("%08.3fms short: %s: %.60s at t=%.3fs, %s after %.60s (delay %s; the gap before that one: %s)",
				float64(delay-gap)/1e6, host, hs[i].Path, hs[i].Start.Sub(t0).Seconds(), gap.Round(10*time.Microsecond), hs[i-1].Path, delay, prev))
		}
	}
	for site, ss := range bySite {
		slices.SortFunc(ss, func(a, b websim.RequestSpan) int { return a.Start.Compare(b.Start) })
		for i := 1; i < len(ss); i++ {
			if prev := ss[i-1]; prev.End.IsZero() || ss[i].Start.Before(prev.End) {
				overlaps = append(overlaps, fmt.Sprintf("%s: %s%s [%s, %s] and %s%s from %s", site, prev.Host, prev.Path,
					prev.Start.Format("15:04:05.000000"), prev.End.Format("15:04:05.000000"), ss[i].Host, ss[i].Path,
					ss[i].Start.Format("15:04:05.000000")))
			}
		}
	}

	// The report.
	var report strings.Builder
	fmt.Fprintf(&report, "site crawl: %d domains, %d sites (pages %s, every feature), %s, 2 assistants x %d slots, poll %s\n",
		siteDomains, len(sites), sitePages, sitePolicy, siteSlots, sitePoll)
	fmt.Fprintf(&report, "truth: %d URLs (%d requested), %d sitemap files; frontier: %d rows; every URL final after %s\n",
		len(truth.URLs), len(wantCount), len(truth.Sitemaps), len(frontier), crawlTime.Round(100*time.Millisecond))
	fmt.Fprintf(&report, "assistant-1 SIGKILLed at t=%.1fs (%d of %d URLs final), restarted 1.5 s later: %d URLs released, %d charged (batch log: %d, %d)\n",
		killAt.Sub(t0).Seconds(), killFinal, killTotal, int(sumWhere(released)), charged, logReleased, logCharged)
	fmt.Fprintf(&report, "  released by reason: %v\n", released)
	fmt.Fprintf(&report, "requests at websim: %d pages, %d robots.txt, %d sitemap files (%d of them for redirect-target seeds, beyond the truth's %d)\n",
		pageReq, robotsReq, sitemapReq, sitemapExtra, len(truth.Sitemaps))
	fmt.Fprintf(&report, "URLs requested once more than a fault-free crawl (the kill): %d, charged %d\n", len(again), charged)
	fmt.Fprintf(&report, "links refused by the policy: %v\n", refused)
	fmt.Fprintf(&report, "disallowed requests: %d; nofollow-only pages requested or admitted: %d (noindex/otherbot children crawled: %d); URLs beyond the guards: %d\n",
		disallowed, len(nofollowHit), controls, len(guardBad))
	fmt.Fprintf(&report, "timeline: %d requests on %d hosts; overlapping requests to a site: %d\n", spans, len(timeline), len(overlaps))
	for _, d := range sortedKeys(gaps) {
		g := gaps[d]
		fmt.Fprintf(&report, "  delay %-5s %4d hosts, %6d gaps, min %-12s (%s); %d within the %s tolerance\n",
			d, g.hosts, g.gaps, g.min.Round(10*time.Microsecond), g.minHost, g.nearMiss, siteClockTolerance)
	}
	fmt.Fprintf(&report, "  gaps short of delay - %s: %d of %d before the kill, %d of %d after\n",
		siteClockTolerance, shortBefore, gapsBefore, shortAfter, gapsAfter)
	fmt.Fprintf(&report, "  hosts taken over by another assistant (robots.txt fetched again): %d, min gap before it %s (%s), %d short\n",
		moves.gaps, moves.min.Round(10*time.Microsecond), moves.minHost, movesShort)
	fmt.Fprintf(&report, "leases left: %d; duplicate URLs: %d; frontier vs truth: %d extra, %d wrong, %d missing; requests: %d unexpected, %d missing, %d miscounted\n",
		leases, len(dupURLs), len(extra), len(wrong), len(missing), len(unexpected), len(unrequested), len(wrongCount))
	fmt.Print(report.String())
	_ = os.WriteFile("../../.data/sites-report.txt", []byte(report.String()), 0o644)

	for _, c := range []struct {
		what string
		l    []string
	}{
		{"frontier rows not in the truth", extra},
		{"frontier rows differing from the truth", wrong},
		{"truth URLs missing from the frontier", missing},
		{"duplicate frontier URLs", dupURLs},
		{"frontier URLs beyond the default guards", guardBad},
		{"requests websim served that the truth does not request", unexpected},
		{"truth URLs never requested", unrequested},
		{"URLs requested a number of times no kill explains", wrongCount},
		{"sitemap reads", sitemapBad},
		{"nofollow-only pages", nofollowHit},
		{"overlapping requests to one site", overlaps},
		{"hosts whose timeline is incomplete", incomplete},
	} {
		if len(c.l) > 0 {
			slices.Sort(c.l)
			t.Errorf("%d %s:\n  %s", len(c.l), c.what, head(c.l))
		}
	}
	if len(short) > 0 {
		slices.Sort(short)
		slices.Reverse(short) // the largest shortfall first
		t.Errorf("%d gaps between two requests to a host shorter than its delay - %s (%d before the kill, %d after), e.g.:\n  %s",
			len(short), siteClockTolerance, shortBefore, shortAfter, head(short))
	}
	if len(again) > releasedN {
		slices.Sort(again)
		t.Errorf("%d URLs requested once more than a fault-free crawl needs; the kill explains at most the %d URLs the master released:\n  %s",
			len(again), releasedN, head(again))
	}
	if sumWhere(released) == 0 {
		t.Errorf("the kill released no URL, so it interrupted nothing (released_urls_total: %v)", released)
	}
	if disallowed != 0 {
		t.Errorf("%d requests to robots-disallowed paths", disallowed)
	}
	if leases != 0 {
		t.Errorf("%d leases left", leases)
	}
}

// head joins the first 15 of l, saying how many more there are.
func head(l []string) string {
	if len(l) > 15 {
		l = append(l[:15:15], fmt.Sprintf("... %d more", len(l)-15))
	}
	return strings.Join(l, "\n  ")
}
