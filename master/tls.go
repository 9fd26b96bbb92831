package master

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"sync"

	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/crawlmaster/crawlmaster/internal/mtls"
	"github.com/crawlmaster/crawlmaster/master/dispatch"
)

// assistantCredentials returns how the master dials each assistant:
// mutual TLS with its certificate (rpc.yaml's tls.dir, or o.TLS's files),
// verifying each assistant's certificate against the CA and the address
// rpc.yaml lists; or, with tls.plaintext, insecure credentials and a
// warning. The certificates are reloaded until ctx is done; wait waits
// for that loop to end.
func assistantCredentials(ctx context.Context, o Options, log *slog.Logger) (creds func(dispatch.Target) credentials.TransportCredentials, wait func(), err error) {
	cfg := o.Config
	if cfg.TLS.Plaintext {
		log.Warn("tls.plaintext is on: the master does not authenticate its assistants, nor they the master; " +
			"anyone listening on a listed address receives batches")
		return func(dispatch.Target) credentials.TransportCredentials { return insecure.NewCredentials() }, func() {}, nil
	}
	files := o.TLS.Or(mtls.FileSet{Dir: cfg.TLSDir()}.Master())
	m := mtls.NewMetrics(o.Registry)
	r, err := mtls.NewReloader(files, log.With("component", "tls"), m)
	if err != nil {
		return nil, nil, fmt.Errorf("%w (create the certificates with `master certs`, or set tls.plaintext)", err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		r.Run(ctx, cfg.TLS.ReloadInterval, o.Reload)
	}()
	log.Info("mutual TLS with the assistants", "cert", files.Cert, "not_after", r.NotAfter())
	return func(t dispatch.Target) credentials.TransportCredentials {
		host, _, err := net.SplitHostPort(t.Addr)
		if err != nil {
			host = t.Addr
		}
		return mtls.ClientCredentials(r, host, log.With("component", "tls"), m)
	}, wg.Wait, nil
}
