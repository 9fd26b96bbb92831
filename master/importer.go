package master

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/crawlmaster/crawlmaster/crawl"
	"github.com/crawlmaster/crawlmaster/master/store"
	"github.com/crawlmaster/crawlmaster/master/tranco"
)

// Inserter is the part of the store imports use.
type Inserter interface {
	Insert(ctx context.Context, urls []store.NewURL, src store.ImportSource) (int64, error)
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
	Limit    int    // stop after this many valid entries (0: all)
	Scheme   string // "https" (default) or "http"
	Progress func(ImportReport)
	// ProgressEvery is the minimum time between Progress calls.
	ProgressEvery time.Duration
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
	var bad []tranco.BadLine
	batch := make([]store.NewURL, 0, store.ImportChunk)
	lastProgress := start
	flush := func() error {
		n, err := ins.Insert(ctx, batch, store.SourceTranco)
		if err != nil {
			return err
		}
		rep.Inserted += n
		batch = batch[:0]
		if o.Progress != nil && time.Since(lastProgress) >= o.ProgressEvery {
			lastProgress = time.Now()
			rep.Lines, rep.Bad, rep.Duration = tr.Lines(), tr.Bad()+len(bad), time.Since(start)
			o.Progress(rep)
		}
		return nil
	}
	for o.Limit == 0 || rep.Valid < o.Limit {
		e, ok := tr.Next()
		if !ok {
			break
		}
		u, err := newURL(scheme+"://"+e.Domain+"/", int32(e.Rank))
		if err != nil {
			if len(bad) < tranco.MaxReportedBadLines {
				bad = append(bad, tranco.BadLine{Line: e.Line, Text: e.Domain, Reason: err.Error()})
			}
			rep.Bad++
			continue
		}
		rep.Valid++
		batch = append(batch, u)
		if len(batch) == cap(batch) {
			if err := flush(); err != nil {
				return rep, err
			}
		}
	}
	if err := tr.Err(); err != nil {
		return rep, err
	}
	if err := flush(); err != nil {
		return rep, err
	}
	rep.Lines = tr.Lines()
	rep.Bad += tr.Bad()
	rep.FirstBad = append(tr.FirstBad(), bad...)
	if len(rep.FirstBad) > tranco.MaxReportedBadLines {
		rep.FirstBad = rep.FirstBad[:tranco.MaxReportedBadLines]
	}
	rep.Duration = time.Since(start)
	return rep, nil
}

// Enqueue adds arbitrary URLs, one per line ('#' comments and blank lines
// ignored), at the given priority. Invalid URLs are reported with their
// line numbers and not stored.
func Enqueue(ctx context.Context, ins Inserter, r io.Reader, priority int32) (ImportReport, error) {
	start := time.Now()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var rep ImportReport
	batch := make([]store.NewURL, 0, store.ImportChunk)
	flush := func() error {
		n, err := ins.Insert(ctx, batch, store.SourceEnqueue)
		rep.Inserted += n
		batch = batch[:0]
		return err
	}
	for sc.Scan() {
		rep.Lines++
		line := strings.TrimSpace(sc.Text())
		if rep.Lines == 1 {
			line = strings.TrimPrefix(line, "\ufeff")
		}
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		u, err := newURL(line, priority)
		if err != nil {
			rep.Bad++
			if len(rep.FirstBad) < tranco.MaxReportedBadLines {
				t := line
				if len(t) > 120 {
					t = t[:120]
				}
				rep.FirstBad = append(rep.FirstBad, tranco.BadLine{Line: rep.Lines, Text: t, Reason: err.Error()})
			}
			continue
		}
		rep.Valid++
		batch = append(batch, u)
		if len(batch) == cap(batch) {
			if err := flush(); err != nil {
				return rep, err
			}
		}
	}
	if err := sc.Err(); err != nil {
		return rep, fmt.Errorf("read line %d: %w", rep.Lines+1, err)
	}
	if err := flush(); err != nil {
		return rep, err
	}
	rep.Duration = time.Since(start)
	return rep, nil
}

// newURL normalises raw and derives its host and affinity domain.
func newURL(raw string, priority int32) (store.NewURL, error) {
	norm, err := crawl.NormalizeURL(raw)
	if err != nil {
		return store.NewURL{}, err
	}
	host, err := crawl.Host(norm)
	if err != nil {
		return store.NewURL{}, err
	}
	return store.NewURL{URL: norm, Host: host, Domain: crawl.DomainKey(host), Priority: priority}, nil
}
