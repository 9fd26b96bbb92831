// Package lifecycle is the one contract the daemons' long-running
// components follow, and the runner that starts them together and stops
// them in order.
//
// A component is a function that runs until its context is cancelled,
// then stops cleanly and returns (nil, or why it failed). Run starts every
// component of every stage at once. When the parent context is done, or
// any component returns an error, the stages are stopped one after the
// other in the order given: a stage's components are cancelled together
// and waited for before the next stage is cancelled. That order is the
// daemon's shutdown order, e.g. for the master: stop claiming and drain
// the dispatcher within its grace period, then the background loops, then
// flush the result writer; the caller releases leases and closes the
// database pool after Run returns.
package lifecycle
