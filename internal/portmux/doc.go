// Package portmux serves two protocols on one TCP port: it accepts the
// connections of one listener, reads the first byte of each, and hands the
// connection, that byte included, to one of two listeners: TLS (the byte
// is 0x16, a TLS handshake record) or Other (anything else). The master
// uses it to serve its gRPC API (TLS) and its admin HTTP endpoint (plain
// HTTP) on rpc.manager's port.
//
// A client that connects and sends nothing is closed after PeekTimeout;
// at most MaxPending connections wait for their first byte at a time (the
// accept loop waits beyond that, so the kernel's backlog pushes back). A
// connection is handed over only when its listener's server accepts it;
// a listener that was closed gets none (they are closed). Close closes
// the port and both listeners, and waits for the mux's goroutines.
package portmux
