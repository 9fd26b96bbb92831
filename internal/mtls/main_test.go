package mtls

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any goroutine outlives them: a
// stopped server, client or reload loop must leave nothing running.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
