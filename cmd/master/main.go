// Command master is the crawlmaster master: the daemon that owns the crawl
// state in PostgreSQL and dispatches URLs to assistants, plus the one-shot
// commands operators use against the same database.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/crawlmaster/crawlmaster/crawl/netguard"
	"github.com/crawlmaster/crawlmaster/internal/admin"
	"github.com/crawlmaster/crawlmaster/internal/atomicfile"
	"github.com/crawlmaster/crawlmaster/internal/config"
	"github.com/crawlmaster/crawlmaster/internal/logging"
	"github.com/crawlmaster/crawlmaster/internal/mtls"
	"github.com/crawlmaster/crawlmaster/master"
	"github.com/crawlmaster/crawlmaster/master/store"
	"github.com/crawlmaster/crawlmaster/master/tranco"
)

const usage = `master: the crawlmaster master (owns PostgreSQL, dispatches to assistants)

Usage:
  master run            [--config rpc.yaml] [--admin-listen HOST:PORT] [--addr-file FILE]
                                                       run the daemon
  master certs          [--config rpc.yaml] [--days N] [--force]
                                                       create the CA and the certificates of the master and
                                                       of every listed assistant in tls.dir (keeps existing keys)
  master certs --client NAME [--config rpc.yaml] [--days N] [--force]
                                                       create the certificate of an API client in tls.dir
  master migrate        [--config rpc.yaml]            apply database migrations
  master import-tranco  [--config rpc.yaml] [--crawl NAME] [--limit N] [--scheme https|http] FILE
                                                       import a Tranco list (.zip or .csv) as seeds
  master enqueue        [--config rpc.yaml] [--crawl NAME] [--priority P] FILE|-
                                                       add URLs (seeds), one per line
  master crawl          create|list|show|pause|resume ...
                                                       named crawls and their policies
  master status         [--config rpc.yaml] [--wait] [--classes]
                                                       frontier counts, rate, ETA, assistants
  master dead list      [--config rpc.yaml] [--class C] [--limit N]
                                                       dead URLs newest first, counts by class
  master dead retry     [--config rpc.yaml] [--class C]
                                                       requeue dead URLs (all, or of class C)
  master export         --crawl NAME --out DIR [--format warc|jsonl] [--since T|--cursor C] [--max-file-size 1GiB]
                                                       write stored fetches as WARC 1.1 or JSON Lines; prints
                                                       a cursor to resume from

The database URL comes from rpc.yaml's database.url; DATABASE_URL overrides it.
Run 'master COMMAND -h' for a command's flags.
`

// errUsage marks command-line mistakes (exit status 2).
var errUsage = errors.New("usage")

