// Package faultproxy is a small TCP proxy for fault-injection tests. It sits
// between two processes on loopback (for example the master and an assistant
// talking gRPC over HTTP/2) and simulates the network between them being
// dropped and restored, without touching the machine's network
// configuration.
//
// A Proxy forwards every accepted connection to a fixed target. Partition
// stops all traffic, in both directions, on existing connections — they stay
// open but reads on either side simply stall, as after a cable pull — and
// new connections are accepted but never forwarded. Heal ends the partition:
// every connection that lived through it is aborted (its peers see a reset),
// much as TCP keepalive would eventually do after a long outage, and new
// connections forward normally again. Reset aborts all current connections at
// once without stopping new ones.
//
// Nothing crosses a partition: neither payload bytes nor a FIN or reset from
// either side. Bytes a copy goroutine had already handed to the kernel at the
// moment Partition was called may still be delivered.
//
// The package uses only the standard library and is meant for tests; it has
// no busy loops or sleeps, and Close stops every goroutine it started.
package faultproxy
