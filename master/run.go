package master

import (
	"context"
	"errors"
	"fmt"
	"github.com/crawlmaster/crawlmaster/master/frontier"
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

// Errors that end a leader term without ending the daemon.
var (
	// errLostLeadership: another master holds the leader lock (this one's
	// lock session was lost, e.g. PostgreSQL restarted).
	errLostLeadership = errors.New("lost leadership to another master")
	// errTermDatabase: the database failed while the term was starting.
	errTermDatabase = errors.New("database error while taking over")
)

// Run is the master daemon. It connects to PostgreSQL, applies migrations,
// serves its admin endpoint, then waits as a standby until it holds the
// leader lock and leads: it returns the leases of any previous leader and
// dispatches until ctx is cancelled. If its lock session is lost and
// another master has taken the lock, it stops leading and waits as a
// standby again. Shutdown order: stop claiming, drain in-flight batches
// within dispatch.shutdown_grace, flush results, release leftover leases,
// close the database pool last.
func Run(ctx context.Context, o Options) error {
	cfg, log := o.Config, o.Log.With("component", "master")
	st, pool, err := openAndMigrate(ctx, cfg.Database.URL, int32(cfg.Database.MaxConns), log)
	if err != nil {
		if ctx.Err() != nil {
			return nil // stopped while waiting for the database
		}
		return err
	}
	defer pool.Close()
	m := &termMetrics{dispatch: dispatch.NewMetrics(o.Registry), persist: persist.NewMetrics(o.Registry), frontier: newMetrics(o.Registry)}
	adminAddr := o.AdminAddr
	if adminAddr == "" {
		adminAddr = cfg.RPC.Manager.Addr()
	}
	adm, err := admin.Start(adminAddr, o.Registry, cfg.Metrics.Pprof, nil, o.Log.With("component", "admin"))
	if err != nil {
		return err
	}
	defer adm.Close()
	for {
		lock, err := lead(ctx, pool, log)
		if err != nil {
			if ctx.Err() != nil {
				return nil // stopped while standing by
			}
			return err
		}
		err = term(ctx, o, st, lock, adm, m)
		lock.Release()
		switch {
		case ctx.Err() != nil:
			return nil
		case errors.Is(err, errLostLeadership):
			log.Warn("another master leads now; back to standby")
			continue
		case errors.Is(err, errTermDatabase):
			// The database failed while the term was starting (e.g. it is
			// restarting): stand by and try again rather than exit.
			log.Warn("database failed while taking over; back to standby", "err", err)
			if sleepCtx(ctx, jitterDur(time.Second, 0.5)) != nil {
				return nil
			}
			continue
		}
		return err
	}
}

type termMetrics struct {
	dispatch *dispatch.Metrics
	persist  *persist.Metrics
	frontier *metrics
}

// term is one leadership term: from taking the lock to stopping (ctx
// cancelled) or losing the lock.
func term(ctx context.Context, o Options, st *store.Store, lock *leaderLock, adm *admin.Server, m *termMetrics) error {
	cfg, log := o.Config, o.Log.With("component", "master")
	id := masterID()
	if n, err := st.ReleaseAll(ctx); err != nil {
		return fmt.Errorf("%w: %w", errTermDatabase, err)
	} else if n > 0 {
		log.Info("returned leases of a previous master to pending", "urls", n)
	}
	if err := st.Analyze(ctx); err != nil {
		return fmt.Errorf("%w: %w", errTermDatabase, err)
	}
	writer := persist.New(persist.Config{
		BatchSize:     cfg.Persist.BatchSize,
		FlushInterval: cfg.Persist.FlushInterval.Duration(),
		Buffer:        cfg.Persist.Buffer,
	}, st, o.Log.With("component", "persist"), m.persist)

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
		BatchDuration:   cfg.Dispatch.BatchDuration.Duration(),
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
	}, targets, st, writer, o.Log.With("component", "dispatch"), m.dispatch)
	if err != nil {
		return err
	}

	started := time.Now()
	log.Info("master leading", "id", id, "assistants", len(targets), "admin", adm.Addr(),
		"database", cfg.Database.RedactedURL())

	// termCtx ends the term: on shutdown, or when the lock is lost.
	termCtx, endTerm := context.WithCancelCause(ctx)
	defer endTerm(nil)

	// The writer outlives the dispatcher: it runs on a context that is
	// cancelled only if the final flush cannot finish.
	writerCtx, cancelWriter := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelWriter()
	writerDone := make(chan error, 1)
	go func() { writerDone <- writer.Run(writerCtx) }()

	var bg sync.WaitGroup
	bgCtx, stopBG := context.WithCancel(termCtx)
	defer stopBG()
	bg.Go(func() {
		if err := lock.watch(bgCtx, log); err != nil {
			endTerm(err)
			d.Abort()
		}
	})
	bg.Go(func() { rescueLoop(bgCtx, st, cfg.Dispatch.RescueInterval.Duration(), log) })
	bg.Go(func() {
		p := &progress{st: st, d: d, w: writer, m: m.frontier, log: o.Log.With("component", "progress"), id: id, started: started}
		p.loop(bgCtx, cfg.Dispatch.ProgressInterval.Duration())
	})
	if o.Started != nil {
		o.Started(&Daemon{Store: st, Dispatcher: d, Writer: writer, Admin: adm, ID: id})
	}

	grace := cfg.Dispatch.ShutdownGrace.Duration()
	runErr := d.Run(termCtx, grace)
	lost := errors.Is(context.Cause(termCtx), errLostLeadership)
	log.Info("dispatch stopped; flushing results", "lost_leadership", lost)
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
	// Anything still leased (results that could not be flushed) goes back
	// now rather than at the next start, unless another master leads: the
	// leases are then its own.
	if !lost {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if n, err := st.ReleaseAll(rctx); err != nil {
			log.Error("release leases at exit", "err", err)
		} else if n > 0 {
			log.Info("released leases at exit", "urls", n)
		}
	}
	log.Info("master stopped leading", "id", id, "uptime", time.Since(started).Round(time.Second),
		"persisted", writer.Persisted(frontier.StateDone)+writer.Persisted(frontier.StateFailed)+writer.Persisted(frontier.StateDead),
		"rejected", writer.Rejected())
	if lost {
		return errLostLeadership
	}
	return runErr
}

