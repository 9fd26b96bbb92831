package upkeep_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any goroutine outlives them: a
// loop stops with its context and every test closes its pool.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
