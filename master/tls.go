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

// masterCreds are the master's transport credentials.
type masterCreds struct {
	// dial is how the master dials each assistant.
	dial func(dispatch.Target) credentials.TransportCredentials
	// api is how its API serves clients; nil with tls.plaintext (the API
	// is off then).
	api credentials.TransportCredentials
	// wait waits for the certificate reload loop to end.
	wait func()
}

// masterCredentials returns the master's credentials: mutual TLS with its
// certificate (rpc.yaml's tls.dir, or o.TLS's files), verifying each
// assistant's certificate against the CA and the address rpc.yaml lists,
// and taking API clients' certificates (mtls.APIServerConfig); or, with
// tls.plaintext, insecure credentials to dial, no API, and a warning.
// The certificates are reloaded until ctx is done.
func masterCredentials(ctx context.Context, o Options, log *slog.Logger) (masterCreds, error) {
	cfg := o.Config
	if cfg.TLS.Plaintext {
		log.Warn("tls.plaintext is on: the master does not authenticate its assistants, nor they the master; " +
			"anyone listening on a listed address receives batches. The API is off")
		return masterCreds{dial: func(dispatch.Target) credentials.TransportCredentials { return insecure.NewCredentials() }, wait: func() {}}, nil
	}
	files := o.TLS.Or(mtls.FileSet{Dir: cfg.TLSDir()}.Master())
	m := mtls.NewMetrics(o.Registry)
	r, err := mtls.NewReloader(files, log.With("component", "tls"), m)
	if err != nil {
		return masterCreds{}, fmt.Errorf("%w (create the certificates with `master certs`, or set tls.plaintext)", err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		r.Run(ctx, cfg.TLS.ReloadInterval, o.Reload)
	}()
	log.Info("mutual TLS with the assistants", "cert", files.Cert, "not_after", r.NotAfter())
	if !r.ServerAuth() {
		log.Warn("the master's certificate is not for server authentication: API clients refuse it; "+
			"`master certs` issues it again (keeping the key)", "cert", files.Cert)
	}
	return masterCreds{
		dial: func(t dispatch.Target) credentials.TransportCredentials {
			host, _, err := net.SplitHostPort(t.Addr)
			if err != nil {
				host = t.Addr
			}
			return mtls.ClientCredentials(r, host, log.With("component", "tls"), m)
		},
		api:  mtls.APIServerCredentials(r, log.With("component", "tls"), m),
		wait: wg.Wait,
	}, nil
}
