package faultproxy

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/crawlmaster/crawlmaster/internal/testwait"
)

// stallWindow is how long a read must stay silent to count as "not
// delivered". It is a read deadline, not a sleep.
const stallWindow = 200 * time.Millisecond

// longWait bounds every wait for something that should happen promptly.
const longWait = 5 * time.Second

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(b []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

// startEcho runs a TCP echo server on loopback and returns its address. It
// is stopped, and its goroutines waited for, at test cleanup.
func startEcho(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns = map[net.Conn]struct{}{}
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns[c] = struct{}{}
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, _ = io.Copy(c, c)
				_ = c.Close()
				mu.Lock()
				delete(conns, c)
				mu.Unlock()
			}()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		for c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

func newProxy(t *testing.T, target string) *Proxy {
	t.Helper()
	p, err := New("127.0.0.1:0", target, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, longWait)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// roundTrip writes msg and expects it echoed back promptly.
func roundTrip(t *testing.T, c net.Conn, msg string) {
	t.Helper()
	if err := c.SetDeadline(time.Now().Add(longWait)); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(c, msg); err != nil {
		t.Fatalf("write: %v", err)
	}
	buf := make([]byte, len(msg))
	if _, err := io.ReadFull(c, buf); err != nil {
		t.Fatalf("read echo: %v", err)
	}
	if string(buf) != msg {
		t.Fatalf("echo = %q, want %q", buf, msg)
	}
}

// expectStalled writes msg and expects nothing back within stallWindow.
func expectStalled(t *testing.T, c net.Conn, msg string) {
	t.Helper()
	if err := c.SetWriteDeadline(time.Now().Add(longWait)); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(c, msg); err != nil {
		t.Fatalf("write during partition: %v", err)
	}
	expectStalledRead(t, c)
}

// expectStalledRead expects a read on c to return nothing within stallWindow.
func expectStalledRead(t *testing.T, c net.Conn) {
	t.Helper()
	if err := c.SetReadDeadline(time.Now().Add(stallWindow)); err != nil {
		t.Fatal(err)
	}
	n, err := c.Read(make([]byte, 64))
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read during partition = %d bytes, %v; want a stall (deadline exceeded)", n, err)
	}
}

// expectClosed expects c to be closed by the far end: a read returns an
// error other than a timeout, and no data.
func expectClosed(t *testing.T, c net.Conn) {
	t.Helper()
	if err := c.SetReadDeadline(time.Now().Add(longWait)); err != nil {
		t.Fatal(err)
	}
	n, err := c.Read(make([]byte, 64))
	if err == nil || errors.Is(err, os.ErrDeadlineExceeded) || n != 0 {
		t.Fatalf("read = %d bytes, %v; want the connection closed", n, err)
	}
}

// waitFor polls cond until it holds or longWait passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testwait.Until(t, what, longWait, 2*time.Millisecond, cond)
}

func waitConns(t *testing.T, p *Proxy, n int) {
	t.Helper()
	waitFor(t, fmt.Sprintf("Conns() == %d (have %d)", n, p.Conns()), func() bool { return p.Conns() == n })
}

func TestForwarding(t *testing.T) {
	p := newProxy(t, startEcho(t))
	c := dial(t, p.Addr())
	roundTrip(t, c, "hello")
	roundTrip(t, c, "world")
	waitConns(t, p, 1)

	// Many concurrent connections with payloads larger than a copy buffer.
	const n = 32
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- echoBulk(p.Addr(), (i+1)*37<<10)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	waitConns(t, p, 1)
}

