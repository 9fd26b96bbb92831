package websim

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"hash/crc32"
	"net/http"
	"strconv"
	"sync"
)

// GzipBombPath is the gzip bomb's path on every served domain when
// [Config.GzipBomb] is set: a 200 text/html answer with Content-Encoding:
// gzip whose body, about 1 MiB on the wire, decompresses to
// GzipBombSize bytes (a short HTML head with the title "gzip bomb", then
// spaces). A crawler must cut it at its body cap whatever the ratio.
// Without GzipBomb the path answers 404 like any other unknown path;
// nothing links to it, so the ground truth is the same either way.
const GzipBombPath = "/gzip-bomb.html"

// GzipBombSize is the decompressed size of the gzip bomb: 1 GiB.
const GzipBombSize = 1 << 30

// gzipBombHead starts the decompressed bomb.
const gzipBombHead = "<!doctype html><html><head><title>gzip bomb</title></head><body><p>"

// gzipBomb is a gzip stream of a decompressed size that is built in
// constant time and memory: a deflate block of 1 MiB of spaces, emitted
// after a window of spaces and ended by a sync flush, decodes to 1 MiB of
// spaces after any window of spaces, so it is written as many times as
// needed. Only the CRC-32 of the trailer costs a pass over the size.
type gzipBomb struct {
	head, block, tail []byte // head includes the gzip header; tail the trailer
	repeat            int    // times block is written
}

// bombUnit is the decompressed size of one repeated block.
const bombUnit = 1 << 20

// newGzipBomb builds a bomb of size decompressed bytes (at least
// len(gzipBombHead) + 64 KiB).
func newGzipBomb(size int64) *gzipBomb {
	var buf bytes.Buffer
	// Header: magic, deflate, no flags, no mtime, max compression, OS unknown.
	buf.Write([]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 2, 255})
	fw, _ := flate.NewWriter(&buf, flate.BestCompression) // the level is valid
	spaces := bytes.Repeat([]byte{' '}, bombUnit)
	crc := crc32.ChecksumIEEE([]byte(gzipBombHead))
	fw.Write([]byte(gzipBombHead))
	fw.Write(spaces[:64<<10]) // the window is spaces from here on
	fw.Flush()
	crc = crc32.Update(crc, crc32.IEEETable, spaces[:64<<10])
	b := &gzipBomb{head: bytes.Clone(buf.Bytes())}
	buf.Reset()
	fw.Write(spaces)
	fw.Flush()
	b.block = bytes.Clone(buf.Bytes())
	buf.Reset()
	rest := size - int64(len(gzipBombHead)) - 64<<10
	b.repeat = int(rest / bombUnit)
	for range b.repeat {
		crc = crc32.Update(crc, crc32.IEEETable, spaces)
	}
	last := spaces[:rest%bombUnit]
	fw.Write(last)
	fw.Close()
	crc = crc32.Update(crc, crc32.IEEETable, last)
	buf.Write(binary.LittleEndian.AppendUint32(nil, crc))
	buf.Write(binary.LittleEndian.AppendUint32(nil, uint32(size))) // ISIZE is mod 2^32
	b.tail = bytes.Clone(buf.Bytes())
	return b
}

// wireSize is the length of the gzip stream.
func (b *gzipBomb) wireSize() int64 {
	return int64(len(b.head)) + int64(b.repeat)*int64(len(b.block)) + int64(len(b.tail))
}

// writeTo writes the stream, stopping at the first write error (the
// client went away: a crawler that stops at its cap closes the connection).
func (b *gzipBomb) writeTo(w http.ResponseWriter) {
	if _, err := w.Write(b.head); err != nil {
		return
	}
	for range b.repeat {
		if _, err := w.Write(b.block); err != nil {
			return
		}
	}
	_, _ = w.Write(b.tail)
}

var (
	bombOnce sync.Once
	bomb     *gzipBomb
)

// serveGzipBomb answers GzipBombPath (built once per process, on first use).
func (s *Sim) serveGzipBomb(w http.ResponseWriter) {
	bombOnce.Do(func() { bomb = newGzipBomb(GzipBombSize) })
	h := w.Header()
	h["Content-Type"] = ctHTML
	h["Content-Encoding"] = []string{"gzip"}
	h["Content-Length"] = []string{strconv.FormatInt(bomb.wireSize(), 10)}
	w.WriteHeader(http.StatusOK)
	bomb.writeTo(w)
}
