package websim

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any goroutine outlives them: Close
// must end every hang, sleep, stream and connection of the server.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
