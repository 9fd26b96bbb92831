// Package procstat reads a process's resource use, for the benchmarks and
// the tests: from Linux's /proc (peak memory, CPU time of any process) and
// from the Go runtime (the heap this process holds during an operation).
package procstat
