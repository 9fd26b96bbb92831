// Package testwait is the tests' one way to wait for a condition that
// other goroutines or processes make true: poll it at a fixed interval,
// fail the test naming what was awaited once a deadline passes. It is for
// progress made elsewhere, not for letting time pass (tests with fake time
// use testing/synctest). Only tests import it.
package testwait
