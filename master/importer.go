package master

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/crawlmaster/crawlmaster/crawl/netguard"
	"github.com/crawlmaster/crawlmaster/crawl/urlnorm"
	"github.com/crawlmaster/crawlmaster/master/frontier"
	"github.com/crawlmaster/crawlmaster/master/store"
	"github.com/crawlmaster/crawlmaster/master/tranco"
)

// Inserter is the part of the store imports use.
type Inserter interface {
	Insert(ctx context.Context, crawl frontier.Crawl, urls []store.NewURL, src store.ImportSource) (int64, error)
	Analyze(ctx context.Context) error
}

// ImportReport summarises an import.
type ImportReport struct {
	Lines    int              // lines read
	Valid    int              // lines that made a URL
	Inserted int64            // URLs new to the frontier
	Bad      int              // lines skipped
	FirstBad []tranco.BadLine // the first few skipped lines
	Duration time.Duration
}

func (r ImportReport) String() string {
	return fmt.Sprintf("%d lines, %d valid, %d new URLs (%d already known), %d bad lines skipped, in %s",
		r.Lines, r.Valid, r.Inserted, int64(r.Valid)-r.Inserted, r.Bad, r.Duration.Round(time.Millisecond))
}

// ImportOptions tune ImportTranco.
type ImportOptions struct {
	Crawl    frontier.Crawl // the crawl the seeds join
	Limit    int            // stop after this many valid entries (0: all)
	Scheme   string         // "https" (default) or "http"
	Progress func(ImportReport)
	// ProgressEvery is the minimum time between Progress calls.
	ProgressEvery time.Duration
	// Guard refuses domains that are IP literals of special-purpose
	// ranges or localhost names (see [Enqueue]); nil refuses them all.
	Guard *netguard.Guard
}

// ImportTranco streams a Tranco list into the frontier: one URL per domain
// (scheme://domain/), priority = rank. Bad lines are skipped and reported;
// the import never stops half-way on them. Re-importing adds nothing new.
func ImportTranco(ctx context.Context, ins Inserter, r io.Reader, o ImportOptions) (ImportReport, error) {
	scheme := o.Scheme
	if scheme == "" {
		scheme = "https"
	}
	if scheme != "http" && scheme != "https" {
		return ImportReport{}, fmt.Errorf("--scheme: %q is not http or https", scheme)
	}
	start := time.Now()
	tr := tranco.NewReader(r)
	var rep ImportReport
	lastProgress := start
	b := &urlBatch{ctx: ctx, ins: ins, crawl: o.Crawl, src: store.SourceTranco, rep: &rep, guard: o.Guard, onFlush: func() {
		if o.Progress != nil && time.Since(lastProgress) >= o.ProgressEvery {
			lastProgress = time.Now()
			progress := rep
			progress.Lines, progress.Bad, progress.Duration = tr.Lines(), tr.Bad()+rep.Bad, time.Since(start)
			o.Progress(progress)
		}
	}}
	for o.Limit == 0 || rep.Valid < o.Limit {
		e, ok := tr.Next()
		if !ok {
			break
		}
		if err := b.add(e.Line, e.Domain, scheme+"://"+e.Domain+"/", int32(e.Rank)); err != nil {
			return rep, err
		}
	}
	if err := tr.Err(); err != nil {
		return rep, err
	}
	if err := b.flush(); err != nil {
		return rep, err
	}
	if err := ins.Analyze(ctx); err != nil {
		return rep, err
	}
	// Lines the reader rejected come first, then lines whose URL did not
	// normalise; each carries its line number.
	rep.Lines = tr.Lines()
	rep.Bad += tr.Bad()
	rep.FirstBad = append(redactBad(tr.FirstBad()), rep.FirstBad...)
	if len(rep.FirstBad) > tranco.MaxReportedBadLines {
		rep.FirstBad = rep.FirstBad[:tranco.MaxReportedBadLines]
	}
	rep.Duration = time.Since(start)
	return rep, nil
}

// maxEnqueueLine is the longest line Enqueue reads whole; a longer one
// cannot hold a URL of at most urlnorm.MaxLength bytes, so it is reported
// and skipped without being kept in memory.
const maxEnqueueLine = 16 << 10

