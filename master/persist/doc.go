// Package persist is the master's result writer. Batch goroutines submit
// decided outcomes; the writer groups them by size or time (or writes at
// once when the dispatcher calls FlushNow: nothing is in flight) and hands
// each group to the store in one transaction (COPY + one fenced statement).
//
// Memory is bounded twice: by the number of buffered outcomes (a channel)
// and by their body bytes (a weighted semaphore). When either bound is
// reached Submit blocks; the batch goroutine then stops reading its gRPC
// stream and flow control pushes back on the assistant. When the database
// fails, the writer keeps the batch and retries with backoff, so an outage
// stalls the crawl instead of losing results.
package persist
