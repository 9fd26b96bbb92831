package portmux

import (
	"errors"
	"log/slog"
	"net"
	"sync"
	"time"
)

// tlsHandshake is the content type of a TLS handshake record, the first
// byte a TLS client sends.
const tlsHandshake = 0x16

// Defaults of Options.
const (
	DefaultPeekTimeout = 10 * time.Second
	DefaultMaxPending  = 1024
)

// Options tune a Mux; zero fields take the defaults.
type Options struct {
	// PeekTimeout is how long a new connection may take to send its first
	// byte before it is closed.
	PeekTimeout time.Duration
	// MaxPending bounds the connections waiting for their first byte.
	MaxPending int
	// Log receives the accept errors; nil discards them.
	Log *slog.Logger
}

// Mux splits a listener's connections by their first byte.
type Mux struct {
	ln    net.Listener
	opts  Options
	tls   *subListener
	other *subListener

	closeOnce sync.Once
	closed    chan struct{}
	wg        sync.WaitGroup // the accept loop and the peeking goroutines
	pending   chan struct{}  // a semaphore of MaxPending

	mu      sync.Mutex
	peeking map[net.Conn]struct{} // connections waiting for their first byte; nil once closed
}

// New starts splitting ln's connections; the Mux owns ln (Close closes
// it).
func New(ln net.Listener, opts Options) *Mux {
	if opts.PeekTimeout <= 0 {
		opts.PeekTimeout = DefaultPeekTimeout
	}
	if opts.MaxPending <= 0 {
		opts.MaxPending = DefaultMaxPending
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	m := &Mux{ln: ln, opts: opts, closed: make(chan struct{}), pending: make(chan struct{}, opts.MaxPending),
		peeking: map[net.Conn]struct{}{}}
	m.tls, m.other = m.newSub(), m.newSub()
	m.wg.Add(1)
	go m.acceptLoop()
	return m
}

// TLS is the listener of the connections that start with a TLS handshake.
func (m *Mux) TLS() net.Listener { return m.tls }

// Other is the listener of every other connection.
func (m *Mux) Other() net.Listener { return m.other }

// Addr is the address of the port.
func (m *Mux) Addr() net.Addr { return m.ln.Addr() }

// Close closes the port and both listeners (connections waiting to be
// accepted are closed; those already accepted belong to their servers)
// and waits for the mux's goroutines. It is idempotent.
func (m *Mux) Close() error {
	var err error
	m.closeOnce.Do(func() {
		close(m.closed)
		err = m.ln.Close()
		m.tls.Close()
		m.other.Close()
		// Connections still silent are closed now, not at their timeout.
		m.mu.Lock()
		for c := range m.peeking {
			c.Close()
		}
		m.peeking = nil
		m.mu.Unlock()
	})
	m.wg.Wait()
	return err
}

func (m *Mux) acceptLoop() {
	defer m.wg.Done()
	var delay time.Duration // after a temporary accept error, as net/http does
	for {
		select {
		case m.pending <- struct{}{}:
		case <-m.closed:
			return
		}
		c, err := m.ln.Accept()
		if err != nil {
			<-m.pending
			select {
			case <-m.closed:
				return
			default:
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || isTemporary(err) {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				m.opts.Log.Warn("accept failed; retrying", "err", err, "retry_in", delay)
				t := time.NewTimer(delay)
				select {
				case <-t.C:
				case <-m.closed:
					t.Stop()
					return
				}
				continue
			}
			m.opts.Log.Error("accept failed; the port stops serving", "err", err)
			m.tls.Close()
			m.other.Close()
			return
		}
		delay = 0
		m.wg.Add(1)
		go m.route(c)
	}
}

// isTemporary reports an accept error worth retrying (too many open
// files, a connection aborted before it was accepted).
func isTemporary(err error) bool {
	var t interface{ Temporary() bool }
	return errors.As(err, &t) && t.Temporary()
}

// route reads c's first byte and hands c to its listener.
func (m *Mux) route(c net.Conn) {
	defer m.wg.Done()
	m.mu.Lock()
	if m.peeking == nil { // closed meanwhile
		m.mu.Unlock()
		<-m.pending
		c.Close()
		return
	}
	m.peeking[c] = struct{}{}
	m.mu.Unlock()
	var b [1]byte
	_ = c.SetReadDeadline(time.Now().Add(m.opts.PeekTimeout))
	n, _ := c.Read(b[:]) // with the byte, an error is for the server to see on its next Read
	<-m.pending
	m.mu.Lock()
	delete(m.peeking, c)
	m.mu.Unlock()
	if n == 0 {
		c.Close() // silent past the timeout, or gone; err says which
		return
	}
	if err := c.SetReadDeadline(time.Time{}); err != nil {
		c.Close()
		return
	}
	to := m.other
	if b[0] == tlsHandshake {
		to = m.tls
	}
	to.deliver(&peekedConn{Conn: c, first: b[0], has: true})
}

// peekedConn is a connection whose first byte was read already: Read
// returns it first.
type peekedConn struct {
	net.Conn
	mu    sync.Mutex
	first byte
	has   bool
}

func (c *peekedConn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	c.mu.Lock()
	if c.has {
		c.has = false
		p[0] = c.first
		c.mu.Unlock()
		return 1, nil
	}
	c.mu.Unlock()
	return c.Conn.Read(p)
}

// subListener is one side of the mux: its Accept returns the connections
// routed to it.
type subListener struct {
	addr      net.Addr
	conns     chan net.Conn
	done      chan struct{}
	closeOnce sync.Once
}

func (m *Mux) newSub() *subListener {
	return &subListener{addr: m.ln.Addr(), conns: make(chan net.Conn), done: make(chan struct{})}
}

// deliver waits until the listener's server accepts c, or closes c when
// the listener is closed first.
func (l *subListener) deliver(c net.Conn) {
	select {
	case l.conns <- c:
	case <-l.done:
		c.Close()
	}
}

// Accept waits for the next connection routed to l; net.ErrClosed once l
// (or the mux) is closed.
func (l *subListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Close stops l accepting; connections routed to it later are closed.
// The port and the other listener go on.
func (l *subListener) Close() error {
	l.closeOnce.Do(func() { close(l.done) })
	return nil
}

// Addr is the port's address.
func (l *subListener) Addr() net.Addr { return l.addr }
