package faultproxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/crawlmaster/crawlmaster/internal/backoff"
)

// bufSize is the size of the pooled copy buffers.
const bufSize = 32 << 10

var bufPool = sync.Pool{New: func() any { b := make([]byte, bufSize); return &b }}

// Proxy is a TCP forwarding proxy whose traffic can be partitioned, healed
// and reset. It is safe for concurrent use.
type Proxy struct {
	ln     net.Listener
	log    *slog.Logger
	dialer net.Dialer
	ctx    context.Context // cancelled by Close; aborts pending dials
	cancel context.CancelFunc
	wg     sync.WaitGroup // every goroutine the proxy started

	mu          sync.Mutex
	cond        *sync.Cond // on mu; broadcast when partitioned falls or a conn closes
	target      string     // where new connections go; "" refuses them
	partitioned bool
	closed      bool
	conns       map[*pconn]struct{}
	nextID      uint64

	closeOnce sync.Once
	closeErr  error
}

// pconn is one proxied client connection.
type pconn struct {
	id     uint64
	client net.Conn
	server net.Conn // guarded by Proxy.mu; nil until dialed (and forever if stalled)
	closed bool     // guarded by Proxy.mu
}

// New listens on listen (e.g. "127.0.0.1:0") and forwards every accepted
// connection to target. An empty target (not known yet: see SetTarget)
// closes accepted connections at once, as a target that is down would. A
// nil log discards log output. The proxy runs until Close is called.
func New(listen, target string, log *slog.Logger) (*Proxy, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, fmt.Errorf("faultproxy: listen %s: %w", listen, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &Proxy{
		ln:     ln,
		target: target,
		log:    log.With("proxy", ln.Addr().String()),
		ctx:    ctx,
		cancel: cancel,
		conns:  make(map[*pconn]struct{}),
	}
	p.cond = sync.NewCond(&p.mu)
	p.wg.Add(1)
	go p.acceptLoop()
	return p, nil
}

// Addr returns the address the proxy actually listens on, e.g.
// "127.0.0.1:41234".
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// SetTarget makes connections accepted from now on go to target; those
// already forwarded keep their old target. A test starts the proxy first
// (its address goes into the configuration) and points it at the server
// once that has bound port 0, and again when a restart moved the server.
func (p *Proxy) SetTarget(target string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.target = target
	p.log.Info("faultproxy: target", "target", target)
}

// Partition simulates a dropped network: from now on no bytes flow in either
// direction on existing connections (they stay open, as after a cable pull:
// reads just stall), and new connections are accepted but never forwarded
// (they stall too). Closes and resets by either peer are not propagated
// either. Idempotent.
func (p *Proxy) Partition() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.partitioned || p.closed {
		return
	}
	p.partitioned = true
	p.log.Info("faultproxy: partition", "conns", len(p.conns))
}

// Heal ends the partition: connections that were stalled during it (every
// connection open at the time of the call) are aborted, so their peers see a
// reset/EOF as they would after a long partition and TCP keepalive, and new
// connections forward normally again. Data held back during the partition is
// discarded. Calling Heal when not partitioned does nothing.
func (p *Proxy) Heal() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.partitioned {
		return
	}
	n := p.abortAllLocked()
	p.partitioned = false
	p.cond.Broadcast()
	p.log.Info("faultproxy: heal", "aborted", n)
}

// Reset aborts all current connections at once (peers see EOF/RST) without
// blocking new ones. It does not change the partition state.
func (p *Proxy) Reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := p.abortAllLocked()
	p.log.Info("faultproxy: reset", "aborted", n)
}

// Conns returns the number of currently open client connections, including
// stalled ones. A stalled connection accepted during a partition is counted
// until Heal, Reset or Close closes it, even if its client has gone away.
func (p *Proxy) Conns() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.conns)
}

// Close stops listening, aborts every connection and waits for all of the
// proxy's goroutines to exit. Later calls return nil and do nothing.
func (p *Proxy) Close() error {
	p.closeOnce.Do(func() {
		p.closeErr = p.ln.Close()
		p.cancel()
		p.mu.Lock()
		p.closed = true
		p.partitioned = false
		p.abortAllLocked()
		p.mu.Unlock()
		p.wg.Wait()
		p.log.Debug("faultproxy: closed")
	})
	return p.closeErr
}

