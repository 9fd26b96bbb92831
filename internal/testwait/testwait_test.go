package testwait

import (
	"fmt"
	"testing"
	"time"
)

// recorder is a T that records the failure instead of ending the test.
type recorder struct{ failed string }

func (r *recorder) Helper() {}
func (r *recorder) Fatalf(format string, args ...any) {
	r.failed = fmt.Sprintf(format, args...)
}

func TestUntilReturnsOnceTheConditionHolds(t *testing.T) {
	calls := 0
	var r recorder
	Until(&r, "the third call", 5*time.Second, time.Millisecond, func() bool { calls++; return calls == 3 })
	if r.failed != "" || calls != 3 {
		t.Fatalf("failed %q after %d calls, want success on the third", r.failed, calls)
	}
}

func TestUntilFailsAtTheDeadline(t *testing.T) {
	var r recorder
	start := time.Now()
	Until(&r, "never", 30*time.Millisecond, 5*time.Millisecond, func() bool { return false })
	if r.failed != "never: not within 30ms" || time.Since(start) < 30*time.Millisecond {
		t.Fatalf("failed %q after %v", r.failed, time.Since(start))
	}
	r = recorder{}
	UntilWhy(&r, "ready", 10*time.Millisecond, time.Millisecond, func() (bool, string) { return false, "state pending" })
	if r.failed != "ready: not within 10ms (last: state pending)" {
		t.Fatalf("failed %q", r.failed)
	}
}

func TestPollReportsWithoutFailing(t *testing.T) {
	ok, why := Poll(10*time.Millisecond, time.Millisecond, func() (bool, string) { return false, "still 0" })
	if ok || why != "still 0" {
		t.Fatalf("Poll = %v, %q; want false with the last explanation", ok, why)
	}
	if ok, _ := Poll(time.Second, time.Millisecond, func() (bool, string) { return true, "" }); !ok {
		t.Fatal("Poll of a condition that holds = false")
	}
}
