// Package master is the crawlmaster master daemon and its one-shot
// commands. The master is the only process with a database connection.
//
// A URL's path: Import or Enqueue puts it in the frontier (store); the
// dispatcher (dispatch) leases it for the assistant that owns its domain
// and pushes it in a batch to an idle slot; the assistant fetches it and
// streams the result back; the dispatcher decides its next state (retry)
// and the writer (persist) stores it, fenced by the lease token.
//
// Run wires these together with the leader lock, the lease rescuer, the
// progress log, the admin HTTP server and, on the same port, the API for
// programs (CrawlManager, api.go; internal/portmux tells the two apart),
// which only the leader serves: a standby answers with a NotLeader.
package master
