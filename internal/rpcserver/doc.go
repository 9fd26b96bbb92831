// Package rpcserver holds what the assistant's and the master's gRPC
// servers share: recovery from a handler's panic (INTERNAL to the caller,
// the stack in the log, the daemon alive) and the keepalive policy their
// clients are told about (the assistant protocol and manager.proto
// document it).
package rpcserver
