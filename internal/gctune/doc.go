// Package gctune sets the garbage-collector pacing of the assistant
// daemon: its soft memory limit (fetch.memory_limit) and a GC percent above
// Go's default, which the limit keeps bounded. The GOGC and GOMEMLIMIT
// environment variables, when set, win over both. The master keeps Go's
// defaults: its heap holds the persist buffer (up to 64 MiB of bodies), and
// without a limit a higher GC percent would let it grow to three times
// that.
package gctune
