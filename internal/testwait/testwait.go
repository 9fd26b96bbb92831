package testwait

import "time"

// T is the part of testing.TB that Until uses.
type T interface {
	Helper()
	Fatalf(format string, args ...any)
}

// Until polls cond every interval until it holds, and fails t with
// "WHAT: not within TIMEOUT" once timeout has passed (cond is checked one
// last time at the deadline).
func Until(t T, what string, timeout, every time.Duration, cond func() bool) {
	t.Helper()
	UntilWhy(t, what, timeout, every, func() (bool, string) { return cond(), "" })
}

// UntilWhy is Until for a condition that explains itself: the failure
// message ends with its last explanation.
func UntilWhy(t T, what string, timeout, every time.Duration, cond func() (bool, string)) {
	t.Helper()
	if ok, why := Poll(timeout, every, cond); !ok && why != "" {
		t.Fatalf("%s: not within %s (last: %s)", what, timeout, why)
	} else if !ok {
		t.Fatalf("%s: not within %s", what, timeout)
	}
}

// Poll checks cond every interval until it holds or timeout has passed
// (it is checked one last time at the deadline), and returns whether it
// held and its last explanation, for callers that report a timeout their
// own way.
func Poll(timeout, every time.Duration, cond func() (bool, string)) (bool, string) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	deadline := time.Now().Add(timeout)
	for {
		ok, why := cond()
		if ok || time.Now().After(deadline) {
			return ok, why
		}
		<-tick.C
	}
}
