package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/crawlmaster/crawlmaster/internal/pgtest"
)

// `master migrate` says which migrations it applied, and says so plainly
// when there were none.
func TestMigrateOutput(t *testing.T) {
	if testing.Short() {
		t.Skip("needs PostgreSQL: skipped in -short mode")
	}
	t.Setenv("DATABASE_URL", pgtest.NewDatabase(t))
	migrate := func() string {
		t.Helper()
		var out, errOut bytes.Buffer
		if err := run([]string{"migrate", "--config", "../../rpc.yaml"}, &out, &errOut); err != nil {
			t.Fatalf("master migrate: %v (stderr %q)", err, errOut.String())
		}
		return strings.TrimSpace(out.String())
	}
	if got := migrate(); !strings.HasPrefix(got, "applied migrations: [1 2 3") {
		t.Errorf("first migrate printed %q, want the versions it applied, from 1", got)
	}
	if got := migrate(); !strings.Contains(got, "none to apply") {
		t.Errorf("second migrate printed %q, want none to apply", got)
	}
}
