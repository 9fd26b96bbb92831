package tranco

import (
	"archive/zip"
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Entry is one valid line of a list.
type Entry struct {
	Rank   int
	Domain string // lowercase, no trailing dot
	Line   int
}

// BadLine is a skipped line and why.
type BadLine struct {
	Line   int
	Text   string // the line, cut to 120 bytes
	Reason string
}

func (b BadLine) String() string { return fmt.Sprintf("line %d: %s: %q", b.Line, b.Reason, b.Text) }

// MaxReportedBadLines is how many bad lines a Reader keeps for display;
// the rest are only counted.
const MaxReportedBadLines = 10

// maxLine bounds a line: a real line is under 300 bytes, so anything much
// longer is junk (a binary file, say) and must not grow the buffer.
const maxLine = 64 << 10

// Reader streams entries from a list.
type Reader struct {
	br       *bufio.Reader
	line     int
	bad      int
	firstBad []BadLine
	err      error
}

// NewReader reads a plain CSV list from r.
func NewReader(r io.Reader) *Reader {
	return &Reader{br: bufio.NewReaderSize(r, 64<<10)}
}

// Next returns the next valid entry, skipping blank and malformed lines.
// It returns false at the end of input or on a read error (see Err).
func (r *Reader) Next() (Entry, bool) {
	for r.err == nil {
		raw, cut, err := r.readLine()
		if errors.Is(err, io.EOF) {
			r.err = io.EOF
			return Entry{}, false
		}
		if err != nil {
			r.err = fmt.Errorf("read line %d: %w", r.line+1, err)
			return Entry{}, false
		}
		r.line++
		if r.line == 1 {
			raw = bytes.TrimPrefix(raw, []byte("\xef\xbb\xbf"))
		}
		s := strings.TrimSpace(string(raw))
		if s == "" && !cut {
			continue
		}
		rank, domain, perr := ParseLine(s)
		if cut {
			perr = fmt.Errorf("line longer than %d bytes", maxLine)
		}
		if perr != nil {
			r.bad++
			if len(r.firstBad) < MaxReportedBadLines {
				t := s
				if len(t) > 120 {
					t = t[:120]
				}
				r.firstBad = append(r.firstBad, BadLine{Line: r.line, Text: t, Reason: perr.Error()})
			}
			continue
		}
		return Entry{Rank: rank, Domain: domain, Line: r.line}, true
	}
	return Entry{}, false
}

// readLine returns one line without its terminator. An overlong line is
// returned as its first bytes (for the report) with cut set, and the rest of
// it is discarded.
func (r *Reader) readLine() (line []byte, cut bool, err error) {
	line, err = r.br.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		head := append([]byte(nil), line[:200]...)
		for errors.Is(err, bufio.ErrBufferFull) {
			_, err = r.br.ReadSlice('\n')
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, false, err
		}
		return head, true, nil
	}
	if len(line) > 0 && errors.Is(err, io.EOF) {
		// The last line has no terminator: count it like any other.
		err = nil
	}
	return bytes.TrimRight(line, "\r\n"), false, err
}

// Err returns the first read error, if any (not io.EOF).
func (r *Reader) Err() error {
	if errors.Is(r.err, io.EOF) {
		return nil
	}
	return r.err
}

// Lines is the number of lines read so far.
func (r *Reader) Lines() int { return r.line }

// Bad is the number of malformed lines skipped so far.
func (r *Reader) Bad() int { return r.bad }

// FirstBad returns up to MaxReportedBadLines skipped lines.
func (r *Reader) FirstBad() []BadLine { return r.firstBad }

// ParseLine parses one "rank,domain" line.
func ParseLine(s string) (rank int, domain string, err error) {
	rs, ds, ok := strings.Cut(s, ",")
	if !ok {
		return 0, "", errors.New(`want "rank,domain"`)
	}
	rank, err = strconv.Atoi(strings.TrimSpace(rs))
	if err != nil || rank < 1 {
		return 0, "", fmt.Errorf("rank %q is not a positive integer", rs)
	}
	domain, err = ValidDomain(strings.TrimSpace(ds))
	if err != nil {
		return 0, "", err
	}
	return rank, domain, nil
}

// ValidDomain checks a list entry's domain and returns it lowercased without
// a trailing dot. Non-ASCII (IDN) names are accepted as they are; the URL
// normaliser converts them to punycode.
func ValidDomain(d string) (string, error) {
	if !utf8.ValidString(d) {
		return "", errors.New("domain is not valid UTF-8")
	}
	d = strings.TrimSuffix(strings.ToLower(d), ".")
	if d == "" {
		return "", errors.New("empty domain")
	}
	if len(d) > 253 {
		return "", fmt.Errorf("domain longer than 253 bytes")
	}
	if !strings.Contains(d, ".") {
		return "", fmt.Errorf("domain %q has no dot", d)
	}
	for _, label := range strings.Split(d, ".") {
		if label == "" || len(label) > 63 {
			return "", fmt.Errorf("domain %q has an empty or over-long label", d)
		}
		if label[0] == '-' || label[len(label)-1] == '-' {
			return "", fmt.Errorf("domain %q has a label starting or ending with '-'", d)
		}
		for _, c := range label {
			switch {
			case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '_', c >= 0x80:
			default:
				return "", fmt.Errorf("domain %q contains %q", d, c)
			}
		}
	}
	return d, nil
}

// Open opens a list file: a Tranco .zip (the file "top-1m.csv" inside it,
// or its only .csv file) or a plain CSV. The caller closes the result.
func Open(name string) (io.ReadCloser, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	var magic [4]byte
	n, _ := io.ReadFull(f, magic[:])
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if n < 4 || string(magic[:]) != "PK\x03\x04" {
		return f, nil
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	zr, err := zip.NewReader(f, st.Size())
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: not a readable zip: %w", name, err)
	}
	var pick *zip.File
	var csvs []string
	for _, zf := range zr.File {
		if strings.HasSuffix(strings.ToLower(zf.Name), ".csv") {
			csvs = append(csvs, zf.Name)
			if path.Base(zf.Name) == "top-1m.csv" {
				pick = zf
			}
		}
	}
	if pick == nil && len(csvs) == 1 {
		for _, zf := range zr.File {
			if zf.Name == csvs[0] {
				pick = zf
			}
		}
	}
	if pick == nil {
		f.Close()
		return nil, fmt.Errorf("%s: zip holds no top-1m.csv (csv files: %v)", name, csvs)
	}
	rc, err := pick.Open()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: open %s: %w", name, pick.Name, err)
	}
	return &zipFile{ReadCloser: rc, f: f}, nil
}

type zipFile struct {
	io.ReadCloser
	f *os.File
}

func (z *zipFile) Close() error {
	err := z.ReadCloser.Close()
	if ferr := z.f.Close(); err == nil {
		err = ferr
	}
	return err
}
