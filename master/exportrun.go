package master

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/crawlmaster/crawlmaster/master/export"
	"github.com/crawlmaster/crawlmaster/master/store"
)

// exportBodyBytes bounds the bodies one page of a WARC export holds.
const exportBodyBytes = 32 << 20

// ExportOptions are the flags of `master export`.
type ExportOptions struct {
	Crawl  string        // the crawl's name (required)
	Since  time.Time     // leave out fetches made before it (zero: all)
	After  export.Cursor // resume after this cursor
	Format string        // "warc" or "jsonl"
	Dir    string        // output directory (created when missing)
	// MaxFileSize rotates WARC files (0: export.DefaultMaxFileSize).
	MaxFileSize int64
	// UserAgent is written in each warcinfo record.
	UserAgent string
	// Page is the most results read per query (0: 200, or fewer when
	// StoredBodyCap is large): memory is bounded by Page stored bodies.
	Page int
	// StoredBodyCap is persist.stored_body_cap, the largest stored body: a
	// WARC export reads at most 32 MiB of bodies per query.
	StoredBodyCap int64
	// Every is the interval of progress lines (0: 2s).
	Every time.Duration
}

// ExportReport is what an export wrote.
type ExportReport struct {
	Records int64         // fetches read
	Skipped int64         // fetches without a response (WARC) or refused by the writer
	Files   []string      // files written
	Cursor  export.Cursor // the last record's cursor: resume after it
}

// Export streams crawl o.Crawl's stored fetches after o.After from the
// database into files in o.Dir, a page at a time, printing a progress
// line to progress every o.Every and at the end. It stops when it has
// read every fetch visible when it reached them (store.ResultsAfter); the
// report's Cursor resumes from there, also after an error.
func Export(ctx context.Context, st *store.Store, o ExportOptions, progress io.Writer) (ExportReport, error) {
	rep := ExportReport{Cursor: o.After}
	crawl, err := st.Crawl(ctx, o.Crawl)
	if err != nil {
		return rep, err
	}
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return rep, fmt.Errorf("export directory: %w", err)
	}
	stamp := time.Now().UTC().Format("20060102150405")
	var w export.Writer
	var warc *export.WARCWriter
	var jsonl *os.File
	switch o.Format {
	case "warc":
		size := o.MaxFileSize
		if size <= 0 {
			size = export.DefaultMaxFileSize
		}
		warc, err = export.NewWARCWriter(o.Dir, "crawlmaster-"+crawl.Name, size, export.WARCInfo{
			Crawl: crawl.Name, UserAgent: o.UserAgent, Robots: "obey",
			Description: "exported by master export from cursor " + o.After.String()})
		if err != nil {
			return rep, err
		}
		w = warc
	case "jsonl":
		name := filepath.Join(o.Dir, fmt.Sprintf("crawlmaster-%s-%s.jsonl", crawl.Name, stamp))
		if jsonl, err = os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644); err != nil {
			return rep, fmt.Errorf("export: %w", err)
		}
		rep.Files = []string{name}
		w = export.NewJSONLWriter(jsonl)
	default:
		return rep, fmt.Errorf("export --format %q: want warc or jsonl", o.Format)
	}
	page, every := o.Page, o.Every
	if page <= 0 {
		page = 200
		if o.Format == "warc" && o.StoredBodyCap > 0 {
			page = int(max(1, min(200, exportBodyBytes/o.StoredBodyCap)))
		}
	}
	if every <= 0 {
		every = 2 * time.Second
	}
	start, last := time.Now(), time.Now()
	line := func() {
		fmt.Fprintf(progress, "export %s: %d fetches, %d skipped, %.0f/s, cursor %s\n", crawl.Name, rep.Records, rep.Skipped,
			float64(rep.Records)/max(time.Since(start).Seconds(), 1e-3), rep.Cursor)
	}
	scanned := o.After // past the other crawls' results as well
	err = func() error {
		for {
			pg, err := st.ResultsAfter(ctx, store.ResultQuery{CrawlID: crawl.ID, After: scanned, Since: o.Since,
				Bodies: o.Format == "warc", Limit: page})
			if err != nil {
				return err
			}
			scanned = pg.Next
			recs := pg.Records
			for i := range recs {
				if err := w.Write(&recs[i]); errors.Is(err, export.ErrInvalidRecord) {
					rep.Skipped++
					fmt.Fprintf(progress, "export: skipped %s (lease %d): %v\n", recs[i].URL, recs[i].LeaseToken, err)
				} else if err != nil {
					return err
				}
				rep.Records++
				rep.Cursor = recs[i].Cursor
				recs[i] = export.Record{} // let the body go
			}
			if time.Since(last) >= every {
				line()
				last = time.Now()
			}
			// The whole page is written: resume after all it scanned.
			rep.Cursor = scanned
			if !pg.More {
				return nil
			}
		}
	}()
	cerr := w.Close()
	if jsonl != nil {
		cerr = errors.Join(cerr, jsonl.Close())
	}
	if warc != nil {
		rep.Files = warc.Files()
		rep.Skipped += warc.Stats().Skipped
	}
	line()
	if err = errors.Join(err, cerr); err != nil {
		return rep, fmt.Errorf("export %s: %w (resume with --cursor %s)", crawl.Name, err, rep.Cursor)
	}
	return rep, nil
}
