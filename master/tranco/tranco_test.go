package tranco_test

import (
	"archive/zip"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/crawlmaster/crawlmaster/master/tranco"
)

func TestParseLine(t *testing.T) {
	t.Parallel()
	long63 := strings.Repeat("a", 63)
	long64 := strings.Repeat("a", 64)
	// 4 labels of 63 + 3 dots = 255 > 253; trimmed to 3·63+... to fit exactly 253.
	domain253 := strings.Join([]string{long63, long63, long63, strings.Repeat("b", 61)}, ".")
	domain254 := domain253 + "c"
	if len(domain253) != 253 || len(domain254) != 254 {
		t.Fatalf("test setup: lengths %d %d", len(domain253), len(domain254))
	}
	tests := []struct {
		in       string
		rank     int
		domain   string
		errMatch string // substring of the error; "" means valid
	}{
		{"1,google.com", 1, "google.com", ""},
		{"42,Example.COM", 42, "example.com", ""},
		{"7,example.com.", 7, "example.com", ""},
		{" 3 , example.org ", 3, "example.org", ""},
		{"\t5,\texample.net\t", 5, "example.net", ""},
		{"007,example.com", 7, "example.com", ""},
		{"1000000,zz.co.uk", 1000000, "zz.co.uk", ""},
		{"1,xn--bcher-kva.example", 1, "xn--bcher-kva.example", ""},
		{"1,bücher.example", 1, "bücher.example", ""},
		{"1,BÜCHER.Example", 1, "bücher.example", ""},
		{"1,例え.テスト", 1, "例え.テスト", ""},
		{"1,_dmarc.example.com", 1, "_dmarc.example.com", ""},
		{"1,a-b.c-d.com", 1, "a-b.c-d.com", ""},
		{"1,1.2.3.4", 1, "1.2.3.4", ""},
		{"1," + long63 + ".com", 1, long63 + ".com", ""},
		{"1," + domain253, 1, domain253, ""},
		{"1," + strings.ToUpper(domain253) + ".", 1, domain253, ""},

		{"", 0, "", "rank,domain"},
		{"google.com", 0, "", "rank,domain"},
		{"1 google.com", 0, "", "rank,domain"},
		{"0,google.com", 0, "", "positive integer"},
		{"-1,google.com", 0, "", "positive integer"},
		{"x,google.com", 0, "", "positive integer"},
		{"1.5,google.com", 0, "", "positive integer"},
		{",google.com", 0, "", "positive integer"},
		{"99999999999999999999999,google.com", 0, "", "positive integer"},
		{"1,", 0, "", "empty domain"},
		{"1,  ", 0, "", "empty domain"},
		{"1,.", 0, "", "empty domain"},
		{"1,localhost", 0, "", "no dot"},
		{"1,com.", 0, "", "no dot"},
		{"1,example..com", 0, "", "empty or over-long label"},
		{"1,.example.com", 0, "", "empty or over-long label"},
		{"1,example.com..", 0, "", "empty or over-long label"},
		{"1," + long64 + ".com", 0, "", "empty or over-long label"},
		{"1," + domain254, 0, "", "longer than 253"},
		{"1,-example.com", 0, "", "starting or ending with '-'"},
		{"1,example-.com", 0, "", "starting or ending with '-'"},
		{"1,example.-com", 0, "", "starting or ending with '-'"},
		{"1,exa mple.com", 0, "", "contains"},
		{"1,exa/mple.com", 0, "", "contains"},
		{"1,example.com/path", 0, "", "contains"},
		{"1,http://example.com", 0, "", "contains"},
		{"1,user@example.com", 0, "", "contains"},
		{"1,example.com:80", 0, "", "contains"},
		{"1,example.com,extra", 0, "", "contains"},
		{"1,exa\x00mple.com", 0, "", "contains"},
		{"1,*.example.com", 0, "", "contains"},
	}
	for _, tc := range tests {
		rank, domain, err := tranco.ParseLine(tc.in)
		if tc.errMatch == "" {
			if err != nil || rank != tc.rank || domain != tc.domain {
				t.Errorf("ParseLine(%q) = %d, %q, %v; want %d, %q, nil", tc.in, rank, domain, err, tc.rank, tc.domain)
			}
			continue
		}
		if err == nil {
			t.Errorf("ParseLine(%q) = %d, %q, nil; want error containing %q", tc.in, rank, domain, tc.errMatch)
			continue
		}
		if !strings.Contains(err.Error(), tc.errMatch) {
			t.Errorf("ParseLine(%q) error %q, want it to contain %q", tc.in, err, tc.errMatch)
		}
		if rank != 0 || domain != "" {
			t.Errorf("ParseLine(%q) failed but returned %d, %q", tc.in, rank, domain)
		}
	}
}

