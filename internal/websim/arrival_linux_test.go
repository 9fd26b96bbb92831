package websim

import (
	"net"
	"testing"
	"time"
)

// A read returns the kernel's receive time of the data, not the time of
// the read: bytes read 100 ms after they arrived are stamped with their
// arrival.
func TestArrivalIsTheKernelsReceiveTime(t *testing.T) {
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := newArrivalListener(raw)
	defer ln.Close()
	client, err := net.Dial("tcp", raw.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ac, ok := c.(*arrivalConn)
	if !ok {
		t.Fatalf("accepted %T, want *arrivalConn", c)
	}
	sent := time.Now()
	if _, err := client.Write([]byte("GET / HTTP/1.1\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	buf := make([]byte, 64)
	if n, err := ac.Read(buf); err != nil || n == 0 {
		t.Fatalf("read: %d, %v", n, err)
	}
	read := time.Now()
	got := time.Unix(0, ac.last.Load())
	if got.Before(sent.Add(-time.Millisecond)) || got.After(sent.Add(50*time.Millisecond)) {
		t.Fatalf("arrival %v after the write, read %v after it; want the arrival within 50ms of the write",
			got.Sub(sent), read.Sub(sent))
	}
	// EOF still reads as EOF.
	client.Close()
	if _, err := ac.Read(buf); err == nil {
		t.Fatal("read after the peer closed: no error")
	}
}
