package proctest

import (
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/crawlmaster/crawlmaster/internal/testwait"
)

// A process's output is captured; Stop waits for a clean exit, Kill for
// the end of one that ignores SIGTERM; Exited reports both.
func TestStartStopKill(t *testing.T) {
	p := Start(t, "sh", "/bin/sh", []string{"GREETING=hello"}, "-c", `echo "$GREETING"; trap 'exit 0' TERM; while :; do sleep 0.05; done`)
	testwait.Until(t, "the greeting in the output", 5*time.Second, 10*time.Millisecond, func() bool {
		return strings.Contains(p.Output(), "hello")
	})
	if got := p.Output(); got != "hello\n" {
		t.Fatalf("output %q, want the environment's greeting", got)
	}
	if _, done := p.Exited(); done {
		t.Fatal("exited before being stopped")
	}
	p.Stop(t, 5*time.Second)
	if err, done := p.Exited(); !done || err != nil {
		t.Fatalf("after Stop: exited %v, err %v; want a clean exit", done, err)
	}

	q := Start(t, "stubborn", "/bin/sh", nil, "-c", `trap '' TERM; while :; do sleep 0.05; done`)
	q.Kill(t)
	err, done := q.Exited()
	if !done || err == nil || !strings.Contains(err.Error(), syscall.SIGKILL.String()) {
		t.Fatalf("after Kill: exited %v, err %v; want killed", done, err)
	}
}

// A process still running when its test ends is killed by the test's
// cleanup, which waits for it (and so for Start's waiting goroutine).
func TestCleanupKills(t *testing.T) {
	var p *Proc
	t.Run("leaves it running", func(t *testing.T) {
		p = Start(t, "sleeper", "/bin/sh", nil, "-c", "exec sleep 60")
	})
	err, done := p.Exited()
	if !done || err == nil || !strings.Contains(err.Error(), syscall.SIGKILL.String()) {
		t.Fatalf("after the subtest's cleanup: exited %v, err %v; want killed", done, err)
	}
}

func TestLastLines(t *testing.T) {
	for _, c := range []struct {
		in   string
		n    int
		want string
	}{
		{"a\nb\nc\n", 2, "b\nc"},
		{"a\nb", 5, "a\nb"},
		{"", 3, ""},
	} {
		if got := LastLines(c.in, c.n); got != c.want {
			t.Errorf("LastLines(%q, %d) = %q, want %q", c.in, c.n, got, c.want)
		}
	}
}
