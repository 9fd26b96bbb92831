package assistant_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any goroutine outlives them: a
// stopped server must leave no stream, batch or connection running.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
