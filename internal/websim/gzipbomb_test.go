package websim

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"strconv"
	"testing"
	"time"
)

// TestGzipBombStream checks the constant-time construction: a small bomb
// decompresses, with a valid CRC-32 and size (gzip.Reader checks both at
// the end), to exactly the head then spaces.
func TestGzipBombStream(t *testing.T) {
	for _, size := range []int64{int64(len(gzipBombHead)) + 64<<10, 5<<20 + 12345, 3 << 20} {
		b := newGzipBomb(size)
		var wire bytes.Buffer
		wire.Write(b.head)
		for range b.repeat {
			wire.Write(b.block)
		}
		wire.Write(b.tail)
		if int64(wire.Len()) != b.wireSize() {
			t.Errorf("size %d: wireSize %d, written %d", size, b.wireSize(), wire.Len())
		}
		zr, err := gzip.NewReader(&wire)
		if err != nil {
			t.Fatal(err)
		}
		out, err := io.ReadAll(zr)
		if err != nil {
			t.Fatalf("size %d: %v", size, err)
		}
		if int64(len(out)) != size || !bytes.HasPrefix(out, []byte(gzipBombHead)) ||
			len(bytes.Trim(out[len(gzipBombHead):], " ")) != 0 {
			t.Errorf("size %d: decompressed %d bytes, head %q", size, len(out), out[:min(len(out), 80)])
		}
	}
}

// TestGzipBombServed: with GzipBomb, GzipBombPath answers about 1 MiB of
// gzip (Content-Encoding: gzip, its Content-Length) announcing 1 GiB;
// without it, 404.
func TestGzipBombServed(t *testing.T) {
	off := startSim(t, testConfig(50))
	resp, _ := mustGet(t, testClient(t, off.Addr(), 5*time.Second), "http://"+off.Domain(firstRank(t, off, homeIs(HomeOK)))+GzipBombPath)
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("without GzipBomb: status %d", resp.StatusCode)
	}

	cfg := testConfig(50)
	cfg.GzipBomb = true
	s := startSim(t, cfg)
	c := testClient(t, s.Addr(), 30*time.Second) // DisableCompression: the raw stream
	d := s.Domain(firstRank(t, s, homeIs(HomeOK)))
	u := "http://" + d + GzipBombPath
	start := time.Now()
	resp, wire := mustGet(t, c, u)
	if got := s.Requests(d, GzipBombPath); got != 1 {
		t.Errorf("Requests = %d", got)
	}
	if resp.StatusCode != 200 || resp.Header.Get("Content-Encoding") != "gzip" ||
		resp.Header.Get("Content-Length") != strconv.Itoa(len(wire)) || len(wire) > 2<<20 {
		t.Fatalf("status %d, headers %v, %d bytes on the wire", resp.StatusCode, resp.Header, len(wire))
	}
	zr, err := gzip.NewReader(bytes.NewReader(wire))
	if err != nil {
		t.Fatal(err)
	}
	if testing.Short() { // the whole GiB takes seconds with -race
		head := make([]byte, 8<<20)
		if _, err := io.ReadFull(zr, head); err != nil || !bytes.HasPrefix(head, []byte(gzipBombHead)) {
			t.Errorf("first 8 MiB: %v, %q", err, head[:80])
		}
		return
	}
	n, err := io.Copy(io.Discard, zr)
	if err != nil || n != GzipBombSize {
		t.Errorf("decompressed %d bytes, %v; want %d", n, err, GzipBombSize)
	}
	t.Logf("%d bytes on the wire, decompressed to %d, in %v", len(wire), n, time.Since(start))

}
