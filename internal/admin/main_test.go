package admin

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any goroutine outlives them: the
// admin server must stop its serving goroutine and connections on Close.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
