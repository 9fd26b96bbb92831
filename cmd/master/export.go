package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/crawlmaster/crawlmaster/crawl/fetchconfig"
	"github.com/crawlmaster/crawlmaster/master"
	"github.com/crawlmaster/crawlmaster/master/export"
	"github.com/crawlmaster/crawlmaster/master/store"
)

// runExport runs `master export`. fs already has --config.
func runExport(ctx context.Context, fs *flag.FlagSet, cfgPath *string, args []string, stdout, stderr io.Writer) error {
	var o master.ExportOptions
	fs.StringVar(&o.Crawl, "crawl", "", "the crawl to export (required)")
	since := fs.String("since", "", "only fetches made at or after this time (RFC 3339, e.g. 2026-11-30T00:00:00Z)")
	cursor := fs.String("cursor", "", "resume after this cursor (printed by an earlier export or the API)")
	fs.StringVar(&o.Format, "format", "warc", "warc (WARC 1.1, gzip per record) or jsonl (one JSON object per fetch)")
	fs.StringVar(&o.Dir, "out", "", "output directory (required; created when missing)")
	size := fetchconfig.ByteSize(export.DefaultMaxFileSize)
	fs.Var(&size, "max-file-size", "start a new WARC file once one reaches this size")
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	if o.Crawl == "" || o.Dir == "" {
		return fmt.Errorf("%w: master export needs --crawl NAME and --out DIR", errUsage)
	}
	var err error
	if o.After, err = export.ParseCursor(*cursor); err != nil {
		return fmt.Errorf("%w: --%v", errUsage, err)
	}
	if *since != "" {
		if o.Since, err = time.Parse(time.RFC3339, *since); err != nil {
			return fmt.Errorf("%w: --since %q: want RFC 3339, e.g. 2026-11-30T00:00:00Z", errUsage, *since)
		}
	}
	o.MaxFileSize = int64(size)
	cfg, _, err := load(*cfgPath, stderr)
	if err != nil {
		return err
	}
	o.UserAgent, o.StoredBodyCap = cfg.Fetch.UserAgent, int64(cfg.Persist.StoredBodyCap)
	return withStore(ctx, *cfgPath, stderr, func(st *store.Store) error {
		rep, err := master.Export(ctx, st, o, stderr)
		for _, f := range rep.Files {
			fmt.Fprintln(stdout, f)
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "exported %d fetches (%d skipped) to %d files; resume with --cursor %s\n",
			rep.Records, rep.Skipped, len(rep.Files), rep.Cursor)
		return nil
	})
}
