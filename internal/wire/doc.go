// Package wire converts between the Go vocabulary (crawl/errclass) and the
// protocol's typed enums (proto/crawlmaster/v1), in one table each way, so
// neither the assistant nor the master carries meaning in strings. It also
// reads the typed Refusal a refused Crawl call carries in its status.
package wire
