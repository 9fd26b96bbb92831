// Package sitemap reads sitemap files (the sitemaps.org protocol 0.9): a
// <urlset> listing page URLs or a <sitemapindex> listing further sitemap
// files, plain or gzip-compressed, as a stream: memory does not grow with
// the file, and the protocol's caps (50,000 entries, 50 MB uncompressed
// per file) hold whatever the file says.
//
// It is a leaf package of the crawl library (the standard library and
// golang.org/x/net/html/charset): it parses and never fetches. Fetching,
// robots.txt, politeness and the per-seed caps are package crawl's.
//
// # Why encoding/xml
//
// The reader is encoding/xml's token decoder (RawToken, non-strict), with
// the structure checked by hand: an entry is the first <loc> directly
// inside a <url> (or <sitemap>) directly inside the root <urlset> (or
// <sitemapindex>), whatever the namespace prefixes, so extension
// elements such as <image:image><image:loc> never count as pages. The Go
// sitemap libraries looked at either unmarshal the whole document into
// memory (bored-engineer/sitemap: xml.Unmarshal, no caps, 200-only) or
// decode element by element through reflection without caps, gzip
// detection or a way to stop (oxffaa/gopher-parse-sitemap, itself built
// on encoding/xml); both need the caps and the stop added inside their
// loops, which is most of this package.
package sitemap

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/xml"
	"fmt"
	"io"

	"golang.org/x/net/html/charset"
)

// The protocol's caps and the URL length bound, the defaults of [Limits].
const (
	// MaxEntries is the most entries one file may hold (sitemaps.org).
	MaxEntries = 50000
	// MaxBytes is the most uncompressed bytes one file may have
	// (sitemaps.org: 50 MB, 52,428,800 bytes).
	MaxBytes = 50 << 20
	// MaxLocBytes is the longest <loc> reported: the longest URL the
	// crawler stores (8 KiB).
	MaxLocBytes = 8 << 10
)

// Kind says what a file lists.
type Kind uint8

// The kinds of sitemap file.
const (
	// Unknown: the root element is neither <urlset> nor <sitemapindex>
	// (an HTML error page served with 200, a text sitemap, garbage).
	Unknown Kind = iota
	// URLSet lists page URLs.
	URLSet
	// Index lists sitemap files.
	Index
)

// String returns "unknown", "urlset" or "sitemapindex".
func (k Kind) String() string {
	switch k {
	case URLSet:
		return "urlset"
	case Index:
		return "sitemapindex"
	}
	return "unknown"
}

// Limits bound one file. A zero field takes the constant of its name.
type Limits struct {
	MaxEntries  int   // most entries passed to the callback
	MaxBytes    int64 // most uncompressed bytes read
	MaxLocBytes int   // longest <loc> passed to the callback (after trimming)
}

func (l Limits) withDefaults() Limits {
	if l.MaxEntries <= 0 {
		l.MaxEntries = MaxEntries
	}
	if l.MaxBytes <= 0 {
		l.MaxBytes = MaxBytes
	}
	if l.MaxLocBytes <= 0 {
		l.MaxLocBytes = MaxLocBytes
	}
	return l
}

// Stats describes what Parse read.
type Stats struct {
	Kind    Kind
	Entries int   // entries passed to the callback
	TooLong int   // <loc> values longer than MaxLocBytes, skipped
	Bytes   int64 // uncompressed bytes read
	Gzip    bool  // the file was gzip-compressed (found by its magic bytes)
	// Truncated: parsing stopped at MaxEntries or MaxBytes while the file
	// went on.
	Truncated bool
}

var (
	gzipMagic = []byte{0x1f, 0x8b}
	utf8BOM   = []byte{0xef, 0xbb, 0xbf}
)

