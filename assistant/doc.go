// Package assistant is the worker side of crawlmaster: a gRPC server with a
// fixed pool of worker slots. The master asks which slots are idle
// (ReportIdleWorker) and hands one batch of URLs to one idle slot (Crawl);
// the slot fetches the batch's URLs one after another through the crawl
// package (robots.txt, politeness, timeouts, body cap) and streams one
// result per URL back as soon as it finishes. Each task's FetchPolicy
// becomes the fetch's crawl.Request (redirects followed or reported,
// links extracted up to max_links, sitemaps read; a task without policy
// follows redirects and reads nothing more), and each result carries the
// links with their kinds, noindex/nofollow and how long the host's next
// request would wait (next_request_after).
//
// The assistant keeps no crawl state of its own and never touches the
// database; if it dies, the master re-dispatches its URLs. On shutdown it
// drains: it reports draining (no idle slots), lets running batches finish
// within a grace period, then cancels the rest, answering their remaining
// URLs as cancelled so the master requeues them without charging an
// attempt.
package assistant
