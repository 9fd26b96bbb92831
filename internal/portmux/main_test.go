package portmux

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any goroutine outlives them: a
// closed Mux must have stopped its accept loop and peeking goroutines.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
