package gctune

import (
	"runtime/debug"
	"testing"
)

// restore puts the process's GC settings back after a test.
func restore(t *testing.T) {
	pct := debug.SetGCPercent(-1)
	debug.SetGCPercent(pct)
	lim := debug.SetMemoryLimit(-1)
	t.Cleanup(func() {
		debug.SetGCPercent(pct)
		debug.SetMemoryLimit(lim)
	})
}

func TestApplyDefaults(t *testing.T) {
	restore(t)
	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "")
	got := Apply(64<<20, AssistantPercent)
	if got.Percent != AssistantPercent || got.MemoryLimit != 64<<20 {
		t.Errorf("Apply(64 MiB) = %+v; want percent %d, limit %d", got, AssistantPercent, 64<<20)
	}
}

func TestApplyEnvironmentWins(t *testing.T) {
	restore(t)
	debug.SetGCPercent(150) // as the runtime would have from GOGC=150
	debug.SetMemoryLimit(32 << 20)
	t.Setenv("GOGC", "150")
	t.Setenv("GOMEMLIMIT", "32MiB")
	got := Apply(64<<20, AssistantPercent)
	if got.Percent != 150 || got.MemoryLimit != 32<<20 {
		t.Errorf("Apply with GOGC/GOMEMLIMIT set = %+v; want the environment's 150 and 32 MiB", got)
	}
}

func TestApplyNoLimit(t *testing.T) {
	restore(t)
	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "")
	before := debug.SetMemoryLimit(-1)
	if got := Apply(0, AssistantPercent); got.MemoryLimit != before || got.Percent != AssistantPercent {
		t.Errorf("Apply(0, AssistantPercent) = %+v; want limit unchanged (%d), percent %d", got, before, AssistantPercent)
	}
}
