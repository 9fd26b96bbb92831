package faultproxy

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any goroutine outlives them: Close
// must wait for every goroutine the proxy started.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