func main() {
	err := run(os.Args[1:], os.Stdout, os.Stderr)
	switch {
	case err == nil:
	case errors.Is(err, flag.ErrHelp):
	case errors.Is(err, errUsage):
		fmt.Fprintln(os.Stderr, "master:", err)
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "master:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, usage)
		return nil
	}
	cmd, args := args[0], args[1:]
	fs := flag.NewFlagSet("master "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "rpc.yaml", "path to rpc.yaml")
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	switch cmd {
	case "run":
		adminListen := fs.String("admin-listen", "", "admin HTTP address HOST:PORT (default: rpc.manager's); port 0 picks a free port")
		addrFile := fs.String("addr-file", "", "write the admin address actually bound to this file (for port 0)")
		tlsFiles := mtls.AddFlags(fs)
		if err := parse(fs, args, 0); err != nil {
			return err
		}
		cfg, log, err := load(*cfgPath, stderr)
		if err != nil {
			return err
		}
		hup := make(chan os.Signal, 1) // SIGHUP reloads the certificates
		signal.Notify(hup, syscall.SIGHUP)
		defer signal.Stop(hup)
		o := master.Options{Config: cfg, Log: log, Registry: admin.NewRegistry(), TLS: *tlsFiles, Reload: hup}
		if *adminListen != "" || *addrFile != "" {
			// Bind here, so the address file names the port before the
			// master starts (it serves once the database answers).
			addr := *adminListen
			if addr == "" {
				addr = cfg.RPC.Manager.Addr()
			}
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				return fmt.Errorf("admin server: listen %s: %w", addr, err)
			}
			if *addrFile != "" {
				if err := atomicfile.WriteString(*addrFile, ln.Addr().String()); err != nil {
					ln.Close()
					return err
				}
			}
			o.AdminListener = ln
		}
		return master.Run(ctx, o)
	case "certs":
		days := fs.Int("days", 365, "validity of the master's and assistants' certificates, in days (the CA's: ten times as long)")
		force := fs.Bool("force", false, "replace existing keys and certificates, the CA's included")
		client := fs.String("client", "", "issue only the certificate of the API client NAME (client-NAME.crt/.key; the CA must exist)")
		if err := parse(fs, args, 0); err != nil {
			return err
		}
		cfg, _, err := load(*cfgPath, stderr)
		if err != nil {
			return err
		}
		if *client != "" {
			return writeClientCert(stdout, cfg, *client, time.Duration(*days)*24*time.Hour, *force)
		}
		return writeCerts(stdout, cfg, time.Duration(*days)*24*time.Hour, *force)
	case "migrate":
		if err := parse(fs, args, 0); err != nil {
			return err
		}
		return withDB(ctx, *cfgPath, stderr, func(st *store.Store) error {
			applied, err := store.Migrate(ctx, st.Pool())
			if err != nil {
				return err
			}
			if len(applied) == 0 {
				fmt.Fprintln(stdout, "migrations: none to apply (the schema is current)")
				return nil
			}
			fmt.Fprintf(stdout, "applied migrations: %v\n", applied)
			return nil
		})
	case "import-tranco":
		limit := fs.Int("limit", 0, "import at most N domains (0: all)")
		scheme := fs.String("scheme", "https", "URL scheme for each domain: https or http")
		crawlName := fs.String("crawl", "default", "the crawl the seeds join (see 'master crawl')")
		if err := parse(fs, args, 1); err != nil {
			return err
		}
		guard, err := fetchGuard(*cfgPath)
		if err != nil {
			return err
		}
		return withStore(ctx, *cfgPath, stderr, func(st *store.Store) error {
			crawl, err := st.Crawl(ctx, *crawlName)
			if err != nil {
				return err
			}
			f, err := tranco.Open(fs.Arg(0))
			if err != nil {
				return err
			}
			defer f.Close()
			rep, err := master.ImportTranco(ctx, st, f, master.ImportOptions{
				Crawl: crawl, Limit: *limit, Scheme: *scheme, ProgressEvery: 5 * time.Second, Guard: guard,
				Progress: func(r master.ImportReport) {
					fmt.Fprintf(stderr, "import: %d lines, %d new URLs, %s\n", r.Lines, r.Inserted, r.Duration.Round(time.Second))
				},
			})
			printBad(stderr, rep)
			if err != nil {
				return fmt.Errorf("import %s stopped after %d new URLs: %w", fs.Arg(0), rep.Inserted, err)
			}
			fmt.Fprintf(stdout, "imported %s: %s\n", fs.Arg(0), rep)
			return nil
		})
	case "enqueue":
		priority := fs.Int("priority", 0, "priority of the URLs (lower is sooner; Tranco ranks start at 1)")
		crawlName := fs.String("crawl", "default", "the crawl the URLs join as seeds (see 'master crawl')")
		if err := parse(fs, args, 1); err != nil {
			return err
		}
		guard, err := fetchGuard(*cfgPath)
		if err != nil {
			return err
		}
		return withStore(ctx, *cfgPath, stderr, func(st *store.Store) error {
			crawl, err := st.Crawl(ctx, *crawlName)
			if err != nil {
				return err
			}
			var r io.Reader = os.Stdin
			if name := fs.Arg(0); name != "-" {
				f, err := os.Open(name)
				if err != nil {
					return err
				}
				defer f.Close()
				r = f
			}
			rep, err := master.Enqueue(ctx, st, crawl, r, int32(*priority), guard)
			printBad(stderr, rep)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "enqueued: %s\n", rep)
			return nil
		})
	case "status":
		wait := fs.Bool("wait", false, "print a progress line every --interval until every URL is final")
		interval := fs.Duration("interval", 2*time.Second, "progress interval for --wait")
		classes := fs.Bool("classes", false, "also print final outcomes by error class")
		if err := parse(fs, args, 0); err != nil {
			return err
		}
		return withStore(ctx, *cfgPath, stderr, func(st *store.Store) error {
			if *wait {
				if err := master.WaitDone(ctx, st, *interval, stdout); err != nil {
					return err
				}
			}
			rep, err := master.ReadReport(ctx, st)
			if err != nil {
				return err
			}
			if err := rep.Write(stdout); err != nil {
				return err
			}
			if *classes {
				return master.WriteClasses(ctx, st, stdout)
			}
			return nil
		})
	case "dead":
		return runDead(ctx, fs, cfgPath, args, stdout, stderr)
	case "crawl":
		return runCrawl(ctx, fs, cfgPath, args, stdout, stderr)
	case "export":
		return runExport(ctx, fs, cfgPath, args, stdout, stderr)
	}
	return fmt.Errorf("%w: unknown command %q (run 'master -h')", errUsage, cmd)
}