func TestValidDomainIdempotent(t *testing.T) {
	t.Parallel()
	for _, d := range []string{"Example.COM.", "bücher.Example", "A_B.c-d.E"} {
		v, err := tranco.ValidDomain(d)
		if err != nil {
			t.Fatalf("ValidDomain(%q): %v", d, err)
		}
		v2, err := tranco.ValidDomain(v)
		if err != nil || v2 != v {
			t.Errorf("ValidDomain(%q) = %q, %v; want %q unchanged", v, v2, err, v)
		}
	}
}

// readAll drains r and returns its entries.
func readAll(t *testing.T, r *tranco.Reader) []tranco.Entry {
	t.Helper()
	var out []tranco.Entry
	for {
		e, ok := r.Next()
		if !ok {
			break
		}
		out = append(out, e)
	}
	if err := r.Err(); err != nil {
		t.Fatalf("Err() = %v", err)
	}
	// Next after the end keeps returning false.
	if e, ok := r.Next(); ok {
		t.Fatalf("Next after end returned %+v", e)
	}
	return out
}

func TestReader(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		want    []tranco.Entry
		lines   int
		bad     int
		badAt   []int // line numbers of FirstBad
		badText []string
	}{
		{
			name:  "empty",
			in:    "",
			lines: 0,
		},
		{
			name:  "LF",
			in:    "1,a.com\n2,b.com\n",
			want:  []tranco.Entry{{1, "a.com", 1}, {2, "b.com", 2}},
			lines: 2,
		},
		{
			name:  "CRLF",
			in:    "1,a.com\r\n2,B.com\r\n",
			want:  []tranco.Entry{{1, "a.com", 1}, {2, "b.com", 2}},
			lines: 2,
		},
		{
			name:  "mixed line ends, last line without newline",
			in:    "1,a.com\r\n2,b.com\n3,c.com",
			want:  []tranco.Entry{{1, "a.com", 1}, {2, "b.com", 2}, {3, "c.com", 3}},
			lines: 3,
		},
		{
			name:  "last line without newline, CR only",
			in:    "1,a.com\r\n2,b.com\r",
			want:  []tranco.Entry{{1, "a.com", 1}, {2, "b.com", 2}},
			lines: 2,
		},
		{
			name:  "BOM on first line",
			in:    "\xef\xbb\xbf1,a.com\r\n2,b.com\r\n",
			want:  []tranco.Entry{{1, "a.com", 1}, {2, "b.com", 2}},
			lines: 2,
		},
		{
			name:    "BOM only stripped on the first line",
			in:      "1,a.com\n\xef\xbb\xbf2,b.com\n",
			want:    []tranco.Entry{{1, "a.com", 1}},
			lines:   2,
			bad:     1,
			badAt:   []int{2},
			badText: []string{"\xef\xbb\xbf2,b.com"},
		},
		{
			name:  "BOM then blank first line",
			in:    "\xef\xbb\xbf\r\n1,a.com\r\n",
			want:  []tranco.Entry{{1, "a.com", 2}},
			lines: 2,
		},
		{
			name:  "blank and whitespace lines keep numbering",
			in:    "\n\r\n   \n\t\r\n1,a.com\n\n2,b.com\n\n",
			want:  []tranco.Entry{{1, "a.com", 5}, {2, "b.com", 7}},
			lines: 8,
		},
		{
			name:  "surrounding whitespace",
			in:    "  1,a.com  \r\n\t2 , b.com\t\n",
			want:  []tranco.Entry{{1, "a.com", 1}, {2, "b.com", 2}},
			lines: 2,
		},
		{
			name:    "bad lines skipped and reported",
			in:      "1,a.com\n0,zero.com\nfoo\n-3,neg.com\nx,nan.com\n4,\n5,nodot\n6,-bad.com\n7,b.com\n",
			want:    []tranco.Entry{{1, "a.com", 1}, {7, "b.com", 9}},
			lines:   9,
			bad:     7,
			badAt:   []int{2, 3, 4, 5, 6, 7, 8},
			badText: []string{"0,zero.com", "foo", "-3,neg.com", "x,nan.com", "4,", "5,nodot", "6,-bad.com"},
		},
		{
			name:  "uppercase and trailing dot normalised",
			in:    "1,WWW.Example.COM.\n",
			want:  []tranco.Entry{{1, "www.example.com", 1}},
			lines: 1,
		},
		{
			name:  "IDN",
			in:    "1,bücher.de\n2,пример.рф\n",
			want:  []tranco.Entry{{1, "bücher.de", 1}, {2, "пример.рф", 2}},
			lines: 2,
		},
		{
			name:  "duplicate ranks and domains are passed through",
			in:    "1,a.com\n1,a.com\n",
			want:  []tranco.Entry{{1, "a.com", 1}, {1, "a.com", 2}},
			lines: 2,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := tranco.NewReader(strings.NewReader(tc.in))
			got := readAll(t, r)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("entries = %+v, want %+v", got, tc.want)
			}
			if r.Lines() != tc.lines {
				t.Errorf("Lines() = %d, want %d", r.Lines(), tc.lines)
			}
			if r.Bad() != tc.bad {
				t.Errorf("Bad() = %d, want %d (%v)", r.Bad(), tc.bad, r.FirstBad())
			}
			var at []int
			var text []string
			for _, b := range r.FirstBad() {
				at = append(at, b.Line)
				text = append(text, b.Text)
				if b.Reason == "" {
					t.Errorf("bad line %d has no reason", b.Line)
				}
				if !strings.Contains(b.String(), b.Reason) || !strings.HasPrefix(b.String(), "line ") {
					t.Errorf("BadLine.String() = %q", b.String())
				}
			}
			if !reflect.DeepEqual(at, tc.badAt) {
				t.Errorf("FirstBad lines = %v, want %v", at, tc.badAt)
			}
			if !reflect.DeepEqual(text, tc.badText) {
				t.Errorf("FirstBad texts = %q, want %q", text, tc.badText)
			}
		})
	}
}

