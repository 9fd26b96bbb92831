package main

import (
	"fmt"
	"io"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/crawlmaster/crawlmaster/internal/config"
	"github.com/crawlmaster/crawlmaster/internal/mtls"
)

// writeCerts is `master certs`: the CA, the master's certificate and one
// per listed assistant, in tls.dir; it prints what it wrote or kept.
func writeCerts(w io.Writer, cfg *config.Config, validity time.Duration, force bool) error {
	if validity <= 0 {
		return fmt.Errorf("%w: --days must be at least 1", errUsage)
	}
	var ids []string
	for _, a := range cfg.RPC.Assistants {
		ids = append(ids, a.ID())
	}
	set := mtls.FileSet{Dir: cfg.TLSDir()}
	issued, err := mtls.Issue(set, mtls.IssueOptions{MasterName: cfg.TLS.MasterName, Assistants: ids, Validity: validity, Force: force})
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "certificate\tfile\texpires\t")
	for _, is := range issued {
		what := "wrote"
		if is.Kept {
			what = "kept (exists; --force replaces it)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", is.What, is.Cert, is.NotAfter.Local().Format(time.DateOnly), what)
	}
	if ferr := tw.Flush(); err == nil {
		err = ferr
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "\nkeys are beside their certificates (.key, mode 0600) in %s.\n"+
		"Each assistant needs ca.crt and its own .crt and .key; the master ca.crt, master.crt and master.key.\n"+
		"API clients get theirs from `master certs --client NAME`.\n", set.Dir)
	return nil
}

// writeClientCert is `master certs --client NAME`: the certificate of an
// API client, signed by the CA in tls.dir, which must exist.
func writeClientCert(w io.Writer, cfg *config.Config, name string, validity time.Duration, force bool) error {
	if validity <= 0 {
		return fmt.Errorf("%w: --days must be at least 1", errUsage)
	}
	set := mtls.FileSet{Dir: cfg.TLSDir()}
	is, err := mtls.IssueClient(set, mtls.ClientOptions{Name: name, Validity: validity, Force: force})
	if err != nil {
		return err
	}
	what := "wrote"
	if is.Kept {
		what = "kept (exists; --force replaces it)"
	}
	fmt.Fprintf(w, "%s: %s, expires %s, %s\n", is.What, is.Cert, is.NotAfter.Local().Format(time.DateOnly), what)
	fmt.Fprintf(w, "\nThe client needs ca.crt, %s and %s. It dials rpc.manager's address with TLS,\n"+
		"checking the master's certificate against ca.crt and the name %q (tls.master_name).\n",
		filepath.Base(is.Cert), filepath.Base(is.Key), cfg.TLS.MasterName)
	return nil
}
