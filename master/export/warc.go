// WARC library: github.com/nlnwa/gowarc/v3 rather than
// github.com/internetarchive/gowarc. nlnwa's adds three small modules to
// the build (google/uuid, nlnwa/whatwg-url, bits-and-blooms/bitset; the
// rest it needs we already had), where internetarchive's brings its whole
// capturing HTTP client (utls, miekg/dns, brotli, xz, socks5, cobra,
// blake3, otter: 25 requirements). nlnwa's record builder takes every
// header we set (WARC-Truncated, WARC-Payload-Digest, WARC-Refers-To-*) on
// bytes we already hold, checks our digests against the block it parses,
// and its file writer already does one gzip member per record, a warcinfo
// per file and ".open" names renamed when complete. internetarchive's
// writer keeps headers in an unordered map and its file rotator panics on
// I/O errors.

package export

import (
	"bytes"
	"crypto/sha256"
	"encoding/base32"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nlnwa/gowarc/v3"
)

// DefaultMaxFileSize is the size at which a WARC file is closed and the
// next one started when NewWARCWriter is given no size (1 GiB, the WARC
// 1.1 recommendation).
const DefaultMaxFileSize int64 = 1 << 30

// Revisit profiles (WARC 1.1, 6.7.2 and 6.7.3).
const (
	ProfileServerNotModified      = gowarc.ProfileServerNotModifiedV1_1
	ProfileIdenticalPayloadDigest = gowarc.ProfileIdenticalPayloadDigestV1_1
)

const (
	contentTypeHTTPRequest  = "application/http;msgtype=request"
	contentTypeHTTPResponse = "application/http;msgtype=response"
	warcFormat              = "WARC File Format 1.1"
	warcConformsTo          = "http://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/"
	software                = "crawlmaster"
	openSuffix              = ".open"
	recordBufferBytes       = 32 << 20 // a record's block is built in memory up to this, on disk beyond
	warcDateLayout          = "2006-01-02T15:04:05.999999Z07:00"
	truncatedLength         = "length"
	digestPrefix            = "sha256:"
	serialDigits            = 5
	maxSerial               = 99999
	fileTimestampLayout     = "20060102150405"
)

// ErrInvalidRecord wraps the error Write returns for a record it refused
// because the WARC record built from it failed validation (a target URI
// that does not parse, a digest that does not match). Nothing was written
// for it and the writer stays usable: the caller may log it and go on.
var ErrInvalidRecord = errors.New("export: invalid WARC record")

// digestEncoding is RFC 4648 base32 without padding: WARC 1.1 makes a
// digest value a token, which "=" is not allowed in (a SHA-256 base32 value
// would end in "====").
var digestEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// WARCInfo is what the operator puts in the warcinfo record that starts
// every file, besides "software: crawlmaster" and "format: WARC File
// Format 1.1". Empty fields are left out.
type WARCInfo struct {
	Crawl           string // the crawl's name, written as isPartOf
	SoftwareVersion string // appended to software as crawlmaster/<version>
	Operator        string // contact for the crawl
	Hostname        string
	Description     string
	Robots          string // the robots policy followed, e.g. "obey"
	UserAgent       string // written as http-header-user-agent
	// Fields are further "name: value" lines, written in order after the
	// ones above. Names are tokens; values may not hold CR or LF.
	Fields [][2]string
}

// WARCStats counts what a WARCWriter wrote: records by WARC-Type, and the
// fetches it wrote nothing for.
type WARCStats struct {
	Warcinfo int64
	Request  int64
	Response int64
	Revisit  int64
	// Skipped counts the fetches that received no response (a DNS or
	// connection failure, a URL robots.txt disallowed): there is nothing
	// to archive for them, so no record is written.
	Skipped int64
	// Invalid counts the records refused with ErrInvalidRecord.
	Invalid int64
}

