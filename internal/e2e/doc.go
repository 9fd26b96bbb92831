// Package e2e holds the tests that run crawlmaster's real binaries
// (master, assistant, websim) as separate processes against the private
// PostgreSQL cluster. It has no non-test code.
package e2e
