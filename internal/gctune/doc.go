// Package gctune sets the garbage-collector pacing of crawlmaster's
// daemons: a soft memory limit where the configuration gives one, and a GC
// percent above Go's default. The GOGC and GOMEMLIMIT environment
// variables, when set, win over both.
package gctune
