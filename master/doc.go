// Package master is the crawlmaster master daemon and its one-shot
// commands. The master is the only process with a database connection.
//
// A URL's path: Import or Enqueue puts it in the frontier (store); the
// dispatcher (dispatch) leases it for the assistant that owns its domain
// and pushes it in a batch to an idle slot; the assistant fetches it and
// streams the result back; the dispatcher decides its next state (retry)
// and, for a crawl that revisits, when it is due again (revisit); the
// writer (persist) stores it with its links, fenced by the lease token.
// The upkeep loop (upkeep) makes due revisits and scheduled rounds
// pending again and deletes results past their retention; export and the
// API's results stream read the stored fetches in cursor order.
//
// Run wires these together with the leader lock, the lease rescuer, the
// progress log, the admin HTTP server and, on the same port, the API for
// programs (CrawlManager, api.go; internal/portmux tells the two apart),
// which only the leader serves: a standby answers with a NotLeader.
package master
