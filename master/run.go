package master

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"

	"github.com/crawlmaster/crawlmaster/internal/admin"
	"github.com/crawlmaster/crawlmaster/internal/config"
	"github.com/crawlmaster/crawlmaster/master/dispatch"
	"github.com/crawlmaster/crawlmaster/master/persist"
	"github.com/crawlmaster/crawlmaster/master/retry"
	"github.com/crawlmaster/crawlmaster/master/store"
)

// leaderLockKey is the session advisory lock held by the leading master;
// a second master waits on it as a standby.
const leaderLockKey int64 = 0x63726177_6c656164

// Options are the master daemon's dependencies.
type Options struct {
	Config   *config.Config
	Log      *slog.Logger
	Registry *prometheus.Registry
	// AdminAddr overrides rpc.manager's address for the admin HTTP server
	// (tests use "127.0.0.1:0"); empty means use the config.
	AdminAddr string
	// DialOptions are added to assistant connections (tests).
	DialOptions []grpc.DialOption
	// Started, if set, is called once the master leads and dispatches.
	Started func(*Daemon)
}

// Daemon is a running master, handed to Options.Started.
type Daemon struct {
	Store      *store.Store
	Dispatcher *dispatch.Dispatcher
	Writer     *persist.Writer
	Admin      *admin.Server
	ID         string
}

// Run is the master daemon. It connects to PostgreSQL, applies migrations,
// becomes leader (waiting as a standby while another master leads),
// returns the leases of any previous incarnation, then dispatches until ctx
// is cancelled. Shutdown order: stop claiming, drain in-flight batches
// within dispatch.shutdown_grace, flush results, release leftover leases,
// close the database pool last.
func Run(ctx context.Context, o Options) error {
	cfg, log := o.Config, o.Log.With("component", "master")
	id := masterID()
	st, pool, err := store.Open(ctx, cfg.Database.URL, int32(cfg.Database.MaxConns))
	if err != nil {
		return err
	}
	defer pool.Close()
	if applied, err := store.Migrate(ctx, pool); err != nil {
		return err
	} else if len(applied) > 0 {
		log.Info("applied migrations", "versions", applied)
	}
	lock, err := lead(ctx, pool, log)
	if err != nil {
		return err
	}
	defer lock.Release()
	if n, err := st.ReleaseAll(ctx); err != nil {
		return err
	} else if n > 0 {
		log.Info("returned leases of a previous master to pending", "urls", n)
	}

	reg := o.Registry
	dm := dispatch.NewMetrics(reg)
	pm := persist.NewMetrics(reg)
	mm := newMetrics(reg)

	writer := persist.New(persist.Config{
		BatchSize:     cfg.Persist.BatchSize,
		FlushInterval: cfg.Persist.FlushInterval.Duration(),
		Buffer:        cfg.Persist.Buffer,
	}, st, o.Log.With("component", "persist"), pm)

	var targets []dispatch.Target
	for _, a := range cfg.RPC.Assistants {
		targets = append(targets, dispatch.Target{ID: a.ID(), Addr: a.ID()})
	}
	var sendBody int64
	if cfg.Persist.StoreBodies {
		sendBody = cfg.Persist.StoredBodyCap.Bytes()
	}
	d, err := dispatch.New(dispatch.Config{
		MasterID:        id,
		PollInterval:    cfg.Dispatch.PollInterval.Duration(),
		PollTimeout:     cfg.Dispatch.PollTimeout.Duration(),
		DownAfter:       cfg.Dispatch.DownAfter,
		BatchSize:       cfg.Dispatch.BatchSize,
		PrefetchBatches: cfg.Dispatch.PrefetchBatches,
		Lease:           cfg.Dispatch.LeaseDuration.Duration(),
		SendBodyCap:     sendBody,
		Retry: retry.Policy{
			MaxAttempts: cfg.Retry.MaxAttempts,
			BaseDelay:   cfg.Retry.BaseDelay.Duration(),
			MaxDelay:    cfg.Retry.MaxDelay.Duration(),
			Jitter:      cfg.Retry.Jitter,
		},
		DialOptions: o.DialOptions,
	}, targets, st, writer, o.Log.With("component", "dispatch"), dm)
	if err != nil {
		return err
	}

	adminAddr := o.AdminAddr
	if adminAddr == "" {
		adminAddr = cfg.RPC.Manager.Addr()
	}
	adm, err := admin.Start(adminAddr, reg, cfg.Metrics.Pprof, nil, o.Log.With("component", "admin"))
	if err != nil {
		return err
	}
	defer adm.Close()

	started := time.Now()
	log.Info("master leading", "id", id, "assistants", len(targets), "admin", adm.Addr(),
		"database", cfg.Database.RedactedURL())

	// The writer outlives the dispatcher: it runs on a context that is
	// cancelled only if the final flush cannot finish.
	writerCtx, cancelWriter := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelWriter()
	writerDone := make(chan error, 1)
	go func() { writerDone <- writer.Run(writerCtx) }()

	var bg sync.WaitGroup
	bgCtx, stopBG := context.WithCancel(ctx)
	defer stopBG()
	bg.Go(func() { rescueLoop(bgCtx, st, cfg.Dispatch.RescueInterval.Duration(), log) })
	bg.Go(func() {
		p := &progress{st: st, d: d, w: writer, m: mm, log: o.Log.With("component", "progress"), id: id, started: started}
		p.loop(bgCtx, cfg.Dispatch.ProgressInterval.Duration())
	})
	if o.Started != nil {
		o.Started(&Daemon{Store: st, Dispatcher: d, Writer: writer, Admin: adm, ID: id})
	}

	grace := cfg.Dispatch.ShutdownGrace.Duration()
	runErr := d.Run(ctx, grace)
	log.Info("dispatch stopped; flushing results")
	stopBG()
	bg.Wait()
	writer.Close()
	select {
	case err := <-writerDone:
		if err != nil {
			log.Error("final flush failed; unflushed results will be crawled again", "err", err)
		}
	case <-time.After(30 * time.Second):
		cancelWriter()
		log.Error("final flush timed out; unflushed results will be crawled again")
		<-writerDone
	}
	// Anything still leased by us (results that could not be flushed) goes
	// back now rather than at the next start.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if n, err := st.ReleaseAll(rctx); err != nil {
		log.Error("release leases at exit", "err", err)
	} else if n > 0 {
		log.Info("released leases at exit", "urls", n)
	}
	log.Info("master stopped", "uptime", time.Since(started).Round(time.Second),
		"persisted", writer.Persisted(store.StateDone)+writer.Persisted(store.StateFailed)+writer.Persisted(store.StateDead),
		"rejected", writer.Rejected())
	return runErr
}