// echoBulk sends size random bytes through addr while concurrently reading
// them back, half-closes, and checks the echo and the final EOF.
func echoBulk(addr string, size int) error {
	c, err := net.DialTimeout("tcp", addr, longWait)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(longWait))
	data := make([]byte, size)
	_, _ = rand.Read(data)
	werr := make(chan error, 1)
	go func() {
		_, err := c.Write(data)
		if err == nil {
			err = c.(*net.TCPConn).CloseWrite()
		}
		werr <- err
	}()
	got, err := io.ReadAll(c) // reads until the half-close comes back as EOF
	if err != nil {
		return err
	}
	if err := <-werr; err != nil {
		return err
	}
	if !bytes.Equal(got, data) {
		return errors.New("echo mismatch")
	}
	return nil
}

func TestPartitionHeal(t *testing.T) {
	p := newProxy(t, startEcho(t))
	c1 := dial(t, p.Addr())
	roundTrip(t, c1, "before")
	c3 := dial(t, p.Addr())
	roundTrip(t, c3, "before")

	p.Partition()
	p.Partition() // idempotent
	expectStalled(t, c1, "lost")

	// A new connection is accepted but not forwarded.
	c2 := dial(t, p.Addr())
	waitConns(t, p, 3)
	expectStalled(t, c2, "also lost")

	// A half-close does not cross the partition either: without the
	// partition the echo server would see EOF and close, and c3 would read
	// EOF; during it the read just stalls.
	if err := c3.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	expectStalledRead(t, c3)

	p.Heal()
	expectClosed(t, c1) // the held-back "lost" is never delivered
	expectClosed(t, c2)
	expectClosed(t, c3)
	waitConns(t, p, 0)

	c4 := dial(t, p.Addr())
	roundTrip(t, c4, "after")
	p.Heal() // idempotent: not partitioned, must not close c4
	roundTrip(t, c4, "still")
	waitConns(t, p, 1)
}

func TestReset(t *testing.T) {
	p := newProxy(t, startEcho(t))
	c1 := dial(t, p.Addr())
	c2 := dial(t, p.Addr())
	roundTrip(t, c1, "a")
	roundTrip(t, c2, "b")
	waitConns(t, p, 2)

	p.Reset()
	expectClosed(t, c1)
	expectClosed(t, c2)
	waitConns(t, p, 0)

	c3 := dial(t, p.Addr())
	roundTrip(t, c3, "c")

	// Reset during a partition closes stalled connections but keeps the
	// partition.
	p.Partition()
	c4 := dial(t, p.Addr())
	waitConns(t, p, 2)
	p.Reset()
	expectClosed(t, c3)
	expectClosed(t, c4)
	c5 := dial(t, p.Addr())
	expectStalled(t, c5, "x")
	p.Heal()
	expectClosed(t, c5)
}

// A proxy whose target is down, or not known yet, closes what it accepts.
func TestTargetDown(t *testing.T) {
	cases := []struct{ name, target string }{
		// Nothing can listen on port 0, so connecting to it is refused
		// (Linux), unlike a port that was free a moment ago.
		{"refused", "127.0.0.1:0"},
		{"not set yet", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := newProxy(t, tc.target)
			for range 5 {
				c, err := net.DialTimeout("tcp", p.Addr(), longWait)
				if err != nil {
					// The proxy can reset the connection before the client's
					// connect has finished; that is a closed connection too.
					if !errors.Is(err, syscall.ECONNRESET) {
						t.Fatalf("dial: %v", err)
					}
					continue
				}
				expectClosed(t, c)
				_ = c.Close()
			}
			waitConns(t, p, 0)
		})
	}
}

// startGreeter runs a TCP server that writes name to every connection and
// closes it, so a test can tell which server a proxy reached.
func startGreeter(t *testing.T, name string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_, _ = io.WriteString(c, name)
			_ = c.Close()
		}
	}()
	t.Cleanup(func() { _ = ln.Close(); <-done })
	return ln.Addr().String()
}

// greeting reads what the server behind addr says before closing.
func greeting(t *testing.T, addr string) string {
	t.Helper()
	c := dial(t, addr)
	if err := c.SetReadDeadline(time.Now().Add(longWait)); err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("read greeting: %v", err)
	}
	return string(b)
}