func (p *Proxy) acceptLoop() {
	defer p.wg.Done()
	retry := backoff.Backoff{Base: 5 * time.Millisecond, Max: time.Second}
	for {
		nc, err := p.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) || p.ctx.Err() != nil {
				return
			}
			// Transient failure such as EMFILE: back off, but stay
			// responsive to Close.
			wait := retry.Next()
			p.log.Warn("faultproxy: accept", "err", err, "retry_in", wait)
			if backoff.Sleep(p.ctx, wait) != nil {
				return
			}
			continue
		}
		retry.Reset()

		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			abort(nc)
			return
		}
		p.nextID++
		c := &pconn{id: p.nextID, client: nc}
		p.conns[c] = struct{}{}
		stalled := p.partitioned
		if !stalled {
			p.wg.Add(1)
			go p.handle(c)
		}
		p.mu.Unlock()
		p.log.Debug("faultproxy: accepted", "conn", c.id, "remote", nc.RemoteAddr().String(), "stalled", stalled)
	}
}

// handle dials the target and runs the two copy directions for c.
func (p *Proxy) handle(c *pconn) {
	defer p.wg.Done()
	p.mu.Lock()
	target := p.target
	p.mu.Unlock()
	server, err := p.dialer.DialContext(p.ctx, "tcp", target)
	if err != nil {
		p.log.Debug("faultproxy: dial target", "conn", c.id, "target", target, "err", err)
		p.mu.Lock()
		p.closeLocked(c, true)
		p.mu.Unlock()
		return
	}
	p.mu.Lock()
	if c.closed { // reset, healed or closed while dialing
		p.mu.Unlock()
		abort(server)
		return
	}
	c.server = server
	p.mu.Unlock()

	done := make(chan struct{})
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		defer close(done)
		p.pipe(c, server, c.client)
	}()
	p.pipe(c, c.client, server)
	<-done

	p.mu.Lock()
	p.closeLocked(c, false)
	p.mu.Unlock()
	p.log.Debug("faultproxy: conn done", "conn", c.id)
}

// pipe copies src to dst until src ends, then propagates the end (half-close
// on EOF, full close on error) unless c was closed in the meantime. Nothing,
// including the end, crosses a partition.
func (p *Proxy) pipe(c *pconn, dst, src net.Conn) {
	bp := bufPool.Get().(*[]byte)
	// The wrappers hide (*net.TCPConn).ReadFrom/WriteTo so that CopyBuffer
	// really uses the pooled buffer and every write goes through the gate.
	_, err := io.CopyBuffer(gatedWriter{p: p, c: c, w: dst}, readerOnly{src}, *bp)
	bufPool.Put(bp)
	if !p.wait(c) {
		return
	}
	if err == nil {
		if cw, ok := dst.(interface{ CloseWrite() error }); ok && cw.CloseWrite() == nil {
			return
		}
	}
	p.mu.Lock()
	p.closeLocked(c, false)
	p.mu.Unlock()
}

// wait blocks while the proxy is partitioned and reports whether c is still
// open afterwards.
func (p *Proxy) wait(c *pconn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.partitioned && !c.closed {
		p.cond.Wait()
	}
	return !c.closed
}

// abortAllLocked aborts every open connection and returns how many there
// were.
func (p *Proxy) abortAllLocked() int {
	n := len(p.conns)
	for c := range p.conns {
		p.closeLocked(c, true)
	}
	return n
}

// closeLocked closes both sides of c, with a reset if hard, and wakes any
// goroutine waiting on the partition so it can notice. p.mu must be held.
func (p *Proxy) closeLocked(c *pconn, hard bool) {
	if c.closed {
		return
	}
	c.closed = true
	delete(p.conns, c)
	closeFn := func(nc net.Conn) { _ = nc.Close() }
	if hard {
		closeFn = abort
	}
	closeFn(c.client)
	if c.server != nil {
		closeFn(c.server)
	}
	p.cond.Broadcast()
}

// abort closes nc so that the peer sees a reset rather than an orderly FIN.
func abort(nc net.Conn) {
	if tc, ok := nc.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = nc.Close()
}

var errConnClosed = errors.New("faultproxy: connection closed")

// gatedWriter writes to w only while the proxy is not partitioned.
type gatedWriter struct {
	p *Proxy
	c *pconn
	w io.Writer
}

func (g gatedWriter) Write(b []byte) (int, error) {
	if !g.p.wait(g.c) {
		return 0, errConnClosed
	}
	return g.w.Write(b)
}

// readerOnly hides any WriterTo implementation of the wrapped reader.
type readerOnly struct{ r io.Reader }

func (r readerOnly) Read(b []byte) (int, error) { return r.r.Read(b) }