func TestReaderFirstBadKeepsTen(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	// Lines 1..30: every odd line is bad, every even line valid.
	for i := 1; i <= 30; i++ {
		if i%2 == 1 {
			b.WriteString("bad line " + itoa(i) + "\r\n")
		} else {
			b.WriteString(itoa(i) + ",d" + itoa(i) + ".com\r\n")
		}
	}
	r := tranco.NewReader(strings.NewReader(b.String()))
	got := readAll(t, r)
	if len(got) != 15 {
		t.Fatalf("got %d entries, want 15", len(got))
	}
	for _, e := range got {
		if e.Rank != e.Line || e.Domain != "d"+itoa(e.Line)+".com" {
			t.Errorf("entry %+v: rank/domain do not match its line", e)
		}
	}
	if r.Bad() != 15 {
		t.Errorf("Bad() = %d, want 15", r.Bad())
	}
	fb := r.FirstBad()
	if len(fb) != tranco.MaxReportedBadLines || tranco.MaxReportedBadLines != 10 {
		t.Fatalf("len(FirstBad()) = %d, want %d (= 10)", len(fb), tranco.MaxReportedBadLines)
	}
	for i, bl := range fb {
		line := 2*i + 1
		if bl.Line != line || bl.Text != "bad line "+itoa(line) {
			t.Errorf("FirstBad[%d] = %+v, want line %d", i, bl, line)
		}
	}
	if r.Lines() != 30 {
		t.Errorf("Lines() = %d, want 30", r.Lines())
	}
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b []byte
	for ; i > 0; i /= 10 {
		b = append([]byte{byte('0' + i%10)}, b...)
	}
	return string(b)
}

