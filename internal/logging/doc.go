// Package logging builds the daemons' slog loggers from rpc.yaml's log
// section.
package logging
