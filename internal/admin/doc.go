// Package admin serves a daemon's operator endpoints over HTTP: /metrics
// (Prometheus, from the daemon's own registry), /healthz, and /debug/pprof
// when enabled. Both daemons use it, so they look the same to operators.
package admin