// openAndMigrate connects and applies migrations, waiting (with backoff)
// while the database is unreachable: a daemon, and above all a standby,
// must survive a database that is down or restarting when it starts. A
// malformed database.url fails at once.
func openAndMigrate(ctx context.Context, url string, maxConns int32, log *slog.Logger) (*store.Store, *pgxpool.Pool, error) {
	for backoff := 500 * time.Millisecond; ; backoff = min(2*backoff, 10*time.Second) {
		st, pool, err := store.Open(ctx, url, maxConns)
		if err == nil {
			var applied []int
			if applied, err = store.Migrate(ctx, pool); err == nil {
				if len(applied) > 0 {
					log.Info("applied migrations", "versions", applied)
				}
				return st, pool, nil
			}
			pool.Close()
		}
		if errors.Is(err, store.ErrBadURL) || ctx.Err() != nil {
			return nil, nil, err
		}
		log.Warn("database unreachable; retrying", "retry_in", backoff, "err", err)
		if err := sleepCtx(ctx, jitterDur(backoff, 0.2)); err != nil {
			return nil, nil, err
		}
	}
}

// leaderLock is the held leadership: a session advisory lock on one
// dedicated connection.
type leaderLock struct {
	pool *pgxpool.Pool
	conn *pgxpool.Conn
}

// Release gives the lock up and returns its connection.
func (l *leaderLock) Release() {
	if l.conn == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, _ = l.conn.Exec(ctx, `SELECT pg_advisory_unlock($1)`, leaderLockKey)
	l.conn.Release()
}

// watch checks the lock's session about once a second. If the session is
// gone (PostgreSQL restarted, connection cut), the lock went with it: watch
// re-takes it on a new connection as soon as the database answers, or
// returns errLostLeadership if another master took it meanwhile. While the
// database is unreachable it keeps trying; nothing else can lead then
// either.
func (l *leaderLock) watch(ctx context.Context, log *slog.Logger) error {
	for {
		if err := sleepCtx(ctx, jitterDur(time.Second, 0.2)); err != nil {
			return nil
		}
		if _, err := l.conn.Exec(ctx, `SELECT 1`); err == nil || ctx.Err() != nil {
			continue
		}
		log.Warn("leader lock session lost; taking the lock again")
		l.conn.Release() // broken: the pool discards it
		l.conn = nil
		for backoff := 250 * time.Millisecond; ; backoff = min(2*backoff, 5*time.Second) {
			ok, conn, err := tryLock(ctx, l.pool)
			switch {
			case ctx.Err() != nil:
				l.conn = conn // nil unless one was acquired
				return nil
			case err == nil && ok:
				l.conn = conn
				log.Info("leader lock taken again; still leading")
			case err == nil:
				l.conn = conn
				return errLostLeadership
			default:
				log.Warn("leader lock: database unreachable; retrying", "retry_in", backoff, "err", err)
				if err := sleepCtx(ctx, jitterDur(backoff, 0.2)); err != nil {
					return nil
				}
				continue
			}
			break
		}
	}
}

// tryLock takes a connection and tries the leader lock on it. The
// connection is returned whenever one was acquired.
func tryLock(ctx context.Context, pool *pgxpool.Pool) (bool, *pgxpool.Conn, error) {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return false, nil, err
	}
	var ok bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, leaderLockKey).Scan(&ok); err != nil {
		conn.Release()
		return false, nil, err
	}
	return ok, conn, nil
}

// lead takes the leader lock, waiting as a standby while another master
// holds it.
func lead(ctx context.Context, pool *pgxpool.Pool, log *slog.Logger) (*leaderLock, error) {
	waiting := false
	for {
		ok, conn, err := tryLock(ctx, pool)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			log.Warn("leader lock: database unreachable; retrying", "err", err)
		} else if ok {
			return &leaderLock{pool: pool, conn: conn}, nil
		} else {
			conn.Release()
			if !waiting {
				log.Info("another master leads; waiting as standby")
				waiting = true
			}
		}
		if err := sleepCtx(ctx, jitterDur(time.Second, 0.5)); err != nil {
			return nil, err
		}
	}
}

// sleepCtx waits for d or until ctx is done (then returns ctx.Err()).
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// jitterDur spreads d uniformly over ±frac of itself.
func jitterDur(d time.Duration, frac float64) time.Duration {
	return time.Duration(float64(d) * (1 + frac*(2*rand.Float64()-1)))
}

func rescueLoop(ctx context.Context, st *store.Store, every time.Duration, log *slog.Logger) {
	for sleepCtx(ctx, jitterDur(every, 0.1)) == nil {
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
