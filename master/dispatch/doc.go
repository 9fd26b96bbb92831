// Package dispatch is the master's scheduler: it polls assistants for idle
// worker slots, leases URLs from the frontier and pushes them as batches to
// idle slots, and turns the results streamed back into outcomes for the
// persist writer.
//
// # The path of a URL through this package
//
//  1. Claimed. Each assistant has a feeder (feeder.go) that keeps a small
//     ready queue (ready.go) of leased URLs, claimed only from the affinity
//     shards that assistant owns (rendezvous hashing within quotas
//     proportional to slots, owners.go), grouped by site. A site is in at
//     most one running batch; a site the assistant makes wait between
//     requests (its delay, Crawl-delay, a 429/503 backoff: the result's
//     next_request_after) gives one URL per batch and only once that wait
//     has passed, a site without one as many URLs as fit. Batches are sized
//     to take about batch_duration at the assistant's recent time per URL
//     (sizer.go).
//  2. Dispatched. A slot gets a batch when it is idle both in the
//     assistant's last ReportIdleWorker answer and in the master's own
//     view (slots.go). When a batch's Crawl stream ends, the slot is known
//     idle at once and refilled from the ready queue without waiting for
//     the next poll; polls reconcile the two views and detect failures
//     (liveness.go).
//  3. Streamed back. Each result is checked against its batch (lease
//     token), decided by the retry policy (outcome.go) and submitted to the
//     writer, which blocks when the database falls behind: gRPC flow
//     control then pushes back on the assistant instead of memory growing
//     here.
//  4. Released. When a stream ends, planRelease (plan.go) decides what
//     becomes of the tasks without a stored result (next section).
//
// # What the end of a batch costs
//
// An attempt is charged only for a page that was requested. The task in
// flight is the first one without a result in batch order (a slot fetches
// its batch one URL after another); it is charged only if its STARTED
// message arrived, i.e. its page request was about to be sent.
//
//	how the stream ended             task in flight (STARTED)     every other task
//	completed, results missing       charged, missing_result      uncharged
//	broke (assistant died, network)  charged, stream_error        uncharged
//	we gave the assistant up         charged, assistant_down      uncharged
//	we are shutting down             uncharged, shutdown          uncharged
//	refused before fetching          -                            uncharged, refused
//	task given back UNFETCHED        -                            uncharged, unfetched
//
// A task given back DEFERRED (its host was not ready within
// max_politeness_wait, MaxSlotWait) is not released: it keeps its lease
// and goes back to the head of its site's queue until the site's wait has
// passed (feeder.takeBack); only a feeder that can no longer send it
// (stopping, assistant down or draining, shard moved) releases it,
// uncharged, as "deferred".
//
// The reasons are the labels of crawlmaster_dispatch_released_urls_total.
// One more, claim_reply_lost: a claim that failed may have committed (the
// connection broke after the commit was sent); the feeder's next claim
// first releases its assistant's leases the master does not hold.
//
// # Concurrency
//
// A feeder's state is a handful of small value types without I/O or
// clocks (liveness, slotTable, readyQueue, batchSizer), each table-tested,
// owned by the feeder's one loop goroutine. The goroutines it starts (at
// most one poll and one claim at a time, one per running batch) report
// back through its event channel. The loop reaches the rest of the master
// only through env (env.go), which the Dispatcher implements and the loop
// tests fake (in a testing/synctest bubble, with virtual time). Shared
// across feeders: the shard owner table (an atomic pointer, rebuilt under
// a lock when the live set changes), the set of held leases the renewer
// extends (a mutex taken per claim, per stored result and per release), a
// count of URLs in flight, the crawls' admission policies (a read lock per
// dispatched task, crawls.go), the hosts whose sitemaps were asked for
// (a mutex per seed task, sitemaps.go) and each waiting site's earliest
// next dispatch, for the feeder that owns it next (a mutex per result of
// a site with a wait, siteclock.go).
package dispatch
