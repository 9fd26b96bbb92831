package master

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc/credentials"

	"github.com/crawlmaster/crawlmaster/crawl/netguard"
	"github.com/crawlmaster/crawlmaster/internal/admin"
	"github.com/crawlmaster/crawlmaster/internal/backoff"
	"github.com/crawlmaster/crawlmaster/internal/config"
	"github.com/crawlmaster/crawlmaster/internal/gctune"
	"github.com/crawlmaster/crawlmaster/internal/lifecycle"
	"github.com/crawlmaster/crawlmaster/internal/mtls"
	"github.com/crawlmaster/crawlmaster/internal/portmux"
	"github.com/crawlmaster/crawlmaster/master/dispatch"
	"github.com/crawlmaster/crawlmaster/master/frontier"
	"github.com/crawlmaster/crawlmaster/master/persist"
	"github.com/crawlmaster/crawlmaster/master/store"
	"github.com/crawlmaster/crawlmaster/master/upkeep"
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
	// and the API, which share it (tests use "127.0.0.1:0"); empty means
	// use the config.
	AdminAddr string
	// AdminListener, if set, is served instead of listening on the admin
	// address: the caller binds port 0 and hands it over, so no one can
	// take the port in between. Run closes it.
	AdminListener net.Listener
	// TLS overrides the files of the master's certificate, key and CA
	// (empty fields: those in rpc.yaml's tls.dir).
	TLS mtls.Files
	// Reload, when a value arrives (SIGHUP), reloads the certificates.
	Reload <-chan os.Signal
	// Started, if set, is called once the master leads and dispatches.
	Started func(*Daemon)
	// Standby, if set, is called each time the master starts waiting as a
	// standby because another master holds the leader lock (tests).
	Standby func()
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
	me := &self{id: masterID(), started: time.Now()}
	gc := gctune.Apply(int64(cfg.Persist.MemoryLimit), gctune.MasterPercent)
	log.Info("gc pacing", "gc_percent", gc.Percent, "memory_limit_bytes", gc.MemoryLimit)
	m := &termMetrics{dispatch: dispatch.NewMetrics(o.Registry), persist: persist.NewMetrics(o.Registry), frontier: newMetrics(o.Registry),
		upkeep: upkeep.NewMetrics(o.Registry)}
	// The admin endpoint serves first, so an orchestrator sees the process
	// alive (/healthz) and not ready (/readyz) while the database is down.
	adminAddr := o.AdminAddr
	if adminAddr == "" {
		adminAddr = cfg.RPC.Manager.Addr()
	}
	// The port is shared (portmux): TLS connections are the API's, the
	// rest the admin HTTP server's.
	ln := o.AdminListener
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", adminAddr); err != nil {
			return fmt.Errorf("admin server: listen %s: %w", adminAddr, err)
		}
	}
	mux := portmux.New(ln, portmux.Options{Log: o.Log.With("component", "portmux")})
	adm := admin.Serve(mux.Other(), o.Registry, cfg.Metrics.Pprof, me.ready, o.Log.With("component", "admin"))
	// The certificate reload loop stops when its stage does, not when ctx
	// ends: the master may dial assistants while it drains.
	tctx, stopTLS := context.WithCancel(context.WithoutCancel(ctx))
	creds, err := masterCredentials(tctx, o, log)
	if err != nil {
		stopTLS()
		adm.Close()
		mux.Close()
		return err
	}
	me.creds = creds.dial
	apiSrv := serveAPI(mux, creds.api, o, me)
	// The daemon's components, stopped in this order: leading (or
	// standing by), which drains, flushes, releases the leases and closes
	// the pool last of its resources; then the certificate reload loop;
	// the API and admin endpoint last, so /metrics and /healthz answer
	// while the master drains.
	return lifecycle.Run(ctx,
		lifecycle.Stage{func(ctx context.Context) error { return serve(ctx, o, adm, m, me) }},
		lifecycle.Stage{func(ctx context.Context) error {
			<-ctx.Done()
			stopTLS()
			creds.wait()
			return nil
		}},
		lifecycle.Stage{func(ctx context.Context) error {
			<-ctx.Done()
			if apiSrv != nil {
				apiSrv.Stop(apiGracefulStop)
			}
			if err := adm.Close(); err != nil {
				log.Warn("admin server did not close cleanly", "err", err)
			}
			mux.Close()
			return nil
		}},
	)
}