// SetTarget redirects new connections only: a test points the proxy at an
// assistant once it has bound port 0, and again after a restart moved it.
func TestSetTarget(t *testing.T) {
	p := newProxy(t, "")
	echo := startEcho(t)
	p.SetTarget(echo)
	before := dial(t, p.Addr())
	roundTrip(t, before, "to the echo server")

	for _, name := range []string{"a", "b"} {
		p.SetTarget(startGreeter(t, name))
		if got := greeting(t, p.Addr()); got != name {
			t.Fatalf("after SetTarget(%s): new connection reached %q", name, got)
		}
	}
	// The connection made before the switches still reaches the echo server.
	roundTrip(t, before, "still the echo server")
}

// proxyGoroutines counts goroutines running code of this package's proxy
// (not the test's own helpers).
func proxyGoroutines() int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	count := 0
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "faultproxy.(*Proxy)") {
			count++
		}
	}
	return count
}

func TestCloseNoLeak(t *testing.T) {
	echo := startEcho(t)
	base := runtime.NumGoroutine()

	p, err := New("127.0.0.1:0", echo, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	active := dial(t, p.Addr())
	roundTrip(t, active, "x")
	mid := dial(t, p.Addr())
	roundTrip(t, mid, "y")
	p.Partition()
	expectStalled(t, mid, "held") // a copy goroutine now waits on the gate
	stalled := dial(t, p.Addr())
	waitConns(t, p, 3)
	if g := proxyGoroutines(); g == 0 {
		t.Fatal("expected proxy goroutines to be running")
	}

	if err := p.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := p.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	// Close waited for everything: no proxy goroutine may remain (allow
	// the exiting ones to finish returning).
	waitFor(t, "proxy goroutines to exit", func() bool { return proxyGoroutines() == 0 })
	if n := p.Conns(); n != 0 {
		t.Fatalf("Conns() after Close = %d", n)
	}
	expectClosed(t, active)
	expectClosed(t, mid)
	expectClosed(t, stalled)
	if c, err := net.DialTimeout("tcp", p.Addr(), longWait); err == nil {
		_ = c.Close()
		t.Fatal("dial after Close succeeded")
	}
	// Calls after Close are harmless.
	p.Partition()
	p.Heal()
	p.Reset()

	_ = active.Close()
	_ = mid.Close()
	_ = stalled.Close()
	// The echo server's handlers exit once the proxy's conns to it are
	// gone; then we are back to the baseline.
	waitFor(t, "goroutine count back to baseline", func() bool { return runtime.NumGoroutine() <= base })
}

func TestGRPCHealth(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	healthpb.RegisterHealthServer(srv, health.NewServer()) // reports SERVING for ""
	serveDone := make(chan struct{})
	go func() { defer close(serveDone); _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Stop(); <-serveDone })

	p := newProxy(t, ln.Addr().String())
	cc, err := grpc.NewClient("passthrough:///"+p.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cc.Close() })
	hc := healthpb.NewHealthClient(cc)

	check := func(timeout time.Duration, opts ...grpc.CallOption) error {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		resp, err := hc.Check(ctx, &healthpb.HealthCheckRequest{}, opts...)
		if err == nil && resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			return errors.New("status " + resp.GetStatus().String())
		}
		return err
	}

	if err := check(longWait, grpc.WaitForReady(true)); err != nil {
		t.Fatalf("Check before partition: %v", err)
	}

	p.Partition()
	err = check(stallWindow)
	if status.Code(err) != codes.DeadlineExceeded {
		t.Fatalf("Check during partition: %v; want DeadlineExceeded", err)
	}

	p.Heal()
	// The client notices its connection was reset and reconnects.
	deadline := time.Now().Add(longWait)
	for {
		err := check(time.Until(deadline), grpc.WaitForReady(true))
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Check after heal: %v", err)
		}
		t.Logf("Check after heal (retrying): %v", err)
	}
}
