package master_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base32"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/crawlmaster/crawlmaster/crawl/netguard"
	"github.com/crawlmaster/crawlmaster/internal/config"
	"github.com/crawlmaster/crawlmaster/internal/promtest"
	"github.com/crawlmaster/crawlmaster/internal/testwait"
	"github.com/crawlmaster/crawlmaster/internal/warcio"
	"github.com/crawlmaster/crawlmaster/internal/websim"
	"github.com/crawlmaster/crawlmaster/master"
	"github.com/crawlmaster/crawlmaster/master/frontier"
)

// TestRevisitsEndToEnd keeps three crawls fresh at once on websim's
// changing pages, sharing two assistants: an adaptive crawl, a fixed one
// whose results are kept 4 s (retention), and a scheduled one whose seeds
// come round every 3 s. It checks the history, the conditional requests
// (a 304 transfers no body), change detection against websim's truth,
// the adaptive intervals' order, retention while the crawl runs, the
// rounds, the stored heads, and the WARC and JSONL exports read back
// (WARC by warcio.js) against the database.
func TestRevisitsEndToEnd(t *testing.T) {
	const domains = 40
	simCfg := websim.Config{Domains: domains, Seed: 11, Fractions: websim.DefaultFractions(), HangFor: 30 * time.Second,
		Changing: websim.ChangingConfig{Enabled: true, Intervals: []time.Duration{2 * time.Second, 4 * time.Second, 8 * time.Second},
			IgnoreConditionalShare: 0.3, PagesPerHost: 2}}
	adaptive := frontier.NewCrawl("adaptive")
	adaptive.MaxDepth = 0
	adaptive.Revisit = frontier.Revisit{Mode: frontier.RevisitAdaptive, Done: time.Second, Failed: 0, Dead: 0,
		Min: 500 * time.Millisecond, Max: 30 * time.Second}
	// The home pages are the adaptive crawl's seeds too (they never change).
	c := newClusterCrawl(t, simCfg, &adaptive, func(cfg *config.Config) {
		cfg.Dispatch.PollInterval = 200 * time.Millisecond
		cfg.Dispatch.PollTimeout = 150 * time.Millisecond
	}, 2, 8)
	ctx := context.Background()
	ad, err := c.store.Crawl(ctx, "adaptive")
	if err != nil {
		t.Fatal(err)
	}
	fixed := frontier.NewCrawl("fixed")
	fixed.MaxDepth = 0
	fixed.Revisit = frontier.Revisit{Mode: frontier.RevisitFixed, Done: 2 * time.Second, Min: time.Second, Max: time.Hour}
	fixed.Retention = 4 * time.Second
	sched := frontier.NewCrawl("sched")
	sched.MaxDepth = 0
	sched.Schedule = frontier.Schedule{Every: 3 * time.Second, Overlap: frontier.OverlapSkip}
	var changing, fixedURLs, schedURLs []string
	n := 0
	for r := 1; r <= domains; r++ {
		urls := c.sim.ChangingURLs(r)
		if len(urls) == 0 {
			continue
		}
		switch n++; n % 4 {
		case 0:
			fixedURLs = append(fixedURLs, urls...)
		case 1:
			schedURLs = append(schedURLs, urls[0])
		default:
			changing = append(changing, urls...)
		}
	}
	if len(changing) < 8 || len(fixedURLs) < 4 || len(schedURLs) < 3 {
		t.Fatalf("too few changing pages: %d adaptive, %d fixed, %d scheduled", len(changing), len(fixedURLs), len(schedURLs))
	}
	guard := netguard.New(c.cfg.Fetch.AllowedPrefixes())
	for _, k := range []struct {
		crawl *frontier.Crawl
		urls  []string
	}{{&ad, changing}, {&fixed, fixedURLs}, {&sched, schedURLs}} {
		cr := *k.crawl
		if cr.ID == 0 {
			if cr, err = c.store.CreateCrawl(ctx, cr); err != nil {
				t.Fatal(err)
			}
			*k.crawl = cr
		}
		if _, err := master.Enqueue(ctx, c.store, cr, strings.NewReader(strings.Join(k.urls, "\n")), 0, guard); err != nil {
			t.Fatal(err)
		}
	}
	var before int64
	if err := c.pool.QueryRow(ctx, `SELECT count(*) FROM frontier`).Scan(&before); err != nil {
		t.Fatal(err)
	}

	c.startMaster()
	reg := c.registry
	// Revisits fall due by the wall clock: run until the scheduled crawl
	// had seven rounds (about 21 s) and every adaptive page was fetched
	// five times, then check what happened in that time.
	start := time.Now()
	testwait.UntilWhy(t, "seven rounds and five fetches of every adaptive page", 2*time.Minute, 250*time.Millisecond, func() (bool, string) {
		var rounds, fewest int64
		err := c.pool.QueryRow(ctx, `SELECT (SELECT rounds FROM crawls WHERE name = 'sched'),
			(SELECT coalesce(min(n), 0) FROM (SELECT f.id, count(r.lease_token) AS n FROM frontier f LEFT JOIN results r ON r.url_id = f.id
			 WHERE f.crawl_id = $1 AND f.url LIKE '%/changing/%' GROUP BY f.id) k)`, ad.ID).Scan(&rounds, &fewest)
		return err == nil && rounds >= 7 && fewest >= 5, fmt.Sprintf("rounds %d, fewest fetches %d, err %v", rounds, fewest, err)
	})
	elapsed := time.Since(start)
	c.stop()

	// History: revisits add results rows; the frontier gained no row.
	var after int64
	if err := c.pool.QueryRow(ctx, `SELECT count(*) FROM frontier`).Scan(&after); err != nil {
		t.Fatal(err)
	}
	if after != before {
		t.Errorf("frontier rows %d -> %d: revisits must not add URLs", before, after)
	}
	type fetch struct {
		token                   int64
		at                      time.Time
		status                  int
		size                    int64
		hash                    []byte
		notMod, unchanged, body bool
		reqHead, respHead       string
	}
	hist := map[string][]fetch{}
	rows, err := c.pool.Query(ctx, `
SELECT r.url, r.lease_token, r.fetched_at, r.http_status, r.body_size, r.content_hash, r.not_modified, r.unchanged,
       b.lease_token IS NOT NULL, convert_from(coalesce(r.request_head, ''), 'UTF8'), convert_from(coalesce(r.response_head, ''), 'UTF8')
FROM results r LEFT JOIN bodies b USING (lease_token) WHERE r.crawl_id = $1 AND r.url LIKE '%/changing/%' ORDER BY r.url, r.fetched_at`, ad.ID)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var u string
		var f fetch
		if err := rows.Scan(&u, &f.token, &f.at, &f.status, &f.size, &f.hash, &f.notMod, &f.unchanged, &f.body, &f.reqHead, &f.respHead); err != nil {
			t.Fatal(err)
		}
		hist[u] = append(hist[u], f)
	}
	if rows.Err() != nil {
		t.Fatal(rows.Err())
	}
	var notMod, unchangedFull, changed, races int
	for _, u := range changing {
		h := hist[u]
		if len(h) < 5 {
			t.Errorf("%s: %d fetches, want at least 5", u, len(h))
			continue
		}
		pu, _ := url.Parse(u)
		ignores := c.sim.IgnoresConditional(pu.Host)
		for i, f := range h {
			page, _ := c.sim.ChangingPageAt(pu.Host, pu.Path, f.at)
			if f.status == 200 && !strings.Contains(f.respHead, "Etag: "+page.ETag+"\r\n") {
				// The version may have turned between the request's start
				// and its answer; the next version's ETag then.
				later, _ := c.sim.ChangingPageAt(pu.Host, pu.Path, f.at.Add(time.Second))
				if !strings.Contains(f.respHead, "Etag: "+later.ETag+"\r\n") {
					t.Errorf("%s fetch %d: stored response head lacks the page's ETag %s:\n%s", u, i, page.ETag, f.respHead)
				}
			}
			if f.notMod {
				notMod++
				if ignores {
					t.Errorf("%s ignores conditional requests but fetch %d is a 304", u, i)
				}
				if f.size != 0 || f.body || f.status != 304 || !f.unchanged {
					t.Errorf("%s fetch %d: a 304 with body size %d, body row %v, status %d, unchanged %v", u, i, f.size, f.body, f.status, f.unchanged)
				}
			}
			if i == 0 {
				continue
			}
			if !strings.Contains(f.reqHead, "If-None-Match: ") {
				t.Errorf("%s fetch %d: a revisit sent no If-None-Match:\n%s", u, i, f.reqHead)
			}
			prev := h[i-1]
			pv, _ := c.sim.Version(pu.Host, pu.Path, prev.at)
			v, _ := c.sim.Version(pu.Host, pu.Path, f.at)
			pv2, _ := c.sim.Version(pu.Host, pu.Path, prev.at.Add(300*time.Millisecond))
			v2, _ := c.sim.Version(pu.Host, pu.Path, f.at.Add(300*time.Millisecond))
			if pv != pv2 || v != v2 {
				races++ // a version turned while a request was on the wire
				continue
			}
			if f.unchanged != (pv == v) {
				t.Errorf("%s fetch %d: unchanged=%v, but websim's version went %d -> %d", u, i, f.unchanged, pv, v)
			}
			switch {
			case f.unchanged && !f.notMod:
				unchangedFull++
				if !ignores {
					t.Errorf("%s honours conditional requests, but unchanged fetch %d was a full 200", u, i)
				}
				if !bytes.Equal(f.hash, prev.hash) {
					t.Errorf("%s fetch %d: unchanged with a different hash", u, i)
				}
			case !f.unchanged:
				changed++
			}
		}
	}
	t.Logf("adaptive changing pages: %d 304s, %d unchanged 200s (hosts ignoring validators), %d changed, %d at a version boundary; websim sent %d 304s, %d body bytes",
		notMod, unchangedFull, changed, races, c.sim.NotModifiedResponses(), c.sim.ChangingBodyBytes())
	if notMod == 0 || changed == 0 {
		t.Errorf("want both 304s and changed pages, got %d and %d", notMod, changed)
	}

	// Adaptive intervals follow the change intervals: pages changing every
	// 2 s end up revisited sooner than pages changing every 8 s.
	byTrue := map[time.Duration][]float64{}
	rows, err = c.pool.Query(ctx, `SELECT url, rv_interval FROM frontier WHERE crawl_id = $1 AND url LIKE '%/changing/%' AND rv_interval IS NOT NULL`, ad.ID)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var u string
		var iv float64
		if err := rows.Scan(&u, &iv); err != nil {
			t.Fatal(err)
		}
		pu, _ := url.Parse(u)
		T, _ := c.sim.ChangeInterval(pu.Host, pu.Path)
		byTrue[T] = append(byTrue[T], iv)
	}
	med := func(v []float64) float64 { slices.Sort(v); return v[len(v)/2] }
	if len(byTrue[2*time.Second]) > 0 && len(byTrue[8*time.Second]) > 0 && med(byTrue[2*time.Second]) >= med(byTrue[8*time.Second]) {
		t.Errorf("adaptive intervals: median %.2fs for pages changing every 2s, %.2fs for 8s", med(byTrue[2*time.Second]), med(byTrue[8*time.Second]))
	}
	for T, v := range byTrue {
		t.Logf("pages changing every %v: adaptive interval median %.2fs (%d pages)", T, med(v), len(v))
	}

	// Fixed: about one fetch per 2 s; retention kept only the last 4 s
	// (plus a retention pass and the stop), the frontier rows all stay,
	// and no body outlived its result.
	var fixedN, fixedOld, orphanBodies int64
	var fixedFirst time.Time
	if err := c.pool.QueryRow(ctx, `SELECT count(*), coalesce(min(persisted_at), now()),
		count(*) FILTER (WHERE persisted_at < now() - interval '8 seconds'),
		(SELECT count(*) FROM bodies b LEFT JOIN results r USING (lease_token) WHERE r.lease_token IS NULL)
		FROM results WHERE crawl_id = $1`, fixed.ID).Scan(&fixedN, &fixedFirst, &fixedOld, &orphanBodies); err != nil {
		t.Fatal(err)
	}
	deleted := promtest.Value(t, reg, "crawlmaster_upkeep_retention_deleted_total", map[string]string{"table": "results"})
	if fixedN == 0 || fixedOld > 0 || orphanBodies != 0 || deleted < float64(len(fixedURLs)) {
		t.Errorf("retention: %d results of the fixed crawl kept, %d older than 8 s, %d orphan bodies, %v deleted", fixedN, fixedOld, orphanBodies, deleted)
	}
	var fixedRows int64
	if err := c.pool.QueryRow(ctx, `SELECT count(*) FROM frontier WHERE crawl_id = $1`, fixed.ID).Scan(&fixedRows); err != nil || fixedRows != int64(len(fixedURLs)) {
		t.Errorf("fixed crawl frontier rows %d (err %v), want %d", fixedRows, err, len(fixedURLs))
	}
	fetchedFixed := deleted + float64(fixedN)
	want := elapsed.Seconds() / 2
	if per := fetchedFixed / float64(len(fixedURLs)); per < want/2 || per > want+2 {
		t.Errorf("fixed crawl: %.1f fetches per URL in %v, want about %.1f (every 2 s)", per, elapsed.Round(time.Second), want)
	}

	// Scheduled: a round every 3 s, each fetching every seed.
	sc, err := c.store.Crawl(ctx, "sched")
	if err != nil {
		t.Fatal(err)
	}
	var schedN int64
	if err := c.pool.QueryRow(ctx, `SELECT count(*) FROM results WHERE crawl_id = $1`, sc.ID).Scan(&schedN); err != nil {
		t.Fatal(err)
	}
	if maxRounds := int(elapsed/(3*time.Second)) + 2; sc.Rounds < 7 || sc.Rounds > maxRounds || schedN < int64(7*len(schedURLs)) {
		t.Errorf("scheduled crawl: %d rounds, %d fetches of %d seeds in %v; want 7..%d rounds (one per 3 s), each fetching every seed",
			sc.Rounds, schedN, len(schedURLs), elapsed.Round(time.Second), maxRounds)
	}

	// master status shows how the crawls share the assistants.
	rep, err := master.ReadReport(ctx, c.store)
	if err != nil {
		t.Fatal(err)
	}
	var status bytes.Buffer
	if err := rep.Write(&status); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"crawl adaptive (active)", "crawl fixed (active)", "crawl sched (active)", "in flight", "share the assistants by URL priority",
		"revisit adaptive 500ms..30s", "every 3s (overlap skip", "retention 4s"} {
		if !strings.Contains(status.String(), want) {
			t.Errorf("master status lacks %q:\n%s", want, status.String())
		}
	}

	// Export: WARC read back by warcio.js, JSON Lines, both against the
	// database.
	checkExports(t, c, "adaptive")
}

