// Package dispatch is the master's scheduler: it polls assistants for idle
// worker slots, leases URLs from the frontier and pushes them as batches to
// idle slots, and turns the results streamed back into outcomes for the
// persist writer.
//
// The path of a URL through this package:
//
//  1. An assistant's loop keeps a small ready queue of leased URLs, claimed
//     from the frontier only for the affinity shards that assistant owns
//     (rendezvous hashing within slot-proportional quotas, see owners.go).
//  2. A slot is given a batch when it is idle both in the assistant's last
//     ReportIdleWorker answer and in the master's own view. When a batch's
//     Crawl stream ends, the slot is known idle at once and refilled from
//     the ready queue without waiting for the next poll.
//  3. Each streamed result is checked against the batch (lease token),
//     decided by the retry policy and submitted to the writer, which blocks
//     when the database falls behind: gRPC flow control then pushes back on
//     the assistant instead of memory growing here.
//  4. URLs of a batch that got no result (stream broke, assistant down,
//     shutdown) are released to pending at once.
//
// Each assistant's state is owned by one goroutine (its loop); batch
// goroutines and pollers talk to it only through its event channel, so
// there are no locks on the hot path.
package dispatch
