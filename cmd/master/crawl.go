package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/crawlmaster/crawlmaster/master"
	"github.com/crawlmaster/crawlmaster/master/admit"
	"github.com/crawlmaster/crawlmaster/master/frontier"
	"github.com/crawlmaster/crawlmaster/master/store"
)

const crawlUsage = `Usage:
  master crawl create NAME [policy flags]   create a crawl (run 'master crawl create -h' for the policy)
  master crawl list                         every crawl with its policy and progress
  master crawl show NAME                    one crawl: policy, URLs by state and depth, rate, ETA
  master crawl pause NAME                   stop handing out its URLs (batches in flight finish)
  master crawl resume NAME                  hand out its URLs again

Seeds join a crawl with 'master enqueue --crawl NAME' or 'master import-tranco --crawl NAME'.
`

// runCrawl runs `master crawl ...`. fs already has --config.
func runCrawl(ctx context.Context, fs *flag.FlagSet, cfgPath *string, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: master crawl needs a subcommand: create, list, show, pause or resume (run 'master crawl -h')", errUsage)
	}
	sub, args := args[0], args[1:]
	fs.Init("master crawl "+sub, flag.ContinueOnError)
	switch sub {
	case "-h", "--help", "help":
		fmt.Fprint(stdout, crawlUsage)
		return nil
	case "create":
		c := frontier.NewCrawl("")
		policyFlags(fs, &c)
		if err := parseNamed(fs, args, &c.Name); err != nil {
			return err
		}
		if err := admit.Validate(c); err != nil {
			return fmt.Errorf("%w: %v", errUsage, err)
		}
		return withStore(ctx, *cfgPath, stderr, func(st *store.Store) error {
			created, err := st.CreateCrawl(ctx, c)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "created crawl %s: %s\n", created.Name, master.PolicyLine(created))
			return nil
		})
	case "list":
		if err := parse(fs, args, 0); err != nil {
			return err
		}
		return withStore(ctx, *cfgPath, stderr, func(st *store.Store) error {
			return master.ListCrawls(ctx, st, stdout)
		})
	case "show", "pause", "resume":
		var name string
		if err := parseNamed(fs, args, &name); err != nil {
			return err
		}
		return withStore(ctx, *cfgPath, stderr, func(st *store.Store) error {
			switch sub {
			case "show":
				return master.ShowCrawl(ctx, st, stdout, name)
			case "pause":
				if err := st.SetPaused(ctx, name, true); err != nil {
					return err
				}
				fmt.Fprintf(stdout, "paused crawl %s: a leading master hands out none of its URLs within a few seconds\n", name)
			default:
				if err := st.SetPaused(ctx, name, false); err != nil {
					return err
				}
				fmt.Fprintf(stdout, "resumed crawl %s\n", name)
			}
			return nil
		})
	}
	return fmt.Errorf("%w: unknown crawl subcommand %q: want create, list, show, pause or resume", errUsage, sub)
}

// policyFlags declares the policy of `master crawl create`, defaulting to c.
func policyFlags(fs *flag.FlagSet, c *frontier.Crawl) {
	fs.StringVar(&c.Scope, "scope", c.Scope, "which links are followed, relative to the seed a page descends from:\n"+
		"host (the seed's host), domain (the seed's registrable domain, subdomains included) or any")
	fs.Func("allow", "RE2 expression; when given (repeatable), a URL must match one of them", func(s string) error {
		c.Allow = append(c.Allow, s)
		return nil
	})
	fs.Func("deny", "RE2 expression (repeatable); a URL matching one is not followed", func(s string) error {
		c.Deny = append(c.Deny, s)
		return nil
	})
	fs.IntVar(&c.MaxDepth, "max-depth", c.MaxDepth, "deepest link distance from a seed crawled (0: the seeds only)")
	fs.IntVar(&c.SiteBudget, "site-budget", c.SiteBudget, "most URLs admitted per site (registrable domain), seeds included")
	fs.IntVar(&c.MaxLinks, "max-links", c.MaxLinks, "most outlinks read from one page (document order)")
	fs.IntVar(&c.MaxURLLength, "max-url-length", c.MaxURLLength, "trap guard: longest URL followed, in bytes of its normalised form")
	fs.IntVar(&c.MaxPathSegments, "max-path-segments", c.MaxPathSegments, "trap guard: most path segments in a URL followed")
	fs.IntVar(&c.MaxRepeatedSegments, "max-repeated-segments", c.MaxRepeatedSegments, "trap guard: most times one path segment may occur in a URL followed")
	fs.BoolVar(&c.Sitemaps, "sitemaps", c.Sitemaps, "read each seed's sitemaps (robots.txt Sitemap lines, else /sitemap.xml); their URLs are depth 1")
	rv := &c.Revisit
	fs.StringVar(&rv.Mode, "revisit", rv.Mode, "fetch final URLs again: none, fixed (after --revisit-done/-failed/-dead)\n"+
		"or adaptive (done URLs as often as their content changes, within --revisit-min..max)")
	fs.DurationVar(&rv.Done, "revisit-done", rv.Done, "revisit interval of a URL fetched successfully (adaptive: the first interval); 0 never")
	fs.DurationVar(&rv.Failed, "revisit-failed", rv.Failed, "revisit interval of a URL that failed (4xx, robots.txt); 0 never")
	fs.DurationVar(&rv.Dead, "revisit-dead", rv.Dead, "revisit interval of a URL whose retries ran out; 0 never")
	fs.DurationVar(&rv.Min, "revisit-min", rv.Min, "shortest adaptive interval")
	fs.DurationVar(&rv.Max, "revisit-max", rv.Max, "longest adaptive interval")
	fs.DurationVar(&c.Schedule.Every, "every", c.Schedule.Every, "start a round every this long: the seeds become due again (0: unscheduled)")
	fs.StringVar(&c.Schedule.Cron, "cron", c.Schedule.Cron, "start a round at each time of this cron expression (five fields, UTC; e.g. \"0 */6 * * *\"), instead of --every")
	fs.StringVar(&c.Schedule.Overlap, "overlap", c.Schedule.Overlap, "a tick while the previous round still runs: skip it, or merge (final seeds due again, the rest goes on)")
	fs.DurationVar(&c.Retention, "retention", c.Retention, "delete results older than this (0: persist.retention of rpc.yaml)")
}

// parseNamed parses flags around one positional NAME argument (flags may
// come before or after it).
func parseNamed(fs *flag.FlagSet, args []string, name *string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	rest := fs.Args()
	if len(rest) > 0 && !strings.HasPrefix(rest[0], "-") {
		*name, rest = rest[0], rest[1:]
		if err := fs.Parse(rest); err != nil {
			return fmt.Errorf("%w: %v", errUsage, err)
		}
		rest = fs.Args()
	}
	if *name == "" || len(rest) > 0 {
		return fmt.Errorf("%w: %s takes one NAME, got %q", errUsage, fs.Name(), fs.Args())
	}
	return nil
}