// Enqueue adds arbitrary URLs to crawl, one per line ('#' comments and
// blank lines ignored), at the given priority. Invalid and oversized URLs
// are reported with their line numbers and not stored; the lines after
// them are read as usual. So is a URL whose host guard refuses
// ([netguard.Guard.CheckHost]): an IP literal of a special-purpose range
// (loopback, private, link-local, ..., and their IPv4-mapped and NAT64
// forms) or localhost, unless rpc.yaml's fetch.allowed_networks, from
// which the guard is made, allows it (nil: none is allowed). Userinfo is
// redacted from reported lines.
func Enqueue(ctx context.Context, ins Inserter, crawl frontier.Crawl, r io.Reader, priority int32, guard *netguard.Guard) (ImportReport, error) {
	start := time.Now()
	br := bufio.NewReaderSize(r, maxEnqueueLine)
	var rep ImportReport
	b := &urlBatch{ctx: ctx, ins: ins, crawl: crawl, src: store.SourceEnqueue, rep: &rep, guard: guard}
	for {
		raw, err := br.ReadSlice('\n')
		long := errors.Is(err, bufio.ErrBufferFull)
		var head string
		if long {
			head = string(raw) // kept: skipping the rest overwrites raw
		}
		for errors.Is(err, bufio.ErrBufferFull) { // skip the rest of an oversized line
			_, err = br.ReadSlice('\n')
		}
		if len(raw) == 0 && err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return rep, fmt.Errorf("read line %d: %w", rep.Lines+1, err)
		}
		rep.Lines++
		if long {
			b.bad(rep.Lines, head, // bad redacts, then cuts
				fmt.Sprintf("line longer than %d bytes (a URL may have at most %d)", maxEnqueueLine, urlnorm.MaxLength))
			continue
		}
		line := strings.TrimSpace(string(raw))
		if rep.Lines == 1 {
			line = strings.TrimPrefix(line, "\ufeff")
		}
		if line != "" && !strings.HasPrefix(line, "#") {
			if err := b.add(rep.Lines, line, line, priority); err != nil {
				return rep, err
			}
		}
		if err != nil { // io.EOF after a last line without a newline
			break
		}
	}
	if err := b.flush(); err != nil {
		return rep, err
	}
	if err := ins.Analyze(ctx); err != nil {
		return rep, err
	}
	rep.Duration = time.Since(start)
	return rep, nil
}

// urlBatch normalises URLs and inserts them in chunks of store.ImportChunk,
// recording invalid and refused ones in the report.
type urlBatch struct {
	ctx     context.Context
	ins     Inserter
	crawl   frontier.Crawl
	src     store.ImportSource
	rep     *ImportReport
	guard   *netguard.Guard // nil: refuses every special-purpose host
	urls    []store.NewURL
	onFlush func()
}

// add normalises raw (from line, shown as text when invalid) and queues it.
func (b *urlBatch) add(line int, text, raw string, priority int32) error {
	u, err := newURL(raw, priority)
	if err == nil {
		err = b.guard.CheckHost(u.Host)
	}
	if err != nil {
		b.bad(line, text, err.Error())
		return nil
	}
	b.rep.Valid++
	if b.urls == nil {
		b.urls = make([]store.NewURL, 0, store.ImportChunk)
	}
	b.urls = append(b.urls, u)
	if len(b.urls) == cap(b.urls) {
		return b.flush()
	}
	return nil
}

// bad records a skipped line, its URL's userinfo redacted.
func (b *urlBatch) bad(line int, text, reason string) {
	b.rep.Bad++
	if len(b.rep.FirstBad) < tranco.MaxReportedBadLines {
		b.rep.FirstBad = append(b.rep.FirstBad, tranco.BadLine{Line: line,
			Text: cut(urlnorm.Redact(text), 120), Reason: urlnorm.Redact(reason)})
	}
}

// redactBad redacts userinfo in bad lines, in place.
func redactBad(bad []tranco.BadLine) []tranco.BadLine {
	for i := range bad {
		bad[i].Text, bad[i].Reason = urlnorm.Redact(bad[i].Text), urlnorm.Redact(bad[i].Reason)
	}
	return bad
}

func (b *urlBatch) flush() error {
	n, err := b.ins.Insert(b.ctx, b.crawl, b.urls, b.src)
	if err != nil {
		return err
	}
	b.rep.Inserted += n
	b.urls = b.urls[:0]
	if b.onFlush != nil {
		b.onFlush()
	}
	return nil
}

