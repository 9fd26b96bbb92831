package portmux

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// newMux listens on loopback and splits the port.
func newMux(t *testing.T, opts Options) *Mux {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	m := New(ln, opts)
	t.Cleanup(func() { m.Close() })
	return m
}

// echo serves ln: each connection gets back what it sends, prefixed
// with tag, line by line.
func echo(t *testing.T, ln net.Listener, tag string) {
	t.Helper()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					if _, err := io.WriteString(c, tag+line); err != nil {
						return
					}
				}
			}()
		}
	}()
	t.Cleanup(func() { ln.Close(); wg.Wait() })
}

func selfSigned(t *testing.T) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "portmux"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), DNSNames: []string{"portmux"}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// roundTrip sends line on c and returns the answer line.
func roundTrip(t *testing.T, c net.Conn, line string) string {
	t.Helper()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, line+"\n"); err != nil {
		t.Fatal(err)
	}
	got, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Fatalf("read the answer to %q: %v", line, err)
	}
	return strings.TrimSuffix(got, "\n")
}

// A TLS client reaches the TLS listener and a plain one the other, on one
// port, each with its first byte intact; a real HTTP server works on the
// plain side.
func TestSplitsByFirstByte(t *testing.T) {
	t.Parallel()
	m := newMux(t, Options{})
	cert := selfSigned(t)
	echo(t, tls.NewListener(m.TLS(), &tls.Config{Certificates: []tls.Certificate{cert}}), "tls:")

	plain, err := net.Dial("tcp", m.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	tc, err := tls.Dial("tcp", m.Addr().String(), &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatalf("TLS through the mux: %v", err)
	}
	defer tc.Close()
	if got := roundTrip(t, tc, "hello"); got != "tls:hello" {
		t.Errorf("TLS client got %q, want tls:hello", got)
	}

	// The plain side: an HTTP server, as the master's admin endpoint.
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "plain "+r.URL.Path)
	}), ReadHeaderTimeout: 5 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(m.Other()) }()
	defer func() {
		srv.Close()
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("http.Serve: %v", err)
		}
	}()
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get("http://" + m.Addr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "plain /metrics" {
		t.Errorf("HTTP through the mux: %q", b)
	}
	// A plain connection opened before the HTTP server started was
	// handed to it too: its first byte 'G' arrives with the rest.
	_ = plain.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(plain, "GET /early HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(plain)
	if !strings.HasSuffix(string(b), "plain /early") {
		t.Errorf("early plain connection got %q", b)
	}
}

// A client that connects and sends nothing is closed after PeekTimeout
// and holds up nobody meanwhile, even when it takes the only pending
// slot: the next connection waits for the slot, then is served.
func TestSilentClientClosed(t *testing.T) {
	t.Parallel()
	m := newMux(t, Options{PeekTimeout: 300 * time.Millisecond, MaxPending: 1})
	echo(t, m.Other(), "plain:")
	silent, err := net.Dial("tcp", m.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	start := time.Now()
	c, err := net.Dial("tcp", m.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got := roundTrip(t, c, "x"); got != "plain:x" {
		t.Errorf("got %q", got)
	}
	_ = silent.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := silent.Read(make([]byte, 1)); n != 0 || !errors.Is(err, io.EOF) {
		t.Fatalf("silent client: read %d, %v; want EOF (closed by the mux)", n, err)
	}
	if d := time.Since(start); d > 4*time.Second {
		t.Errorf("silent client closed after %s, want about the 300ms peek timeout", d)
	}
}

// Closing one listener closes the connections routed to it afterwards,
// and the other side goes on; Close ends both and the port.
func TestClose(t *testing.T) {
	t.Parallel()
	m := newMux(t, Options{})
	echo(t, m.Other(), "plain:")
	if err := m.TLS().Close(); err != nil {
		t.Fatal(err)
	}
	tc, err := net.Dial("tcp", m.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	_ = tc.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := tc.Write([]byte{tlsHandshake, 3, 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := tc.Read(make([]byte, 1)); err == nil {
		t.Error("a TLS connection to a closed TLS listener was not closed")
	}
	c, err := net.Dial("tcp", m.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got := roundTrip(t, c, "still"); got != "plain:still" {
		t.Errorf("plain side after closing the TLS side: %q", got)
	}

	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Other().Accept(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Accept after Close: %v, want net.ErrClosed", err)
	}
	if c, err := net.Dial("tcp", m.Addr().String()); err == nil {
		c.Close()
		t.Error("the port still accepts after Close")
	}
	if err := m.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// Close does not wait for silent connections to time out: it closes
// them.
func TestCloseClosesSilentConnections(t *testing.T) {
	t.Parallel()
	m := newMux(t, Options{PeekTimeout: time.Minute})
	silent, err := net.Dial("tcp", m.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	// The mux has the connection once a plain one behind it is routed.
	echo(t, m.Other(), "plain:")
	c, err := net.Dial("tcp", m.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got := roundTrip(t, c, "x"); got != "plain:x" {
		t.Fatalf("got %q", got)
	}
	start := time.Now()
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Close took %s with a silent connection pending", d)
	}
	_ = silent.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := silent.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Errorf("silent connection after Close: %v, want EOF", err)
	}
}
