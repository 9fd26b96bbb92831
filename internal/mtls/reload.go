package mtls

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/crawlmaster/crawlmaster/internal/backoff"
)

// Reloader holds a daemon's certificate, key and trusted CAs, loaded from
// Files, and loads them again when the files change.
type Reloader struct {
	files Files
	log   *slog.Logger
	m     *Metrics

	cur atomic.Pointer[loaded]

	mu    sync.Mutex // serialises loads
	stamp [3]fileStamp
}

// loaded is one consistent set: a certificate with its key, and the pool
// of CAs it is checked against.
type loaded struct {
	cert tls.Certificate
	leaf *x509.Certificate
	pool *x509.CertPool
}

// fileStamp is what tells a changed file: size and modification time,
// and the file itself (device and inode on Unix), so that a file replaced
// by a rename, as `master certs` and most tools write, counts as changed
// even within the file system's timestamp granularity.
type fileStamp struct {
	size int64
	mod  time.Time
	file os.FileInfo // nil: missing
}

// same reports whether a and b stamp the same unchanged file.
func (a fileStamp) same(b fileStamp) bool {
	if a.file == nil || b.file == nil {
		return a.file == nil && b.file == nil
	}
	return a.size == b.size && a.mod.Equal(b.mod) && os.SameFile(a.file, b.file)
}

// NewReloader loads files; it fails when they do not load. m may be nil.
func NewReloader(files Files, log *slog.Logger, m *Metrics) (*Reloader, error) {
	r := &Reloader{files: files, log: log, m: m}
	if err := r.Reload(); err != nil {
		return nil, err
	}
	return r, nil
}

// Reload loads the files now. On failure the previous set stays in use.
func (r *Reloader) Reload() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	stamp := r.stamps()
	l, err := load(r.files)
	if err != nil {
		if r.m != nil {
			r.m.ReloadErrors.Inc()
		}
		return err
	}
	r.stamp = stamp
	r.cur.Store(l)
	if r.m != nil {
		r.m.Expiry.WithLabelValues("own").Set(float64(l.leaf.NotAfter.Unix()))
		r.m.Expiry.WithLabelValues("ca").Set(float64(l.caExpiry().Unix()))
	}
	return nil
}

// Run reloads the files whenever one changes (replaced, resized or
// touched), checking every interval (jittered), and at once on a value
// from now (nil: never; the daemons send SIGHUP there), until ctx is
// done.
func (r *Reloader) Run(ctx context.Context, every time.Duration, now <-chan os.Signal) {
	for {
		t := time.NewTimer(backoff.Jitter(every, 0.2))
		forced := false
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		case <-now:
			t.Stop()
			forced = true
		}
		r.mu.Lock()
		now := r.stamps()
		changed := !now[0].same(r.stamp[0]) || !now[1].same(r.stamp[1]) || !now[2].same(r.stamp[2])
		r.mu.Unlock()
		if !changed && !forced {
			continue
		}
		if err := r.Reload(); err != nil {
			r.log.Error("certificates changed but do not load; keeping the previous ones", "err", err)
			continue
		}
		r.log.Info("certificates reloaded", "cert", r.files.Cert, "not_after", r.cur.Load().leaf.NotAfter)
	}
}

// ServerAuth reports whether the daemon's certificate is good for server
// authentication (a master's certificate issued before the API existed
// is not: clients of the API refuse it).
func (r *Reloader) ServerAuth() bool {
	leaf := r.cur.Load().leaf
	return len(leaf.ExtKeyUsage) == 0 || slices.Contains(leaf.ExtKeyUsage, x509.ExtKeyUsageServerAuth) ||
		slices.Contains(leaf.ExtKeyUsage, x509.ExtKeyUsageAny)
}

// NotAfter returns the expiry of the daemon's certificate.
func (r *Reloader) NotAfter() time.Time { return r.cur.Load().leaf.NotAfter }

func (r *Reloader) stamps() [3]fileStamp {
	var s [3]fileStamp
	for i, p := range []string{r.files.CA, r.files.Cert, r.files.Key} {
		if fi, err := os.Stat(p); err == nil {
			s[i] = fileStamp{fi.Size(), fi.ModTime(), fi}
		}
	}
	return s
}

func load(f Files) (*loaded, error) {
	cert, err := tls.LoadX509KeyPair(f.Cert, f.Key)
	if err != nil {
		return nil, fmt.Errorf("tls: load %s and %s: %w", f.Cert, f.Key, err)
	}
	leaf := cert.Leaf
	if leaf == nil {
		if leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return nil, fmt.Errorf("tls: %s: %w", f.Cert, err)
		}
	}
	b, err := os.ReadFile(f.CA)
	if err != nil {
		return nil, fmt.Errorf("tls: CA: %w", err)
	}
	pool := x509.NewCertPool()
	var cas int
	for rest := b; ; {
		var blk *pem.Block
		if blk, rest = pem.Decode(rest); blk == nil {
			break
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("tls: CA %s: %w", f.CA, err)
		}
		pool.AddCert(c)
		cas++
	}
	if cas == 0 {
		return nil, fmt.Errorf("tls: CA %s: no certificate", f.CA)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		return nil, fmt.Errorf("tls: %s is not issued by the CA in %s: %w", f.Cert, f.CA, err)
	}
	return &loaded{cert: cert, leaf: leaf, pool: pool}, nil
}

// caExpiry is the expiry of the CA the daemon's certificate chains to.
func (l *loaded) caExpiry() time.Time {
	chains, err := l.leaf.Verify(x509.VerifyOptions{Roots: l.pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
		CurrentTime: l.leaf.NotBefore.Add(time.Second)})
	if err != nil || len(chains) == 0 {
		return time.Time{}
	}
	c := chains[0]
	return c[len(c)-1].NotAfter
}

// errNoPeerCert is a handshake without the peer's certificate.
var errNoPeerCert = errors.New("the peer sent no certificate")