// runDead runs `master dead list|retry`. fs already has --config.
func runDead(ctx context.Context, fs *flag.FlagSet, cfgPath *string, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: master dead needs a subcommand, list or retry (run 'master -h')", errUsage)
	}
	sub, args := args[0], args[1:]
	fs.Init("master dead "+sub, flag.ContinueOnError)
	class := fs.String("class", "", "only dead URLs whose last error class is C (e.g. timeout, http_5xx)")
	switch sub {
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return nil
	case "list":
		limit := fs.Int("limit", 50, "list at most N URLs, newest first (0: all)")
		if err := parse(fs, args, 0); err != nil {
			return err
		}
		if *limit < 0 {
			return fmt.Errorf("%w: --limit must be 0 or more, got %d", errUsage, *limit)
		}
		return withStore(ctx, *cfgPath, stderr, func(st *store.Store) error {
			return master.ListDead(ctx, st, stdout, *class, *limit)
		})
	case "retry":
		if err := parse(fs, args, 0); err != nil {
			return err
		}
		return withStore(ctx, *cfgPath, stderr, func(st *store.Store) error {
			return master.RetryDead(ctx, st, stdout, *class)
		})
	}
	return fmt.Errorf("%w: unknown dead subcommand %q: want list or retry (run 'master -h')", errUsage, sub)
}

// parse parses flags and checks the number of positional arguments.
func parse(fs *flag.FlagSet, args []string, want int) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() != want {
		return fmt.Errorf("%w: %s takes %d argument(s), got %d (%q)", errUsage, fs.Name(), want, fs.NArg(), fs.Args())
	}
	return nil
}

func load(path string, stderr io.Writer) (*config.Config, *slog.Logger, error) {
	cfg, err := config.Load(path)
	if err != nil {
		return nil, nil, err
	}
	log, err := logging.New(stderr, cfg.Log.Format, cfg.Log.Level)
	if err != nil {
		return nil, nil, err
	}
	return cfg, log, nil
}

// fetchGuard is the SSRF guard of the config's fetch.allowed_networks:
// enqueue and import-tranco refuse the hosts the assistants would refuse
// to dial (special-purpose IP literals, localhost) unless allowed there.
func fetchGuard(path string) (*netguard.Guard, error) {
	cfg, err := config.Load(path)
	if err != nil {
		return nil, err
	}
	return netguard.New(cfg.Fetch.AllowedPrefixes()), nil
}

// withStore opens the database (applying migrations) for a one-shot command.
func withStore(ctx context.Context, cfgPath string, stderr io.Writer, f func(*store.Store) error) error {
	return withDB(ctx, cfgPath, stderr, func(st *store.Store) error {
		if _, err := store.Migrate(ctx, st.Pool()); err != nil {
			return err
		}
		return f(st)
	})
}

// withDB opens the database as it is, for f to use.
func withDB(ctx context.Context, cfgPath string, stderr io.Writer, f func(*store.Store) error) error {
	cfg, _, err := load(cfgPath, stderr)
	if err != nil {
		return err
	}
	st, pool, err := store.Open(ctx, cfg.Database.URL, 4)
	if err != nil {
		return err
	}
	defer pool.Close()
	return f(st)
}

func printBad(w io.Writer, rep master.ImportReport) {
	for _, b := range rep.FirstBad {
		fmt.Fprintf(w, "skipped %s\n", b)
	}
	if rep.Bad > len(rep.FirstBad) {
		fmt.Fprintf(w, "... and %d more bad lines\n", rep.Bad-len(rep.FirstBad))
	}
}