func cut(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// newURL normalises raw and derives its host and affinity domain.
func newURL(raw string, priority int32) (store.NewURL, error) {
	norm, err := urlnorm.Normalize(raw)
	if err != nil {
		return store.NewURL{}, err
	}
	host, err := urlnorm.Host(norm)
	if err != nil {
		return store.NewURL{}, err
	}
	return store.NewURL{URL: norm, Host: host, Domain: urlnorm.Site(host), Priority: priority}, nil
}

// SeedVerdict says what became of one URL given to Submit.
type SeedVerdict uint8

// Seed verdicts: accepted, or why not.
const (
	// SeedAccepted: new to the crawl, now pending.
	SeedAccepted SeedVerdict = iota
	// SeedInvalid: not an absolute URL, a bad host, port or path, userinfo.
	SeedInvalid
	// SeedUnsupportedScheme: a scheme other than http and https.
	SeedUnsupportedScheme
	// SeedTooLong: longer than urlnorm.MaxLength bytes as given.
	SeedTooLong
	// SeedBlockedAddress: a host the fetch guard refuses.
	SeedBlockedAddress
	// SeedDuplicate: the same normalised URL came earlier in the call.
	SeedDuplicate
	// SeedKnown: the crawl has the URL already.
	SeedKnown
)

// Submitted is the verdict on one URL given to Submit.
type Submitted struct {
	// URL is the normalised URL; "" when it did not normalise.
	URL     string
	Verdict SeedVerdict
	// Err says why a URL was refused (userinfo redacted): nil when it was
	// accepted, a duplicate or known.
	Err error
}

// SeedInserter is the part of the store Submit uses.
type SeedInserter interface {
	InsertSeeds(ctx context.Context, crawl frontier.Crawl, urls []store.NewURL, src store.ImportSource) ([]bool, error)
}

// Submit adds raws to crawl as seeds at priority, as Enqueue adds lines,
// and returns a verdict per URL, in order: each is normalised and checked
// against guard as Enqueue does (nil refuses every special-purpose host),
// then all that pass are inserted in one transaction (none when it fails)
// and accepted when new to the crawl. It is the API's SubmitURLs.
func Submit(ctx context.Context, ins SeedInserter, crawl frontier.Crawl, raws []string, priority int32, guard *netguard.Guard) ([]Submitted, error) {
	out := make([]Submitted, len(raws))
	urls := make([]store.NewURL, 0, len(raws))
	at := make([]int, 0, len(raws)) // the index in out of each of urls
	for i, raw := range raws {
		u, verdict, err := seedURL(raw, priority, guard)
		out[i] = Submitted{URL: u.URL, Verdict: verdict, Err: err}
		if err == nil {
			urls = append(urls, u)
			at = append(at, i)
		}
	}
	isNew, err := ins.InsertSeeds(ctx, crawl, urls, store.SourceAPI)
	if err != nil {
		return nil, err
	}
	seen := make(map[string]bool, len(urls))
	for j, i := range at {
		switch {
		case isNew[j]:
			out[i].Verdict = SeedAccepted
		case seen[urls[j].URL]:
			out[i].Verdict = SeedDuplicate
		default:
			out[i].Verdict = SeedKnown
		}
		seen[urls[j].URL] = true
	}
	return out, nil
}

// seedURL is newURL and the guard's check, as Enqueue applies them, with
// the reason of a refusal told apart: it says SeedAccepted for a URL that
// may be inserted.
func seedURL(raw string, priority int32, guard *netguard.Guard) (store.NewURL, SeedVerdict, error) {
	trimmed := strings.TrimFunc(raw, func(r rune) bool { return r <= ' ' }) // as urlnorm trims
	if len(trimmed) > urlnorm.MaxLength {
		return store.NewURL{}, SeedTooLong, fmt.Errorf("%d bytes, longer than the %d allowed", len(trimmed), urlnorm.MaxLength)
	}
	u, err := newURL(raw, priority)
	if err != nil {
		verdict := SeedInvalid
		switch {
		case errors.Is(err, urlnorm.ErrScheme):
			verdict = SeedUnsupportedScheme
		case errors.Is(err, urlnorm.ErrTooLong):
			verdict = SeedTooLong // longer once normalised (percent-encoding)
		}
		return store.NewURL{}, verdict, errors.New(urlnorm.Redact(err.Error()))
	}
	if err := guard.CheckHost(u.Host); err != nil {
		return u, SeedBlockedAddress, err
	}
	return u, SeedAccepted, nil
}
