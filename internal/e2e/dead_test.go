package e2e

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/crawlmaster/crawlmaster/crawl/errclass"
	"github.com/crawlmaster/crawlmaster/internal/pgtest"
	"github.com/crawlmaster/crawlmaster/master/frontier"
	"github.com/crawlmaster/crawlmaster/master/store"
)

// deadAllShards lists every shard, so a claim sees every URL.
var deadAllShards = func() []int16 {
	s := make([]int16, frontier.NumShards)
	for i := range s {
		s[i] = int16(i)
	}
	return s
}()

// deadFrontier fills a migrated database the way a crawl would: URLs that
// failed transiently on all three attempts (dead), one done, one failed, two
// leased and one pending. The dead ones are persisted one per transaction
// in the order given, so the last is the newest.
func deadFrontier(t *testing.T, st *store.Store, dead map[string]frontier.Outcome, order []string) {
	t.Helper()
	ctx := t.Context()
	var urls []store.NewURL
	for i, name := range append(append([]string{}, order...), "done", "failed") {
		d := name + ".example"
		urls = append(urls, store.NewURL{URL: "https://" + d + "/", Host: d, Domain: d, Priority: int32(i + 1)})
	}
	if _, err := st.Insert(ctx, defaultCrawl, urls, store.SourceTranco); err != nil {
		t.Fatal(err)
	}
	claim := func() map[string]frontier.Task {
		tasks, err := st.Claim(ctx, frontier.Claim{Shards: deadAllShards, Limit: 100, Lease: time.Hour, Assistant: "a1"})
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]frontier.Task{}
		for _, tk := range tasks {
			out[strings.TrimSuffix(tk.Domain, ".example")] = tk
		}
		return out
	}
	persist := func(outs ...frontier.Outcome) {
		t.Helper()
		acc, err := st.Persist(ctx, outs)
		if err != nil || acc.Accepted.Total() != int64(len(outs)) {
			t.Fatalf("Persist: %v, %v", acc, err)
		}
	}
	result := func(tk frontier.Task, state frontier.State, class, msg string) frontier.Outcome {
		return frontier.Outcome{URLID: tk.URLID, Token: tk.Token, State: state, URL: tk.URL, FinalURL: tk.URL,
			Class: errclass.Class(class), Error: msg, Attempts: int32(tk.Attempts), Assistant: "a1", FetchedAt: time.Now(),
			NextFetchAt: time.Now().Add(-time.Second)}
	}
	for attempt := 1; attempt <= 3; attempt++ {
		tasks := claim()
		if attempt == 1 {
			persist(result(tasks["done"], frontier.StateDone, "ok", ""),
				result(tasks["failed"], frontier.StateFailed, "http_4xx", "404 Not Found"))
		}
		for _, name := range order {
			tk := tasks[name]
			o := dead[name]
			if tk.Attempts != attempt {
				t.Fatalf("%s: attempt %d, want %d", name, tk.Attempts, attempt)
			}
			if attempt < 3 {
				persist(result(tk, frontier.StatePending, string(o.Class), o.Error))
			} else {
				persist(result(tk, frontier.StateDead, string(o.Class), o.Error))
			}
		}
	}
	// Two leased URLs and one pending, which no dead command may touch.
	if _, err := st.Insert(ctx, defaultCrawl, []store.NewURL{
		{URL: "https://leased1.example/", Host: "leased1.example", Domain: "leased1.example", Priority: 1},
		{URL: "https://leased2.example/", Host: "leased2.example", Domain: "leased2.example", Priority: 2},
	}, store.SourceTranco); err != nil {
		t.Fatal(err)
	}
	if n := len(claim()); n != 2 {
		t.Fatalf("leased %d, want 2", n)
	}
	if _, err := st.Insert(ctx, defaultCrawl, []store.NewURL{
		{URL: "https://pending.example/", Host: "pending.example", Domain: "pending.example", Priority: 1},
	}, store.SourceTranco); err != nil {
		t.Fatal(err)
	}
}

type deadFrontierState struct {
	State      string
	Attempts   int
	LeaseToken int64
	Due        bool // next_fetch_at <= now()
	Updated    time.Time
}

