package master_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any goroutine outlives them: a
// master.Run or assistant.Run that returned must have stopped everything
// it started (dispatch loops, gRPC connections, the fetcher's keep-alive
// connections, the database pool).
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
