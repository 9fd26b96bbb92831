package procstat

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any goroutine outlives them:
// a stopped SampleHeap leaves no sampler running.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