// Parse reads one sitemap file from r and calls fn with the <loc> of each
// entry, in document order: a page URL for a URLSet, a sitemap file URL
// for an Index. The loc is the element's text with entities decoded and
// surrounding whitespace trimmed; it is not validated as a URL. fn
// returning false stops parsing.
//
// gzip is recognised by its magic bytes, never by Content-Type or file
// name: a gzip file always starts with them, and a body an HTTP client
// already decompressed (Content-Encoding) must not be decompressed again
// whatever its name says. A UTF-8 byte order mark is skipped; other
// encodings are read when the XML declaration names them.
//
// Parse reads at most lim.MaxBytes uncompressed bytes and reports at
// most lim.MaxEntries entries; <loc> values longer than lim.MaxLocBytes
// are skipped and counted. Its memory is bounded by the longest token,
// itself bounded by MaxBytes. On malformed input it returns the entries
// read before the error with the error; it never panics.
func Parse(r io.Reader, lim Limits, fn func(kind Kind, loc string) bool) (Stats, error) {
	lim = lim.withDefaults()
	var st Stats
	br := bufio.NewReader(r)
	var src io.Reader = br
	if magic, _ := br.Peek(2); bytes.Equal(magic, gzipMagic) {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return st, fmt.Errorf("sitemap: gzip: %w", err)
		}
		defer zr.Close()
		st.Gzip = true
		src = bufio.NewReader(zr)
	}
	lr := &io.LimitedReader{R: src, N: lim.MaxBytes}
	body := bufio.NewReader(lr)
	if bom, _ := body.Peek(3); bytes.Equal(bom, utf8BOM) {
		_, _ = body.Discard(3)
	}
	d := xml.NewDecoder(body)
	d.Strict = false
	d.Entity = xml.HTMLEntity
	d.CharsetReader = charset.NewReaderLabel

	err := parseTokens(d, lim, &st, fn)
	st.Bytes = lim.MaxBytes - lr.N
	if lr.N == 0 && !st.Truncated {
		// The cap was reached: truncated if anything follows.
		var one [1]byte
		if n, _ := io.ReadFull(src, one[:]); n > 0 {
			st.Truncated = true
			err = nil // the cut, not the file, ended the document
		}
	}
	return st, err
}

func parseTokens(d *xml.Decoder, lim Limits, st *Stats, fn func(Kind, string) bool) error {
	const (
		rootDepth  = 1
		entryDepth = 2
		locDepth   = 3
	)
	depth := 0
	inEntry, inLoc, gotLoc, tooLong := false, false, false, false
	var loc []byte
	rawCap := 2 * lim.MaxLocBytes // room for whitespace around the URL
	for {
		tok, err := d.RawToken()
		if err != nil {
			if err == io.EOF {
				return nil
			}
			return fmt.Errorf("sitemap: %w", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			switch depth {
			case rootDepth:
				switch t.Name.Local {
				case "urlset":
					st.Kind = URLSet
				case "sitemapindex":
					st.Kind = Index
				default:
					return nil // not a sitemap: nothing to read
				}
			case entryDepth:
				inEntry = (st.Kind == URLSet && t.Name.Local == "url") ||
					(st.Kind == Index && t.Name.Local == "sitemap")
				gotLoc = false
			case locDepth:
				if inEntry && !gotLoc && t.Name.Local == "loc" {
					inLoc, tooLong, loc = true, false, loc[:0]
				}
			}
		case xml.CharData:
			if inLoc && !tooLong {
				if len(loc)+len(t) > rawCap {
					tooLong = true
				} else {
					loc = append(loc, t...)
				}
			}
		case xml.EndElement:
			if depth == locDepth && inLoc {
				inLoc, gotLoc = false, true
				s := bytes.TrimSpace(loc)
				switch {
				case tooLong || len(s) > lim.MaxLocBytes:
					st.TooLong++
				case len(s) > 0:
					if st.Entries >= lim.MaxEntries {
						st.Truncated = true
						return nil
					}
					st.Entries++
					if !fn(st.Kind, string(s)) {
						return nil
					}
				}
			}
			if depth == entryDepth {
				inEntry = false
			}
			if depth > 0 {
				depth--
			}
			if depth == 0 && st.Kind != Unknown {
				return nil // end of the root element; ignore what follows
			}
		}
	}
}