// serve connects to the database, leads or stands by until ctx ends, then
// clears this master's heartbeat and closes the pool. It returns nil only
// once ctx is done.
func serve(ctx context.Context, o Options, adm *admin.Server, m *termMetrics, me *self) error {
	cfg, log := o.Config, o.Log.With("component", "master")
	st, pool, err := openAndMigrate(ctx, cfg.Database.URL, int32(cfg.Database.MaxConns), log)
	if err != nil {
		if ctx.Err() != nil {
			return nil // stopped while waiting for the database
		}
		return err
	}
	defer pool.Close()
	me.pool.Store(pool)
	err = leadTerms(ctx, o, st, pool, adm, m, me)
	// A clean stop clears this master's heartbeat (and its leader status),
	// so `master status` shows it stopped at once.
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if ferr := st.ForgetMaster(fctx, me.id); ferr != nil {
		log.Warn("clear heartbeat", "err", ferr)
	}
	return err
}

// self is this master's identity and role, shared by its loops and read
// by /readyz.
type self struct {
	id      string
	started time.Time
	role    atomic.Value // store.MasterRole; unset while starting
	pool    atomic.Pointer[pgxpool.Pool]
	// creds are how it dials each assistant (tls.go).
	creds func(dispatch.Target) credentials.TransportCredentials
	// lead says whether it leads, for the API; apiAddr is where it serves
	// the API ("" when off), published with its heartbeat.
	lead    leadership
	apiAddr string
}

func (s *self) setRole(r store.MasterRole) { s.role.Store(r) }

// ready answers /readyz: ready when the database answers and the master
// knows its role (leader or standby).
func (s *self) ready() (string, error) {
	pool := s.pool.Load()
	if pool == nil {
		return "", errors.New("waiting for the database")
	}
	pctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := pool.Ping(pctx); err != nil {
		return "", fmt.Errorf("database unreachable: %w", err)
	}
	r, _ := s.role.Load().(store.MasterRole)
	if r == "" {
		return "", errors.New("starting")
	}
	return string(r), nil
}

// leadTerms waits as a standby until it holds the leader lock, leads a
// term, and goes back to standby when the term ends without a shutdown
// (lost lock, database failure while taking over).
func leadTerms(ctx context.Context, o Options, st *store.Store, pool *pgxpool.Pool, adm *admin.Server, m *termMetrics, me *self) error {
	log := o.Log.With("component", "master")
	for {
		lock, err := lead(ctx, pool, log, func() {
			me.setRole(store.RoleStandby)
			if o.Standby != nil {
				o.Standby()
			}
		}, func(ctx context.Context) {
			if err := st.Heartbeat(ctx, me.id, store.RoleStandby, me.started, me.apiAddr); err != nil && ctx.Err() == nil {
				log.Warn("write heartbeat", "err", err)
			}
		})
		if err != nil {
			if ctx.Err() != nil {
				return nil // stopped while standing by
			}
			return err
		}
		err = term(ctx, o, st, lock, adm, m, me)
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
			if backoff.Sleep(ctx, backoff.Jitter(time.Second, 0.5)) != nil {
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
	upkeep   *upkeep.Metrics
}

// term is one leadership term: from taking the lock to stopping (ctx
// cancelled) or losing the lock.
func term(ctx context.Context, o Options, st *store.Store, lock *leaderLock, adm *admin.Server, m *termMetrics, me *self) error {
	cfg, log := o.Config, o.Log.With("component", "master")
	id := me.id
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
		FlushInterval: cfg.Persist.FlushInterval,
		Buffer:        cfg.Persist.Buffer,
	}, st, o.Log.With("component", "persist"), m.persist)

	var targets []dispatch.Target
	for _, a := range cfg.RPC.Assistants {
		targets = append(targets, dispatch.Target{ID: a.ID(), Addr: a.ID()})
	}
	var sendBody int64
	if cfg.Persist.StoreBodies {
		sendBody = int64(cfg.Persist.StoredBodyCap)
	}
	d, err := dispatch.New(dispatch.Config{
		MasterID:        id,
		PollInterval:    cfg.Dispatch.PollInterval,
		PollTimeout:     cfg.Dispatch.PollTimeout,
		DownAfter:       cfg.Dispatch.DownAfter,
		BatchSize:       cfg.Dispatch.BatchSize,
		BatchDuration:   cfg.Dispatch.BatchDuration,
		PrefetchBatches: cfg.Dispatch.PrefetchBatches,
		Lease:           cfg.Dispatch.LeaseDuration,
		SendBodyCap:     sendBody,
		SiteSpacing:     cfg.Fetch.DefaultDelay,
		MaxSlotWait:     dispatch.DefaultMaxSlotWait,
		Guard:           netguard.New(cfg.Fetch.AllowedPrefixes()),
		Retry:           cfg.Retry,
		Credentials:     me.creds,
	}, targets, st, writer, o.Log.With("component", "dispatch"), m.dispatch)
	if err != nil {
		return err
	}
	// Feeders whose last claim found nothing claim again once a write has
	// released sites or admitted links, not a poll interval later.
	writer.OnWritten(d.ResultsWritten)

	started := time.Now()
	log.Info("master leading", "id", id, "assistants", len(targets), "admin", adm.Addr(),
		"database", cfg.Database.RedactedURL())
	me.setRole(store.RoleLeader)
	m.frontier.leader.Set(1)
	defer m.frontier.leader.Set(0)
	me.lead.set(true) // the API serves
	defer me.lead.set(false)

	if o.Started != nil {
		o.Started(&Daemon{Store: st, Dispatcher: d, Writer: writer, Admin: adm, ID: id})
	}
	p := &progress{st: st, d: d, w: writer, m: m.frontier, log: o.Log.With("component", "progress"), id: id, started: started, apiAddr: me.apiAddr}
	keep := upkeep.New(upkeep.DefaultConfig(cfg.Persist.Retention), st, o.Log.With("component", "upkeep"), m.upkeep)
	keep.Wake = d.ResultsWritten
	// The term's components, stopped in this order on shutdown or when the
	// lock is lost: the dispatcher stops claiming and drains its batches
	// (within the grace, or at once when the lock was lost: its results
	// would be rejected), then the background loops, then the writer
	// flushes what the batches brought.
	err = lifecycle.Run(ctx,
		lifecycle.Stage{func(ctx context.Context) error {
			err := d.Run(ctx, cfg.Dispatch.ShutdownGrace)
			log.Info("dispatch stopped; flushing results")
			return err
		}},
		lifecycle.Stage{
			func(ctx context.Context) error {
				if err := lock.watch(ctx, log); err != nil {
					d.Abort()
					return err
				}
				return nil
			},
			func(ctx context.Context) error { rescueLoop(ctx, st, cfg.Dispatch.RescueInterval, log); return nil },
			func(ctx context.Context) error { p.loop(ctx, cfg.Dispatch.ProgressInterval); return nil },
			func(ctx context.Context) error { keep.Run(ctx); return nil },
		},
		lifecycle.Stage{func(ctx context.Context) error {
			if err := writer.Run(ctx); err != nil {
				log.Error("final flush failed; unflushed results will be crawled again", "err", err)
			}
			return nil
		}},
	)
	lost := errors.Is(err, errLostLeadership)
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
	return err
}

