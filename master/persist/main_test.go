package persist_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any goroutine outlives them: a
// writer whose Run returned, and a closed pool, leave nothing running.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