// WARCWriter writes Records as WARC 1.1 files: <prefix>-<YYYYMMDDhhmmss>-<nnnnn>.warc.gz
// in one directory, one gzip member per record, each file starting with a
// warcinfo record. A file is written under its name + ".open" and renamed
// (after an fsync) once complete, so a file without ".open" is never a
// half-written one. A file is closed and the next started once it has
// reached the maximum size: files exceed it by at most one fetch's
// records. No file is created until the first record is written.
//
// For a fetch that got a response, Write writes
//   - a response record: the stored response head and body as block
//     (application/http;msgtype=response), WARC-Payload-Digest the SHA-256 of
//     the stored body, and WARC-Truncated: length when the stored body is
//     shorter than the body received (BodyTruncated, or Body shorter than
//     BodySize, which includes a body that was read but not stored);
//   - or, for an Unchanged fetch, a revisit record whose block is the
//     response head alone: profile server-not-modified for a 304 (which
//     refers by URI and date alone), else identical-payload-digest with
//     the ContentHash as WARC-Payload-Digest, WARC-Refers-To-Target-URI
//     the same target URI and WARC-Refers-To-Date RefersTo when set. An
//     Unchanged 200 without a ContentHash, or whose stored body was cut
//     (the record it refers to has the digest of a cut body, not the
//     ContentHash), is written as a response;
//   - then a request record, the stored request head as block
//     (application/http;msgtype=request), when the request head was stored
//     (none is made up when it was not). Response (or revisit) and request
//     name each other in WARC-Concurrent-To. The response comes first, as
//     Heritrix and warcprox order them.
//
// Both records describe the final hop: WARC-Target-URI is FinalURL (URL
// when FinalURL is empty), since the heads and body stored are those of
// the response the redirects led to; the redirect responses themselves
// are not stored, so not archived. WARC-Date is FetchedAt in UTC to the
// microsecond. WARC-IP-Address is not written (not stored). Every record
// has a WARC-Block-Digest, and records name their file's warcinfo in
// WARC-Warcinfo-ID. Digests are sha256 in base32 without padding.
//
// A WARCWriter is safe for concurrent use, though records are written one
// at a time in the order of the calls.
type WARCWriter struct {
	dir         string
	maxFileSize int64
	info        []byte // the warcinfo block

	mu      sync.Mutex
	inner   *gowarc.WarcFileWriter
	current string // final name of the file being written, "" if none
	err     error  // sticky: an I/O error; nothing more is written
	closed  bool

	filesMu sync.Mutex
	files   []string

	warcinfo, request, response, revisit, skipped, invalid atomic.Int64
}

var _ Writer = (*WARCWriter)(nil)

