// Command assistant is a crawlmaster assistant: a gRPC server with a fixed
// pool of worker slots that fetches the URL batches the master pushes and
// streams results back. It never touches the database.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/crawlmaster/crawlmaster/assistant"
	"github.com/crawlmaster/crawlmaster/internal/admin"
	"github.com/crawlmaster/crawlmaster/internal/atomicfile"
	"github.com/crawlmaster/crawlmaster/internal/config"
	"github.com/crawlmaster/crawlmaster/internal/logging"
	"github.com/crawlmaster/crawlmaster/internal/mtls"
)

const usage = `assistant: a crawlmaster assistant (fetches batches the master pushes)

Usage:
  assistant run [--config rpc.yaml] --listen HOST:PORT [--id ADDRESS:PORT] [--metrics-listen HOST:PORT]
                [--addr-file FILE] [--admin-addr-file FILE]

--listen must match an rpc.assistant entry of rpc.yaml (its address:port, or
just its port when listening on 0.0.0.0); that entry gives the slot count.
--id names the entry instead, for an assistant the master reaches through a
proxy or NAT at another address (then --listen may use port 0, and
--addr-file names the port actually bound). --metrics-listen may use port 0
too: --admin-addr-file names the admin address bound, once it serves.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
	default:
		fmt.Fprintln(os.Stderr, "assistant:", err)
		var ue usageError
		if errors.As(err, &ue) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

type usageError struct{ error }

// run runs the command of args until ctx is done (SIGINT or SIGTERM).
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, usage)
		return nil
	}
	if args[0] != "run" {
		return usageError{fmt.Errorf("unknown command %q (run 'assistant -h')", args[0])}
	}
	fs := flag.NewFlagSet("assistant run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "rpc.yaml", "path to rpc.yaml")
	listen := fs.String("listen", "", "gRPC listen address HOST:PORT (required)")
	metrics := fs.String("metrics-listen", "", "admin HTTP address for /metrics (default: the entry's metrics_port)")
	id := fs.String("id", "", "rpc.assistant entry (ADDRESS:PORT) this assistant serves (default: found from --listen)")
	addrFile := fs.String("addr-file", "", "write the gRPC address actually bound to this file (for port 0)")
	adminAddrFile := fs.String("admin-addr-file", "", "write the admin address actually bound to this file once it serves (for port 0)")
	tlsFiles := mtls.AddFlags(fs)
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	if *listen == "" {
		return usageError{errors.New("--listen is required")}
	}
	if fs.NArg() != 0 {
		return usageError{fmt.Errorf("unexpected arguments %q", fs.Args())}
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		return err
	}
	log, err := logging.New(stderr, cfg.Log.Format, cfg.Log.Level)
	if err != nil {
		return err
	}
	hup := make(chan os.Signal, 1) // SIGHUP reloads the certificates
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	o := assistant.Options{Config: cfg, Listen: *listen, ID: *id, MetricsListen: *metrics,
		Log: log, Registry: admin.NewRegistry(), TLS: *tlsFiles, Reload: hup}
	if *addrFile != "" {
		// Bind here and hand the listener over, so the file names the port
		// before the assistant serves on it (connections wait meanwhile).
		ln, err := net.Listen("tcp", *listen)
		if err != nil {
			return fmt.Errorf("listen %s: %w", *listen, err)
		}
		if err := atomicfile.WriteString(*addrFile, ln.Addr().String()); err != nil {
			ln.Close()
			return err
		}
		o.Listener = ln
	}
	var adminFileErr error
	if *adminAddrFile != "" {
		// Written once the admin endpoint serves, wherever it listens
		// (--metrics-listen or the entry's metrics_port); a failed write
		// stops the assistant.
		var cancel context.CancelFunc
		ctx, cancel = context.WithCancel(ctx)
		defer cancel()
		o.Started = func(_, adminAddr string) {
			if err := atomicfile.WriteString(*adminAddrFile, adminAddr); err != nil {
				adminFileErr = err
				cancel()
			}
		}
	}
	err = assistant.Run(ctx, o)
	if adminFileErr != nil { // Started ran in Run, which has returned
		return adminFileErr
	}
	return err
}