func checkExports(t *testing.T, c *cluster, crawl string) {
	ctx := context.Background()
	dir := t.TempDir()
	var progress bytes.Buffer
	rep, err := master.Export(ctx, c.store, master.ExportOptions{Crawl: crawl, Format: "warc", Dir: dir, MaxFileSize: 64 << 10}, &progress)
	if err != nil {
		t.Fatal(err)
	}
	var results, withResp, unchanged int64
	if err := c.pool.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE response_head IS NOT NULL),
		count(*) FILTER (WHERE response_head IS NOT NULL AND unchanged AND (not_modified
		                 OR (content_hash IS NOT NULL AND length(coalesce(b.body, '')) >= r.body_size)))
		FROM results r JOIN crawls k ON k.id = r.crawl_id LEFT JOIN bodies b USING (lease_token) WHERE k.name = $1`, crawl).Scan(&results, &withResp, &unchanged); err != nil {
		t.Fatal(err)
	}
	if rep.Records != results || len(rep.Files) < 2 {
		t.Fatalf("WARC export: %d records in %d files, database has %d results (want >= 2 files at 64 KiB)", rep.Records, len(rep.Files), results)
	}
	recs := warcio.Read(t, rep.Files...)
	count := map[string]int64{}
	// Each fetch with a response, by target URI and date as the WARC
	// records name it: the stored body's SHA-256 and the content hash.
	type stored struct{ body, content string }
	byKey := map[string]stored{}
	rows, err := c.pool.Query(ctx, `SELECT r.final_url, r.fetched_at, encode(sha256(coalesce(b.body, '')), 'hex'), encode(coalesce(r.content_hash, ''), 'hex')
		FROM results r JOIN crawls k ON k.id = r.crawl_id LEFT JOIN bodies b USING (lease_token)
		WHERE k.name = $1 AND r.response_head IS NOT NULL`, crawl)
	if err != nil {
		t.Fatal(err)
	}
	key := func(uri string, at time.Time) string { return uri + " " + at.UTC().Format(time.RFC3339Nano) }
	for rows.Next() {
		var fu, body, content string
		var at time.Time
		if err := rows.Scan(&fu, &at, &body, &content); err != nil {
			t.Fatal(err)
		}
		byKey[key(fu, at)] = stored{body, content}
	}
	if rows.Err() != nil {
		t.Fatal(rows.Err())
	}
	for _, r := range recs {
		count[r.Type]++
		if r.Type != "response" && r.Type != "revisit" {
			continue
		}
		at, err := time.Parse(time.RFC3339Nano, r.Date)
		want, ok := byKey[key(r.TargetURI, at)]
		if err != nil || !ok {
			t.Errorf("WARC %s %s (%s): no stored fetch of that URI and date (%v)", r.Type, r.TargetURI, r.Date, err)
			continue
		}
		switch {
		case r.Type == "response" && r.PayloadSHA256 != want.body:
			t.Errorf("WARC response %s (%s): payload sha256 %s, the stored body's is %s", r.TargetURI, r.Date, r.PayloadSHA256, want.body)
		case r.Type == "revisit" && r.PayloadDigest != "" && hex.EncodeToString(decodeWARCDigest(t, r.PayloadDigest)) != want.content:
			t.Errorf("WARC revisit %s (%s): WARC-Payload-Digest %s, the content hash is %s", r.TargetURI, r.Date, r.PayloadDigest, want.content)
		}
	}
	// Revisit records: the unchanged fetches, but for those whose stored
	// body is shorter than the fetched one (noindex, past the stored body
	// cap), written as responses.
	t.Logf("WARC: %d files, records %v; database: %d results, %d with a response, %d unchanged", len(rep.Files), count, results, withResp, unchanged)
	if count["warcinfo"] != int64(len(rep.Files)) || count["response"] != withResp-unchanged || count["revisit"] != unchanged || count["request"] != withResp {
		t.Errorf("WARC record counts %v; want warcinfo %d, response %d, revisit %d, request %d",
			count, len(rep.Files), withResp-unchanged, unchanged, withResp)
	}
	if !strings.Contains(progress.String(), "cursor "+rep.Cursor.String()) {
		t.Errorf("progress does not end with the cursor %s:\n%s", rep.Cursor, progress.String())
	}
	// Resuming from the printed cursor exports nothing more.
	again, err := master.Export(ctx, c.store, master.ExportOptions{Crawl: crawl, Format: "jsonl", Dir: t.TempDir(), After: rep.Cursor}, &progress)
	if err != nil || again.Records != 0 {
		t.Errorf("export resumed at the end: %d records, err %v", again.Records, err)
	}

	jdir := t.TempDir()
	jrep, err := master.Export(ctx, c.store, master.ExportOptions{Crawl: crawl, Format: "jsonl", Dir: jdir}, &progress)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(jrep.Files[0])
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines int64
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("JSONL line %d: %v", lines+1, err)
		}
		if m["url"] == nil || m["fetched_at"] == nil || m["state"] == nil {
			t.Errorf("JSONL line %d lacks url, fetched_at or state: %s", lines+1, sc.Bytes())
		}
		if h, _ := m["content_hash"].(string); h != "" {
			if _, err := hex.DecodeString(h); err != nil {
				t.Errorf("JSONL line %d: content_hash %q", lines+1, h)
			}
		}
		lines++
	}
	if lines != results {
		t.Errorf("JSONL: %d lines, database has %d results", lines, results)
	}
}

// decodeWARCDigest decodes "sha256:<base32>" (padded or not).
func decodeWARCDigest(t *testing.T, d string) []byte {
	t.Helper()
	v, ok := strings.CutPrefix(d, "sha256:")
	if !ok {
		t.Fatalf("digest %q: want sha256:<base32>", d)
	}
	b, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.TrimRight(v, "="))
	if err != nil {
		t.Fatalf("digest %q: %v", d, err)
	}
	return b
}