func TestReaderBadTextCut(t *testing.T) {
	t.Parallel()
	long := "1," + strings.Repeat("x", 500) // over-long label, 502 bytes
	r := tranco.NewReader(strings.NewReader(long + "\n2,b.com\n"))
	got := readAll(t, r)
	if len(got) != 1 || got[0] != (tranco.Entry{Rank: 2, Domain: "b.com", Line: 2}) {
		t.Fatalf("entries = %+v", got)
	}
	fb := r.FirstBad()
	if len(fb) != 1 || fb[0].Line != 1 || fb[0].Text != long[:120] {
		t.Fatalf("FirstBad = %+v, want line 1 cut to 120 bytes", fb)
	}
}

// repeatReader yields n bytes: a prefix, then fill bytes, then a suffix,
// without holding them in memory.
type repeatReader struct {
	prefix, suffix string
	fill           byte
	n              int64 // fill bytes left
	stage          int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	switch r.stage {
	case 0:
		n := copy(p, r.prefix)
		r.prefix = r.prefix[n:]
		if r.prefix == "" {
			r.stage = 1
		}
		return n, nil
	case 1:
		k := int64(len(p))
		if k > r.n {
			k = r.n
		}
		for i := int64(0); i < k; i++ {
			p[i] = r.fill
		}
		r.n -= k
		if r.n == 0 {
			r.stage = 2
		}
		return int(k), nil
	case 2:
		n := copy(p, r.suffix)
		r.suffix = r.suffix[n:]
		if r.suffix == "" {
			r.stage = 3
		}
		return n, nil
	}
	return 0, io.EOF
}

// Not parallel: it measures the process's allocations.
func TestReaderOverlongLine(t *testing.T) {
	tests := []struct {
		name string
		size int64
	}{
		{"just over 64KiB", 64<<10 + 1},
		{"1 MiB", 1 << 20},
		{"64 MiB", 64 << 20},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := &repeatReader{
				prefix: "1,a.com\n5,",
				fill:   'x',
				n:      tc.size,
				suffix: ".com\r\n3,c.com\n",
			}
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			r := tranco.NewReader(src)
			got := readAll(t, r)
			runtime.ReadMemStats(&after)
			want := []tranco.Entry{{1, "a.com", 1}, {3, "c.com", 3}}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("entries = %+v, want %+v", got, want)
			}
			if r.Lines() != 3 || r.Bad() != 1 {
				t.Errorf("Lines, Bad = %d, %d; want 3, 1", r.Lines(), r.Bad())
			}
			fb := r.FirstBad()
			if len(fb) != 1 || fb[0].Line != 2 || len(fb[0].Text) > 120 || !strings.HasPrefix(fb[0].Text, "5,xxx") {
				t.Errorf("FirstBad = %+v", fb)
			}
			// Memory must not depend on the line's length: the reader's own
			// 64 KiB buffer plus a little, never the line.
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 1<<20 {
				t.Errorf("reading a %d-byte line allocated %d bytes", tc.size, alloc)
			}
		})
	}
}

