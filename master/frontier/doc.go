// Package frontier is the vocabulary of the master's crawl state, shared by
// the database layer (store), the retry policy (retry) and the scheduler
// (dispatch): a URL's State, a leased Task, a decided Outcome, the affinity
// Shard of a domain and the claim request. It is a leaf: no database, no
// gRPC, no fetcher, so pure policy can be written and tested against it
// alone.
//
// A frontier row moves through these states:
//
//	pending ──claim──▶ leased ──result──▶ done | failed | dead
//	   ▲                 │
//	   └──release/retry──┘
//
// pending and leased are live; done (a 2xx), failed (a permanent error) and
// dead (a transient error on every allowed attempt) are final.
package frontier
