// Package store is the master's PostgreSQL layer: the only code in
// crawlmaster that talks to the database.
//
// It owns the schema (embedded, versioned migrations applied under an
// advisory lock, so two masters starting at once are safe) and the few
// set-based statements the crawl needs:
//
//   - Claim leases many pending URLs at once with FOR UPDATE SKIP LOCKED,
//     writing the lease token and expiry in the same statement.
//   - Persist writes a batch of results: COPY into a per-connection staging
//     table, then one statement that inserts results and bodies and moves
//     the frontier rows on, only for rows whose lease token is still current
//     (fencing). Stale results are counted and dropped.
//   - Release and RescueExpired return leased URLs to pending.
//   - Import streams URLs into the frontier with COPY and ON CONFLICT DO
//     NOTHING, so re-importing adds no duplicates.
//
// Nothing here keeps per-URL state in memory: memory use does not grow with
// the frontier.
package store
