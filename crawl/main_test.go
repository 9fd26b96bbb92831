package crawl_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any goroutine outlives them. Every
// test fetcher closes its idle connections at cleanup (newFetcher), and
// every test server is closed, so nothing may be left running.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