func TestReaderOverlongLastLineWithoutNewline(t *testing.T) {
	t.Parallel()
	src := &repeatReader{prefix: "1,a.com\r\n2,", fill: 'y', n: 200 << 10}
	r := tranco.NewReader(src)
	got := readAll(t, r)
	if want := []tranco.Entry{{1, "a.com", 1}}; !reflect.DeepEqual(got, want) {
		t.Fatalf("entries = %+v, want %+v", got, want)
	}
	if r.Lines() != 2 || r.Bad() != 1 || len(r.FirstBad()) != 1 || r.FirstBad()[0].Line != 2 {
		t.Errorf("Lines %d Bad %d FirstBad %+v; want 2, 1, line 2", r.Lines(), r.Bad(), r.FirstBad())
	}
}

func TestReaderLongButNotOverlongLine(t *testing.T) {
	t.Parallel()
	// A line just under the 64 KiB buffer is read whole (not cut) and
	// reported with its text cut to 120 bytes.
	line := "9," + strings.Repeat("z", 64<<10-10)
	r := tranco.NewReader(strings.NewReader(line + "\n1,a.com\n"))
	got := readAll(t, r)
	if want := []tranco.Entry{{1, "a.com", 2}}; !reflect.DeepEqual(got, want) {
		t.Fatalf("entries = %+v, want %+v", got, want)
	}
	if r.Bad() != 1 || r.FirstBad()[0].Text != line[:120] {
		t.Errorf("Bad %d FirstBad %+v", r.Bad(), r.FirstBad())
	}
}

type errReader struct {
	data string
	err  error
}

func (r *errReader) Read(p []byte) (int, error) {
	if r.data == "" {
		return 0, r.err
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

func TestReaderReadError(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	r := tranco.NewReader(&errReader{data: "1,a.com\n2,b.com\n3,c.co", err: boom})
	var got []tranco.Entry
	for {
		e, ok := r.Next()
		if !ok {
			break
		}
		got = append(got, e)
	}
	if !errors.Is(r.Err(), boom) {
		t.Fatalf("Err() = %v, want %v", r.Err(), boom)
	}
	// The two complete lines are delivered; the partial line before the
	// error may be, but nothing after the error is.
	if len(got) < 2 || got[0].Domain != "a.com" || got[1].Domain != "b.com" || len(got) > 3 {
		t.Fatalf("entries = %+v", got)
	}
	if _, ok := r.Next(); ok {
		t.Fatal("Next after a read error returned an entry")
	}
}

// ---- Open ----

func writeFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

type zipEntry struct {
	name, body string
}

func writeZip(t *testing.T, name string, entries ...zipEntry) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(f)
	for _, e := range entries {
		w, err := zw.Create(e.name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(w, e.body); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return p
}

func openAll(t *testing.T, name string) string {
	t.Helper()
	rc, err := tranco.Open(name)
	if err != nil {
		t.Fatalf("Open(%s): %v", name, err)
	}
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read %s: %v", name, err)
	}
	if err := rc.Close(); err != nil {
		t.Fatalf("close %s: %v", name, err)
	}
	return string(b)
}

const list = "1,google.com\r\n2,facebook.com\r\n3,amazonaws.com\r\n"

func TestOpenPlainCSV(t *testing.T) {
	t.Parallel()
	for _, data := range []string{list, "", "1", "PK", "PK\x03"} {
		p := writeFile(t, "top-1m.csv", []byte(data))
		if got := openAll(t, p); got != data {
			t.Errorf("Open(plain %q) read %q", data, got)
		}
	}
}

func TestOpenZip(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		entries []zipEntry
	}{
		{"only top-1m.csv", []zipEntry{{"top-1m.csv", list}}},
		{"top-1m.csv among other csvs", []zipEntry{{"a.csv", "1,wrong.com\n"}, {"top-1m.csv", list}, {"z.csv", "1,wrong.com\n"}}},
		{"top-1m.csv in a folder", []zipEntry{{"README.txt", "hi"}, {"tranco/top-1m.csv", list}, {"other.csv", "x"}}},
		{"the only csv, another name", []zipEntry{{"README.md", "readme"}, {"tranco_ABCD.csv", list}}},
		{"the only csv, upper-case extension", []zipEntry{{"LIST.CSV", list}, {"notes.txt", "n"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := writeZip(t, "tranco.zip", tc.entries...)
			if got := openAll(t, p); got != list {
				t.Errorf("read %q, want %q", got, list)
			}
		})
	}
}

func TestOpenZipReadsThroughReader(t *testing.T) {
	t.Parallel()
	p := writeZip(t, "tranco-XYZ.zip", zipEntry{"top-1m.csv", "\xef\xbb\xbf" + list})
	rc, err := tranco.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	r := tranco.NewReader(rc)
	got := readAll(t, r)
	want := []tranco.Entry{{1, "google.com", 1}, {2, "facebook.com", 2}, {3, "amazonaws.com", 3}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("entries = %+v, want %+v", got, want)
	}
}

func TestOpenZipErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		entries []zipEntry
		want    []string // substrings of the error
	}{
		{"no csv", []zipEntry{{"README.txt", "x"}, {"data.json", "{}"}}, []string{"no top-1m.csv"}},
		{"empty zip", nil, []string{"no top-1m.csv"}},
		{"two csvs, none top-1m", []zipEntry{{"a.csv", list}, {"b.csv", list}}, []string{"no top-1m.csv", "a.csv", "b.csv"}},
		{"near-miss names", []zipEntry{{"top-1m.csv.bak", list}, {"top-1m.csvx", list}}, []string{"no top-1m.csv"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// An empty zip has no local file header, so it starts with the
			// end-of-central-directory signature and is read as plain text.
			if tc.entries == nil {
				p := writeZip(t, "empty.zip")
				if _, err := tranco.Open(p); err != nil {
					t.Fatalf("Open(empty zip) = %v; want it opened as (junk) plain text", err)
				}
				return
			}
			p := writeZip(t, "list.zip", tc.entries...)
			rc, err := tranco.Open(p)
			if err == nil {
				rc.Close()
				t.Fatalf("Open succeeded, want an error")
			}
			msg := err.Error()
			if !strings.Contains(msg, p) {
				t.Errorf("error %q does not name the file %s", msg, p)
			}
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not contain %q", msg, w)
				}
			}
		})
	}
}