// leaderLock is the held leadership.
type leaderLock struct{ conn *pgxpool.Conn }

func (l *leaderLock) Release() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, _ = l.conn.Exec(ctx, `SELECT pg_advisory_unlock($1)`, leaderLockKey)
	l.conn.Release()
}

// lead takes the leader lock, waiting while another master holds it.
func lead(ctx context.Context, pool *pgxpool.Pool, log *slog.Logger) (*leaderLock, error) {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("acquire leader connection: %w", err)
	}
	waiting := false
	for {
		var ok bool
		if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, leaderLockKey).Scan(&ok); err != nil {
			conn.Release()
			return nil, fmt.Errorf("take leader lock: %w", err)
		}
		if ok {
			return &leaderLock{conn: conn}, nil
		}
		if !waiting {
			log.Info("another master leads; waiting as standby")
			waiting = true
		}
		t := time.NewTimer(time.Duration(500+rand.IntN(1000)) * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			conn.Release()
			return nil, ctx.Err()
		case <-t.C:
		}
	}
}

func rescueLoop(ctx context.Context, st *store.Store, every time.Duration, log *slog.Logger) {
	for {
		t := time.NewTimer(time.Duration(float64(every) * (0.9 + 0.2*rand.Float64())))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		n, err := st.RescueExpired(ctx)
		switch {
		case err != nil && !errors.Is(err, context.Canceled):
			log.Warn("lease rescue failed", "err", err)
		case n > 0:
			log.Warn("rescued expired leases", "urls", n)
		}
	}
}

func masterID() string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%s:%d:%d", host, os.Getpid(), time.Now().Unix())
}
