package store_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any goroutine outlives them: every
// test closes its pools, which stops their background goroutines.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
