// Package tranco reads Tranco top-sites lists: the downloaded .zip holding
// top-1m.csv, or the plain CSV. Each line is "rank,domain" (no header; CRLF
// line ends; a UTF-8 byte-order mark and blank lines are tolerated).
//
// Reading streams: memory does not depend on the list's length. Malformed
// lines are skipped and reported with their line numbers, never fatal, so
// one junk line cannot abort an import half-way.
package tranco