// NewWARCWriter returns a WARCWriter writing files named after prefix into
// dir, which must exist. maxFileSize <= 0 means DefaultMaxFileSize.
func NewWARCWriter(dir, prefix string, maxFileSize int64, info WARCInfo) (*WARCWriter, error) {
	if prefix == "" || strings.ContainsAny(prefix, `/\`) || strings.HasPrefix(prefix, ".") {
		return nil, fmt.Errorf("export: WARC file prefix %q: want a non-empty name without path separators", prefix)
	}
	if st, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("export: WARC directory: %w", err)
	} else if !st.IsDir() {
		return nil, fmt.Errorf("export: WARC directory %s is not a directory", dir)
	}
	block, err := warcinfoBlock(info)
	if err != nil {
		return nil, err
	}
	if maxFileSize <= 0 {
		maxFileSize = DefaultMaxFileSize
	}
	w := &WARCWriter{dir: dir, maxFileSize: maxFileSize, info: block}
	names := &fileNamer{dir: dir, prefix: prefix}
	w.inner = gowarc.NewWarcFileWriter(
		gowarc.WithCompression(true),
		gowarc.WithCompressedFileSuffix(".gz"),
		gowarc.WithOpenFileSuffix(openSuffix),
		gowarc.WithMaxFileSize(0), // rotation is ours: after a fetch, once the file reached maxFileSize
		gowarc.WithMaxConcurrentWriters(1),
		gowarc.WithFileNameGenerator(names),
		gowarc.WithAddWarcConcurrentToHeader(true),
		gowarc.WithWarcInfoFunc(w.writeWarcinfo),
		gowarc.WithAfterFileCreationHook(func(path string, _ int64, _ string) error {
			w.filesMu.Lock()
			w.files = append(w.files, path)
			w.filesMu.Unlock()
			return nil
		}),
	)
	return w, nil
}

// Write writes the records of one fetch (see WARCWriter). A fetch without
// a response is counted as skipped and nil returned. An error wrapping
// ErrInvalidRecord leaves the writer usable; any other error is an I/O
// error, after which every Write and Close return it and the file being
// written is left under its ".open" name.
func (w *WARCWriter) Write(r *Record) error {
	if r == nil {
		return errors.New("export: nil Record")
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return errors.New("export: WARCWriter is closed")
	}
	if w.err != nil {
		return w.err
	}
	if len(r.ResponseHead) == 0 {
		w.skipped.Add(1)
		return nil
	}

	records, err := buildRecords(r)
	if err != nil {
		w.invalid.Add(1)
		return err
	}
	resps := w.inner.Write(records...)
	if len(resps) != len(records) {
		return w.fail(errors.New("export: WARC writer stopped"))
	}
	for _, resp := range resps {
		if resp.FileName != "" {
			w.current = resp.FileName
		}
	}
	for _, resp := range resps {
		if resp.Err != nil {
			return w.fail(fmt.Errorf("export: writing %s: %w", resp.FileName, resp.Err))
		}
	}
	for _, rec := range records {
		switch rec.Type() {
		case gowarc.Response:
			w.response.Add(1)
		case gowarc.Revisit:
			w.revisit.Add(1)
		case gowarc.Request:
			w.request.Add(1)
		}
	}

	st, err := os.Stat(w.openPath())
	if err != nil {
		return w.fail(fmt.Errorf("export: %w", err))
	}
	if st.Size() >= w.maxFileSize {
		if err := w.finishFile(); err != nil {
			return w.fail(err)
		}
	}
	return nil
}

// Close completes the file being written (fsync, rename) and stops the
// writer. It returns the writer's sticky error if a Write failed.
func (w *WARCWriter) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return w.err
	}
	w.closed = true
	if w.err == nil {
		if err := w.finishFile(); err != nil {
			w.err = err
		}
	}
	_ = w.inner.Close() // always nil; finishFile (Rotate) reported the close and rename
	return w.err
}

// Files returns the paths of the completed files, in the order they were
// written. After Close it is every file the writer wrote.
func (w *WARCWriter) Files() []string {
	w.filesMu.Lock()
	defer w.filesMu.Unlock()
	return append([]string(nil), w.files...)
}

// Stats returns the counts so far.
func (w *WARCWriter) Stats() WARCStats {
	return WARCStats{
		Warcinfo: w.warcinfo.Load(),
		Request:  w.request.Load(),
		Response: w.response.Load(),
		Revisit:  w.revisit.Load(),
		Skipped:  w.skipped.Load(),
		Invalid:  w.invalid.Load(),
	}
}

func (w *WARCWriter) openPath() string {
	return filepath.Join(w.dir, w.current+openSuffix)
}

// finishFile syncs the current file to disk and has the library close it
// and rename it to its final name.
func (w *WARCWriter) finishFile() error {
	if w.current == "" {
		return nil
	}
	if err := syncFile(w.openPath()); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	w.current = ""
	if err := w.inner.Rotate(); err != nil {
		return fmt.Errorf("export: completing WARC file: %w", err)
	}
	return nil
}

// fail makes err sticky. The file being written may hold a partial
// record: it is closed and keeps (or gets back) its ".open" name.
func (w *WARCWriter) fail(err error) error {
	w.err = err
	if w.current == "" {
		return err
	}
	final := filepath.Join(w.dir, w.current)
	w.current = ""
	_ = w.inner.Rotate() // closes and renames it to final
	if _, serr := os.Stat(final); serr == nil {
		if rerr := os.Rename(final, final+openSuffix); rerr == nil {
			w.filesMu.Lock()
			for i, f := range w.files {
				if f == final {
					w.files = append(w.files[:i], w.files[i+1:]...)
					break
				}
			}
			w.filesMu.Unlock()
		}
	}
	return err
}

func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// writeWarcinfo fills the warcinfo record the library starts each file
// with (it has set WARC-Type, WARC-Date, WARC-Filename, Content-Type).
func (w *WARCWriter) writeWarcinfo(b gowarc.WarcRecordBuilder) error {
	if _, err := b.Write(w.info); err != nil {
		return err
	}
	b.AddWarcHeader(gowarc.WarcBlockDigest, digest(sha256.Sum256(w.info)))
	w.warcinfo.Add(1)
	return nil
}

func warcinfoBlock(info WARCInfo) ([]byte, error) {
	sw := software
	if info.SoftwareVersion != "" {
		sw += "/" + info.SoftwareVersion
	}
	fields := [][2]string{
		{"software", sw},
		{"format", warcFormat},
		{"conformsTo", warcConformsTo},
		{"isPartOf", info.Crawl},
		{"operator", info.Operator},
		{"hostname", info.Hostname},
		{"description", info.Description},
		{"robots", info.Robots},
		{"http-header-user-agent", info.UserAgent},
	}
	fields = append(fields, info.Fields...)
	var b bytes.Buffer
	for _, f := range fields {
		name, value := f[0], f[1]
		if value == "" {
			continue
		}
		if !isToken(name) {
			return nil, fmt.Errorf("export: warcinfo field name %q is not a token", name)
		}
		if strings.ContainsAny(value, "\r\n") {
			return nil, fmt.Errorf("export: warcinfo field %s: value holds a line break", name)
		}
		b.WriteString(name)
		b.WriteString(": ")
		b.WriteString(value)
		b.WriteString("\r\n")
	}
	return b.Bytes(), nil
}

// isToken reports whether s is an RFC 9110 token.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// buildRecords builds the records of one fetch that got a response: the
// response or revisit, then the request when its head was stored.
func buildRecords(r *Record) ([]gowarc.WarcRecord, error) {
	uri := r.FinalURL
	if uri == "" {
		uri = r.URL
	}
	if uri == "" {
		return nil, fmt.Errorf("%w: lease %d: no URL", ErrInvalidRecord, r.LeaseToken)
	}
	date := r.FetchedAt.UTC().Format(warcDateLayout)
	respHead := terminateHead(r.ResponseHead)

	var primary gowarc.WarcRecordBuilder
	// A revisit record stands for the payload of the record it refers to.
	// A 304 (server-not-modified) refers to it by URI and date. An
	// unchanged 200 refers to it by payload digest, which a response
	// record computes over the body it holds: when the stored body was cut
	// shorter than the fetched one, that is not the content hash, so such
	// a fetch is written as a response of its own (it has its body).
	cut := int64(len(r.Body)) < r.BodySize
	revisit := r.Unchanged && (r.NotModified || (len(r.ContentHash) > 0 && !cut))
	if revisit {
		if len(r.ContentHash) > 0 && len(r.ContentHash) != sha256.Size {
			return nil, fmt.Errorf("%w: lease %d: content hash of %d bytes, want a SHA-256", ErrInvalidRecord, r.LeaseToken, len(r.ContentHash))
		}
		primary = newBuilder(gowarc.Revisit, uri, date, contentTypeHTTPResponse)
		profile := ProfileIdenticalPayloadDigest
		if r.NotModified {
			profile = ProfileServerNotModified
		}
		primary.AddWarcHeader(gowarc.WarcProfile, profile)
		if !r.NotModified {
			primary.AddWarcHeader(gowarc.WarcPayloadDigest, digestPrefix+digestEncoding.EncodeToString(r.ContentHash))
		}
		primary.AddWarcHeader(gowarc.WarcRefersToTargetURI, uri)
		if !r.RefersTo.IsZero() {
			primary.AddWarcHeader(gowarc.WarcRefersToDate, r.RefersTo.UTC().Format(warcDateLayout))
		}
		primary.AddWarcHeader(gowarc.WarcBlockDigest, digest(sha256.Sum256(respHead)))
		_, _ = primary.Write(respHead)
	} else {
		primary = newBuilder(gowarc.Response, uri, date, contentTypeHTTPResponse)
		block := sha256.New()
		block.Write(respHead)
		block.Write(r.Body)
		primary.AddWarcHeader(gowarc.WarcPayloadDigest, digest(sha256.Sum256(r.Body)))
		primary.AddWarcHeader(gowarc.WarcBlockDigest, digestPrefix+digestEncoding.EncodeToString(block.Sum(nil)))
		if r.BodyTruncated || cut {
			primary.AddWarcHeader(gowarc.WarcTruncated, truncatedLength)
		}
		_, _ = primary.Write(respHead)
		_, _ = primary.Write(r.Body)
	}
	builders := []gowarc.WarcRecordBuilder{primary}
	if len(r.RequestHead) > 0 {
		reqHead := terminateHead(r.RequestHead)
		req := newBuilder(gowarc.Request, uri, date, contentTypeHTTPRequest)
		req.AddWarcHeader(gowarc.WarcBlockDigest, digest(sha256.Sum256(reqHead)))
		_, _ = req.Write(reqHead)
		builders = append(builders, req)
	}

	records := make([]gowarc.WarcRecord, 0, len(builders))
	for i, b := range builders {
		rec, findings, err := b.Build()
		if err == nil && len(findings) > 0 {
			_ = rec.Close()
			err = errors.Join(findings...)
		}
		if err != nil {
			for _, built := range records {
				_ = built.Close()
			}
			for _, rest := range builders[i+1:] {
				_ = rest.Close()
			}
			return nil, fmt.Errorf("%w: lease %d (%s): %w", ErrInvalidRecord, r.LeaseToken, uri, err)
		}
		records = append(records, rec)
	}
	return records, nil
}

func newBuilder(t gowarc.RecordType, uri, date, contentType string) gowarc.WarcRecordBuilder {
	b := gowarc.NewRecordBuilder(t,
		gowarc.WithBufferMaxMemBytes(recordBufferBytes),
		gowarc.WithDefaultDigestAlgorithm("sha256"),
		gowarc.WithDefaultDigestEncoding(gowarc.Base32),
	)
	b.AddWarcHeader(gowarc.WarcTargetURI, uri)
	b.AddWarcHeader(gowarc.WarcDate, date)
	b.AddWarcHeader(gowarc.ContentType, contentType)
	return b
}

func digest(sum [sha256.Size]byte) string {
	return digestPrefix + digestEncoding.EncodeToString(sum[:])
}

// terminateHead returns head ending in an empty line, as a stored head
// does; one cut short (not expected) gets the missing line ends so that
// a reader finds where the body starts.
func terminateHead(head []byte) []byte {
	switch {
	case bytes.HasSuffix(head, []byte("\r\n\r\n")), bytes.HasSuffix(head, []byte("\n\n")):
		return head
	case bytes.HasSuffix(head, []byte("\r\n")):
		return append(head[:len(head):len(head)], "\r\n"...)
	case bytes.HasSuffix(head, []byte("\n")):
		return append(head[:len(head):len(head)], "\n"...)
	default:
		return append(head[:len(head):len(head)], "\r\n\r\n"...)
	}
}

// fileNamer names files <prefix>-<YYYYMMDDhhmmss>-<nnnnn>.warc (the
// library adds .gz and .open), the time being the file's creation in UTC
// and the serial counting the writer's files from 00000. A name whose file
// (complete or open) already exists in dir is passed over, so a second
// export into the same directory within the same second does not collide.
type fileNamer struct {
	dir    string
	prefix string
	serial int
	now    func() time.Time // nil: time.Now
}

func (n *fileNamer) NewWarcfileName() (string, string) {
	now := time.Now
	if n.now != nil {
		now = n.now
	}
	ts := now().UTC().Format(fileTimestampLayout)
	var name string
	for range maxSerial + 1 { // all taken: the last one's creation fails (O_EXCL)
		name = fmt.Sprintf("%s-%s-%0*d.warc", n.prefix, ts, serialDigits, n.serial%(maxSerial+1))
		n.serial++
		if !exists(filepath.Join(n.dir, name+".gz")) && !exists(filepath.Join(n.dir, name+".gz"+openSuffix)) {
			break
		}
	}
	return n.dir, name
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil || !errors.Is(err, os.ErrNotExist)
}
