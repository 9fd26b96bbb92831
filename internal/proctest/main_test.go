package proctest

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any goroutine outlives them:
// the goroutine waiting on a started process ends once it has exited,
// whether stopped, killed or left to the test's cleanup.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