// deadFrontierStates returns each frontier row's state by host.
func deadFrontierStates(t *testing.T, pool *pgxpool.Pool) map[string]deadFrontierState {
	t.Helper()
	rows, err := pool.Query(context.Background(), `SELECT host, state, attempts, coalesce(lease_token, 0),
		next_fetch_at <= now(), updated_at FROM frontier`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]deadFrontierState{}
	for rows.Next() {
		var host string
		var f deadFrontierState
		if err := rows.Scan(&host, &f.State, &f.Attempts, &f.LeaseToken, &f.Due, &f.Updated); err != nil {
			t.Fatal(err)
		}
		out[strings.TrimSuffix(host, ".example")] = f
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// deadExitCode is a command's exit status (0 for success, -1 when it did not
// exit on its own).
func deadExitCode(err error) int {
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.ExitCode()
	}
	return -1
}

// deadCheckOrder fails unless out contains the needles in the given order.
func deadCheckOrder(t *testing.T, out string, needles ...string) {
	t.Helper()
	last := -1
	for _, n := range needles {
		i := strings.Index(out, n)
		if i < 0 || i < last {
			t.Fatalf("output lacks %q after position %d:\n%s", n, last, out)
		}
		last = i
	}
}

// TestDeadCommands runs `master dead list` and `master dead retry` against
// a frontier with dead URLs of two classes, checking the output and the
// database after each.
func TestDeadCommands(t *testing.T) {
	skipInShort(t, "process")
	t.Parallel()
	ctx := t.Context()
	dir := t.TempDir()
	dbURL := pgtest.NewDatabase(t)
	env := []string{"DATABASE_URL=" + dbURL}
	cfg := writeFile(t, dir, "rpc.yaml", minimalConfig)

	st, pool, err := store.Open(ctx, dbURL, 4)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if _, err := store.Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}

	// Nothing dead yet.
	if out, err := run(t, env, "master", "dead", "list", "--config", cfg); err != nil || out != "no dead URLs\n" {
		t.Fatalf("dead list on an empty frontier: %v\n%s", err, out)
	}

	long := "503 Service Unavailable: " + strings.Repeat("upstream overloaded ", 10)
	dead := map[string]frontier.Outcome{
		"t1": {Class: "timeout", Error: "i/o timeout"},
		"t2": {Class: "timeout", Error: "context deadline exceeded\n\t(after 30s)"},
		"h1": {Class: "http_5xx", Error: long},
		"t3": {Class: "timeout", Error: "read: i/o timeout"},
		"h2": {Class: "http_5xx", Error: "502 Bad Gateway"},
	}
	order := []string{"t1", "t2", "h1", "t3", "h2"} // h2 is the newest
	deadFrontier(t, st, dead, order)
	before := deadFrontierStates(t, pool)
	wantStates := map[string]string{"t1": "dead", "t2": "dead", "h1": "dead", "t3": "dead", "h2": "dead",
		"done": "done", "failed": "failed", "leased1": "leased", "leased2": "leased", "pending": "pending"}
	for host, want := range wantStates {
		if got := before[host]; got.State != want {
			t.Fatalf("setup: %s is %+v, want %s", host, got, want)
		}
	}

	// list: every dead URL, newest first, with attempts and class, the long
	// error cut, control characters flattened; then counts and the hint.
	out, err := run(t, env, "master", "dead", "list", "--config", cfg)
	if err != nil {
		t.Fatalf("dead list: %v\n%s", err, out)
	}
	t.Logf("master dead list:\n%s", out)
	deadCheckOrder(t, out, "url", "attempts", "class", "dead since", "last error",
		"https://h2.example/", "https://t3.example/", "https://h1.example/", "https://t2.example/", "https://t1.example/",
		"showing 5 of 5 dead URLs, newest first\n",
		"5 dead URLs by class: timeout 3, http_5xx 2\n",
		"requeue with: master dead retry [--class C]\n")
	row := regexp.MustCompile(`(?m)^https://t1\.example/ +3 +timeout +\d{4}-\d\d-\d\d \d\d:\d\d:\d\d +i/o timeout$`)
	if !row.MatchString(out) {
		t.Errorf("no row for t1 matching %s:\n%s", row, out)
	}
	if !strings.Contains(out, "context deadline exceeded (after 30s)\n") {
		t.Errorf("t2's error is not on one line:\n%s", out)
	}
	if cut := []rune(long)[:77]; !strings.Contains(out, string(cut)+"...\n") || strings.Contains(out, long) {
		t.Errorf("h1's error is not cut to 80 characters:\n%s", out)
	}
	if strings.Contains(out, "done.example") || strings.Contains(out, "leased1") || strings.Contains(out, "pending.example") {
		t.Errorf("dead list shows URLs that are not dead:\n%s", out)
	}

	// --limit: only the newest, but counts of all.
	out, err = run(t, env, "master", "dead", "list", "--config", cfg, "--limit", "2")
	if err != nil {
		t.Fatalf("dead list --limit 2: %v\n%s", err, out)
	}
	deadCheckOrder(t, out, "https://h2.example/", "https://t3.example/", "showing 2 of 5 dead URLs", "5 dead URLs by class: timeout 3, http_5xx 2")
	if strings.Contains(out, "https://h1.example/") {
		t.Errorf("--limit 2 lists a third URL:\n%s", out)
	}

	// --class: only that class, counts still of all.
	out, err = run(t, env, "master", "dead", "list", "--config", cfg, "--class", "timeout")
	if err != nil {
		t.Fatalf("dead list --class timeout: %v\n%s", err, out)
	}
	deadCheckOrder(t, out, "https://t3.example/", "https://t2.example/", "https://t1.example/",
		"showing 3 of 3 dead URLs with class timeout, newest first", "5 dead URLs by class: timeout 3, http_5xx 2",
		"requeue with: master dead retry [--class C]")
	if strings.Contains(out, "https://h") {
		t.Errorf("--class timeout lists http_5xx URLs:\n%s", out)
	}
	out, err = run(t, env, "master", "dead", "list", "--config", cfg, "--class", "nope")
	if err != nil || out != "0 dead URLs with class nope (classes present: http_5xx, timeout)\n" {
		t.Errorf("dead list --class nope: %v\n%s", err, out)
	}
	if after := deadFrontierStates(t, pool); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatalf("dead list changed the frontier:\n was %v\n now %v", before, after)
	}

	// retry --class timeout: exactly the three timeouts, back to pending,
	// attempts 0, due now.
	out, err = run(t, env, "master", "dead", "retry", "--config", cfg, "--class", "timeout")
	if err != nil || out != "requeued 3 dead URLs with class timeout: pending again, attempts reset, due now\n" {
		t.Fatalf("dead retry --class timeout: %v\n%s", err, out)
	}
	after := deadFrontierStates(t, pool)
	for host, b := range before {
		a := after[host]
		if strings.HasPrefix(host, "t") {
			if a.State != "pending" || a.Attempts != 0 || !a.Due || a.LeaseToken != b.LeaseToken {
				t.Errorf("%s after retry --class timeout: %+v; want pending, attempts 0, due", host, a)
			}
		} else if a != b {
			t.Errorf("retry --class timeout touched %s: %+v -> %+v", host, b, a)
		}
	}
	out, err = run(t, env, "master", "dead", "retry", "--config", cfg, "--class", "timeout")
	if err != nil || out != "0 dead URLs with class timeout (classes present: http_5xx)\n" {
		t.Errorf("second dead retry --class timeout: %v\n%s", err, out)
	}
	out, err = run(t, env, "master", "dead", "list", "--config", cfg)
	if err != nil || !strings.Contains(out, "showing 2 of 2 dead URLs") || !strings.Contains(out, "2 dead URLs by class: http_5xx 2\n") ||
		strings.Contains(out, "https://t") {
		t.Errorf("dead list after retry --class timeout: %v\n%s", err, out)
	}

	// retry: the rest.
	before = after
	out, err = run(t, env, "master", "dead", "retry", "--config", cfg)
	if err != nil || out != "requeued 2 dead URLs: pending again, attempts reset, due now\n" {
		t.Fatalf("dead retry: %v\n%s", err, out)
	}
	after = deadFrontierStates(t, pool)
	for host, b := range before {
		a := after[host]
		if strings.HasPrefix(host, "h") {
			if a.State != "pending" || a.Attempts != 0 || !a.Due {
				t.Errorf("%s after retry: %+v; want pending, attempts 0, due", host, a)
			}
		} else if a != b {
			t.Errorf("retry touched %s: %+v -> %+v", host, b, a)
		}
	}
	var nres int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM results`).Scan(&nres); err != nil || nres != 7 {
		t.Errorf("%d results rows after requeueing (%v), want the 7 final attempts kept", nres, err)
	}
	if out, err := run(t, env, "master", "dead", "retry", "--config", cfg); err != nil || out != "no dead URLs to requeue\n" {
		t.Errorf("dead retry with nothing dead: %v\n%s", err, out)
	}
	if out, err := run(t, env, "master", "dead", "list", "--config", cfg); err != nil || out != "no dead URLs\n" {
		t.Errorf("dead list with nothing dead: %v\n%s", err, out)
	}
}

// TestDeadUsage checks command-line mistakes exit 2 naming the problem,
// before any database is touched.
func TestDeadUsage(t *testing.T) {
	skipInShort(t, "process")
	t.Parallel()
	env := []string{"DATABASE_URL=postgres://nobody@127.0.0.1:1/none"}
	cfg := writeFile(t, t.TempDir(), "rpc.yaml", minimalConfig)
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"dead"}, "master dead needs a subcommand, list or retry"},
		{[]string{"dead", "frob"}, `unknown dead subcommand "frob"`},
		{[]string{"dead", "--class", "timeout"}, `unknown dead subcommand "--class"`},
		{[]string{"dead", "list", "--config", cfg, "extra"}, "master dead list takes 0 argument(s)"},
		{[]string{"dead", "list", "--config", cfg, "--limit", "-1"}, "--limit must be 0 or more"},
		{[]string{"dead", "list", "--bogus"}, "flag provided but not defined: -bogus"},
		{[]string{"dead", "retry", "--limit", "5"}, "flag provided but not defined: -limit"},
	}
	for _, c := range cases {
		out, err := run(t, env, "master", c.args...)
		if code := deadExitCode(err); code != 2 || !strings.Contains(out, c.want) {
			t.Errorf("master %v: exit %d (%v), want 2 and output naming %q:\n%s", c.args, code, err, c.want, out)
		}
	}
	// Help is not an error; the usage lists both commands.
	for _, args := range [][]string{{"-h"}, {"dead", "-h"}} {
		out, err := run(t, env, "master", args...)
		if err != nil || !strings.Contains(out, "master dead list") || !strings.Contains(out, "master dead retry") {
			t.Errorf("master %v: %v\n%s", args, err, out)
		}
	}
}

// defaultCrawl is the crawl of the URLs given (no discovery).
var defaultCrawl = frontier.Crawl{ID: frontier.DefaultCrawlID}