// openAndMigrate connects and applies migrations, waiting (with backoff)
// while the database is unreachable: a daemon, and above all a standby,
// must survive a database that is down or restarting when it starts. A
// malformed database.url fails at once.
func openAndMigrate(ctx context.Context, url string, maxConns int32, log *slog.Logger) (*store.Store, *pgxpool.Pool, error) {
	retry := backoff.Backoff{Base: 500 * time.Millisecond, Max: 10 * time.Second, Jitter: 0.2}
	for {
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
		wait := retry.Next()
		log.Warn("database unreachable; retrying", "retry_in", wait.Round(time.Millisecond), "err", err)
		if err := backoff.Sleep(ctx, wait); err != nil {
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
		if err := backoff.Sleep(ctx, backoff.Jitter(time.Second, 0.2)); err != nil {
			return nil
		}
		if _, err := l.conn.Exec(ctx, `SELECT 1`); err == nil || ctx.Err() != nil {
			continue
		}
		log.Warn("leader lock session lost; taking the lock again")
		l.conn.Release() // broken: the pool discards it
		l.conn = nil
		retry := backoff.Backoff{Base: 250 * time.Millisecond, Max: 5 * time.Second, Jitter: 0.2}
		for {
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
				wait := retry.Next()
				log.Warn("leader lock: database unreachable; retrying", "retry_in", wait.Round(time.Millisecond), "err", err)
				if err := backoff.Sleep(ctx, wait); err != nil {
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
// holds it; standby is called when the waiting starts, beat (a heartbeat)
// every few seconds while it lasts.
func lead(ctx context.Context, pool *pgxpool.Pool, log *slog.Logger, standby func(), beat func(context.Context)) (*leaderLock, error) {
	waiting := false
	var lastBeat time.Time
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
				standby()
			}
			if time.Since(lastBeat) >= standbyBeat {
				beat(ctx)
				lastBeat = time.Now()
			}
		}
		if err := backoff.Sleep(ctx, backoff.Jitter(time.Second, 0.5)); err != nil {
			return nil, err
		}
	}
}

// standbyBeat is how often a standby writes its heartbeat.
const standbyBeat = 5 * time.Second

// rescueLoop returns expired leases to pending every interval (jittered)
// until ctx is done.
func rescueLoop(ctx context.Context, st *store.Store, every time.Duration, log *slog.Logger) {
	for backoff.Sleep(ctx, backoff.Jitter(every, 0.1)) == nil {
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
	// The random part tells apart masters started in the same second by
	// one process (tests) and a pid reused after a restart.
	var r [3]byte
	_, _ = rand.Read(r[:])
	return fmt.Sprintf("%s:%d:%x", host, os.Getpid(), r)
}
