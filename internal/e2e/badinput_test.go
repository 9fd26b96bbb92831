package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/crawlmaster/crawlmaster/internal/pgtest"
)

func writeFile(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

const minimalConfig = `rpc:
  manager: {address: 127.0.0.1, port: 1}
  assistant:
    - {address: 127.0.0.1, port: 2, workers: 1}
`

func frontierURLs(t *testing.T, dbURL string) []string {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(context.Background(), `SELECT url || ' ' || priority FROM frontier ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	urls, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return urls
}

// A Tranco file with junk lines imports every good line, reports the bad
// ones with their line numbers, and leaves what was stored intact; a
// re-import adds nothing.
func TestImportTrancoJunkLines(t *testing.T) {
	skipInShort(t, "process")
	dir := t.TempDir()
	dbURL := pgtest.NewDatabase(t)
	env := []string{"DATABASE_URL=" + dbURL}
	cfg := writeFile(t, dir, "rpc.yaml", minimalConfig)
	good := writeFile(t, dir, "good.csv", "1,google.com\r\n2,Example.ORG\r\n")
	if out, err := run(t, env, "master", "import-tranco", "--config", cfg, good); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	before := frontierURLs(t, dbURL)

	junk := writeFile(t, dir, "junk.csv", "\ufeff3,wikipedia.org\r\n"+
		"not a line\r\n"+
		"\r\n"+
		"0,zero.com\r\n"+
		"4,bad domain.com\r\n"+
		"5,-dash.com\r\n"+
		"1,google.com\r\n"+ // already known
		"6,youtube.com") // no final newline
	out, err := run(t, env, "master", "import-tranco", "--config", cfg, junk)
	if err != nil {
		t.Fatalf("import with junk lines failed: %v\n%s", err, out)
	}
	for _, want := range []string{"line 2:", "line 4:", "line 5:", "line 6:", "2 new URLs", "4 bad lines"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	after := frontierURLs(t, dbURL)
	want := append(before, "https://wikipedia.org/ 3", "https://youtube.com/ 6")
	if fmt.Sprint(after) != fmt.Sprint(want) {
		t.Fatalf("frontier after junk import:\n got  %v\n want %v", after, want)
	}
	// Re-importing adds no duplicates.
	if out, err := run(t, env, "master", "import-tranco", "--config", cfg, junk); err != nil || !strings.Contains(out, " 0 new URLs") {
		t.Fatalf("re-import: %v\n%s", err, out)
	}
	if n := len(frontierURLs(t, dbURL)); n != len(want) {
		t.Fatalf("%d frontier rows after re-import, want %d", n, len(want))
	}
	// A missing file is an error naming it, and stores nothing.
	out, err = run(t, env, "master", "import-tranco", "--config", cfg, filepath.Join(dir, "nope.csv"))
	if err == nil || !strings.Contains(out, "nope.csv") {
		t.Fatalf("missing file: %v\n%s", err, out)
	}
}

// enqueue stores valid URLs and reports invalid ones by line number.
func TestEnqueueInvalidURLs(t *testing.T) {
	skipInShort(t, "process")
	dir := t.TempDir()
	dbURL := pgtest.NewDatabase(t)
	env := []string{"DATABASE_URL=" + dbURL}
	cfg := writeFile(t, dir, "rpc.yaml", minimalConfig)
	list := writeFile(t, dir, "urls.txt", "# comment\nhttp://a.example/x\nftp://files.example/\nnot a url\n\nHTTP://B.Example:80/y#frag\nhttp:///nohost\n")
	out, err := run(t, env, "master", "enqueue", "--config", cfg, "--priority", "5", list)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, want := range []string{"line 3:", "line 4:", "line 7:", "2 new URLs", "3 bad lines"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	got := frontierURLs(t, dbURL)
	if fmt.Sprint(got) != "[http://a.example/x 5 http://b.example/y 5]" {
		t.Fatalf("frontier: %v", got)
	}
}

// A malformed rpc.yaml stops every command with a message naming the key,
// before anything touches the database.
func TestBadConfig(t *testing.T) {
	skipInShort(t, "process")
	dir := t.TempDir()
	cases := map[string]struct{ body, want string }{
		"unknown key":  {minimalConfig + "dispatch:\n  pol_interval: 1s\n", `"dispatch.pol_interval"`},
		"missing port": {"rpc:\n  manager: {port: 1}\n  assistant:\n    - {address: 127.0.0.1, workers: 1}\n", "rpc.assistant[0].port"},
		"zero workers": {"rpc:\n  manager: {port: 1}\n  assistant:\n    - {address: 127.0.0.1, port: 2, workers: 0}\n", "rpc.assistant[0].workers"},
		"bad duration": {minimalConfig + "retry:\n  base_delay: 30\n", "retry.base_delay"},
		"duplicate": {"rpc:\n  manager: {port: 1}\n  assistant:\n    - {address: 127.0.0.1, port: 2, workers: 1}\n    - {address: 127.0.0.1, port: 2, workers: 1}\n",
			"duplicate endpoint"},
	}
	for name, c := range cases {
		p := writeFile(t, dir, strings.ReplaceAll(name, " ", "_")+".yaml", c.body)
		for _, args := range [][]string{{"master", "run", "--config", p}, {"master", "status", "--config", p},
			{"assistant", "run", "--config", p, "--listen", "127.0.0.1:2"}} {
			out, err := run(t, []string{"DATABASE_URL=postgres://nobody@127.0.0.1:1/none"}, args[0], args[1:]...)
			if err == nil || !strings.Contains(out, c.want) {
				t.Errorf("%s: %v: err %v, output lacks %q:\n%s", name, args, err, c.want, out)
			}
		}
	}
}