func TestOpenErrors(t *testing.T) {
	t.Parallel()
	missing := filepath.Join(t.TempDir(), "nope.csv")
	if _, err := tranco.Open(missing); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Open(missing) = %v, want ErrNotExist", err)
	}
	// Zip magic but a corrupt body.
	p := writeFile(t, "broken.zip", []byte("PK\x03\x04 this is not really a zip file"))
	rc, err := tranco.Open(p)
	if err == nil {
		rc.Close()
		t.Fatal("Open(corrupt zip) succeeded")
	}
	if !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), "zip") {
		t.Errorf("Open(corrupt zip) error %q should name the file and say zip", err)
	}
}

// Regression: an over-long line is bad even when its first bytes would
// parse as a valid entry.
func TestOverlongLineWithValidPrefixIsBad(t *testing.T) {
	for _, long := range []string{"5," + strings.Repeat("ab.", 30000) + "com", "7,example.com" + strings.Repeat(" ", 70000) + "junk"} {
		r := tranco.NewReader(strings.NewReader("1,a.com\n" + long + "\n3,c.com\n"))
		var got []tranco.Entry
		for {
			e, ok := r.Next()
			if !ok {
				break
			}
			got = append(got, e)
		}
		if len(got) != 2 || r.Bad() != 1 || r.FirstBad()[0].Line != 2 || r.Lines() != 3 {
			t.Fatalf("entries %v, Bad() %d, FirstBad %v, Lines %d; want 2 entries, line 2 bad, 3 lines", got, r.Bad(), r.FirstBad(), r.Lines())
		}
	}
}

func TestInvalidUTF8DomainIsBad(t *testing.T) {
	if _, err := tranco.ValidDomain("\xff.com"); err == nil {
		t.Fatal("ValidDomain accepted invalid UTF-8")
	}
}
