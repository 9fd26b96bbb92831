package e2e

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencyRules enforces the architecture: the master is the only
// database client, and crawl is a plain library.
func TestDependencyRules(t *testing.T) {
	rules := []struct {
		pkgs      []string
		forbidden []string
		why       string
	}{
		{[]string{"../../assistant/...", "../../cmd/assistant", "../../crawl/..."}, []string{"github.com/jackc/pgx"},
			"only the master may talk to PostgreSQL"},
		{[]string{"../../crawl/..."}, []string{"google.golang.org/grpc", "database/sql"},
			"crawl is a library without gRPC or database imports"},
	}
	for _, r := range rules {
		args := append([]string{"list", "-deps"}, r.pkgs...)
		out, err := exec.Command("go", args...).CombinedOutput()
		if err != nil {
			t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		deps := strings.Fields(string(out))
		if len(deps) < 10 {
			t.Fatalf("go list -deps %v returned only %d packages: %q", r.pkgs, len(deps), deps)
		}
		for _, d := range deps {
			for _, f := range r.forbidden {
				if strings.HasPrefix(d, f) {
					t.Errorf("%v depend on %s: %s", r.pkgs, d, r.why)
				}
			}
		}
	}
}
