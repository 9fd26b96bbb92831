// Package export writes stored fetches as WARC 1.1 files or JSON Lines.
// The master's `export` command reads them from PostgreSQL (store.Export)
// in cursor order and hands them to a Writer one at a time, so memory is
// bounded by one record whatever the crawl's size.
package export
