package e2e

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencyRules enforces the architecture: the master is the only
// database client, crawl is a plain library, and crawl's leaf packages keep
// the fetcher out of the master.
func TestDependencyRules(t *testing.T) {
	const mod = "github.com/crawlmaster/crawlmaster/"
	rules := []struct {
		pkgs      []string
		forbidden []string // import path prefixes no dependency may have
		only      []string // if set, the only non-standard dependencies: exact paths, or prefixes ending in "/"
		why       string
	}{
		{[]string{"../../assistant/...", "../../cmd/assistant", "../../crawl/..."}, []string{"github.com/jackc/pgx"}, nil,
			"only the master may talk to PostgreSQL"},
		{[]string{"../../crawl/..."}, []string{"google.golang.org/grpc", "database/sql"}, nil,
			"crawl is a library without gRPC or database imports"},
		{[]string{"../../cmd/master"}, []string{"github.com/temoto/robotstxt", "golang.org/x/net/html"}, nil,
			"the master must not link the fetcher: it uses only crawl's leaf packages errclass, urlnorm, fetchconfig and netguard"},
		{[]string{"../../crawl/errclass", "../../crawl/urlnorm", "../../crawl/fetchconfig", "../../crawl/netguard"}, nil,
			[]string{mod + "crawl/errclass", mod + "crawl/urlnorm", mod + "crawl/fetchconfig", mod + "crawl/netguard",
				mod + "internal/yamlcheck",                                                     // fetchconfig's helpers, shared with internal/config
				"golang.org/x/net/idna", "golang.org/x/net/publicsuffix", "golang.org/x/text/", // urlnorm, and what idna imports
				"gopkg.in/yaml.v3"}, // fetchconfig
			"crawl's leaf packages import only the standard library, idna, publicsuffix, yaml.v3 and leaf helpers, so that the master can use them"},
	}
	for _, r := range rules {
		args := append([]string{"list", "-deps", "-f", "{{.ImportPath}} {{.Standard}}"}, r.pkgs...)
		out, err := exec.Command("go", args...).CombinedOutput()
		if err != nil {
			t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		if len(lines) < 10 {
			t.Fatalf("go list -deps %v returned only %d packages: %q", r.pkgs, len(lines), lines)
		}
		for _, line := range lines {
			d, std, _ := strings.Cut(line, " ")
			for _, f := range r.forbidden {
				if strings.HasPrefix(d, f) {
					t.Errorf("%v depend on %s: %s", r.pkgs, d, r.why)
				}
			}
			if r.only != nil && std != "true" && !allowed(d, r.only) {
				t.Errorf("%v depend on %s, which is not allowed: %s", r.pkgs, d, r.why)
			}
		}
	}
}

// allowed reports whether import path d is in list: equal to an entry, or
// below one that ends in "/".
func allowed(d string, list []string) bool {
	for _, a := range list {
		if d == a || strings.HasSuffix(a, "/") && strings.HasPrefix(d, a) {
			return true
		}
	}
	return false
}
