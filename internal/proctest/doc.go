// Package proctest runs crawlmaster's commands as processes in tests: it
// builds the binaries once per test binary ([Binaries]), starts them with
// their output captured ([Start]), and stops, kills or inspects them
// ([Proc]). A process still running at the end of its test is killed, and
// the last lines of its output are logged when the test failed.
//
// The end-to-end tests (internal/e2e) and the operations kit's live test
// (deploy) share it.
package proctest
