// Package store is the master's PostgreSQL layer: the only code in
// crawlmaster that talks to the database.
//
// It owns the schema (embedded, versioned migrations applied under an
// advisory lock, so two masters starting at once are safe) and the few
// set-based statements the crawl needs:
//
//   - Insert adds URLs to the frontier in chunks: COPY into a staging table,
//     then INSERT ... ON CONFLICT DO NOTHING, so re-importing adds no
//     duplicates.
//   - Claim leases many pending URLs at once with FOR UPDATE SKIP LOCKED,
//     writing the lease token and expiry in the same statement. A claim
//     charges no attempt.
//   - Persist writes a batch of results: COPY into a per-connection staging
//     table, then one statement that inserts results and bodies and moves
//     the frontier rows on (attempts included), only for rows whose lease
//     token is still current (fencing). Stale results are counted and
//     dropped.
//   - Release returns leased URLs to pending, counting an attempt only when
//     asked (a requested page whose batch broke); Renew extends leases;
//     RescueExpired and ReleaseAll return expired or all leases uncharged.
//
// The vocabulary (states, tasks, outcomes, shards) is package frontier's.
//
// Nothing here keeps per-URL state in memory: memory use does not grow with
// the frontier.
package store
