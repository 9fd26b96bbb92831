package gctune

import (
	"os"
	"runtime/debug"
)

// AssistantPercent is the assistant's GC percent. Go's default (100) starts a
// collection whenever the heap has doubled over the live data; a crawler's
// live heap is small (tens of MiB) and its garbage is mostly per-page
// buffers, so at 100 the assistants spend a large share of their CPU
// collecting. At 200 they collect half as often, for a somewhat larger
// heap, which the soft memory limit still caps (BENCHMARKS.md, item 7).
const AssistantPercent = 200

// MasterPercent is the master's: Go's default. Its live heap is mostly
// the write buffer, long-lived results rather than per-page garbage.
const MasterPercent = 100

// Settings are what Apply left in force.
type Settings struct {
	Percent     int   // GC percent; negative: off
	MemoryLimit int64 // bytes; math.MaxInt64: none
}

// Apply sets the soft memory limit to limit bytes when limit > 0 and
// GOMEMLIMIT is not set, and the GC percent to percent when GOGC is not
// set. It changes process-wide settings: call it from the daemon's
// entry point.
func Apply(limit int64, percent int) Settings {
	if limit > 0 && os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(limit)
	}
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(percent)
	}
	pct := debug.SetGCPercent(-1)
	debug.SetGCPercent(pct)
	return Settings{Percent: pct, MemoryLimit: debug.SetMemoryLimit(-1)}
}
