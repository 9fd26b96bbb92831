package sitemap

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"slices"
	"strings"
	"testing"
)

func collect(t *testing.T, data []byte, lim Limits) ([]string, Stats, error) {
	t.Helper()
	var got []string
	st, err := Parse(bytes.NewReader(data), lim, func(k Kind, loc string) bool {
		got = append(got, k.String()+" "+loc)
		return true
	})
	return got, st, err
}

func gz(t testing.TB, s string) []byte {
	t.Helper()
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	if _, err := w.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

const urlset = `<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"
        xmlns:image="http://www.google.com/schemas/sitemap-image/1.1">
  <url>
    <loc>
      http://a.test/one?x=1&amp;y=2
    </loc>
    <lastmod>2024-01-01</lastmod>
    <image:image><image:loc>http://a.test/img.png</image:loc></image:image>
  </url>
  <url><loc><![CDATA[http://a.test/two]]></loc><loc>http://a.test/second-loc-ignored</loc></url>
  <url><priority>0.5</priority></url>
  <url><loc>   </loc></url>
  <sitemap><loc>http://a.test/wrong-element</loc></sitemap>
  <url><loc>http://a.test/caf&#233;</loc></url>
</urlset>
<urlset><url><loc>http://a.test/after-root</loc></url></urlset>`

func TestParseURLSet(t *testing.T) {
	want := []string{"urlset http://a.test/one?x=1&y=2", "urlset http://a.test/two", "urlset http://a.test/café"}
	for _, c := range []struct {
		name string
		data []byte
		gzip bool
	}{
		{"plain", []byte(urlset), false},
		{"gzip", gz(t, urlset), true},
		{"bom", append([]byte("\xef\xbb\xbf"), urlset...), false},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, st, err := collect(t, c.data, Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, want) {
				t.Errorf("got %q\nwant %q", got, want)
			}
			if st.Kind != URLSet || st.Entries != 3 || st.Gzip != c.gzip || st.Truncated || st.Bytes == 0 {
				t.Errorf("stats %+v", st)
			}
		})
	}
}

func TestParseIndex(t *testing.T) {
	idx := `<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
<sitemap><loc>http://a.test/s1.xml.gz</loc><lastmod>x</lastmod></sitemap>
<url><loc>http://a.test/not-a-sitemap</loc></url>
<sitemap><loc>http://a.test/s2.xml</loc></sitemap></sitemapindex>`
	got, st, err := collect(t, []byte(idx), Limits{})
	if err != nil || st.Kind != Index || !slices.Equal(got, []string{"sitemapindex http://a.test/s1.xml.gz", "sitemapindex http://a.test/s2.xml"}) {
		t.Fatalf("got %q %+v %v", got, st, err)
	}
}

func TestParsePrefixedAndLatin1(t *testing.T) {
	doc := "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><sm:urlset xmlns:sm=\"http://www.sitemaps.org/schemas/sitemap/0.9\">" +
		"<sm:url><sm:loc>http://a.test/caf\xe9</sm:loc></sm:url></sm:urlset>"
	got, _, err := collect(t, []byte(doc), Limits{})
	if err != nil || !slices.Equal(got, []string{"urlset http://a.test/café"}) {
		t.Fatalf("got %q %v", got, err)
	}
}

func TestParseCaps(t *testing.T) {
	var b strings.Builder
	b.WriteString("<urlset>")
	for i := range 10 {
		fmt.Fprintf(&b, "<url><loc>http://a.test/%d</loc></url>", i)
	}
	b.WriteString("</urlset>")
	doc := b.String()

	got, st, err := collect(t, []byte(doc), Limits{MaxEntries: 4})
	if err != nil || len(got) != 4 || !st.Truncated || st.Entries != 4 {
		t.Errorf("entry cap: %d entries, %+v, %v", len(got), st, err)
	}
	// A byte cap in the middle of the document: what came before counts,
	// the cut is not an error.
	got, st, err = collect(t, gz(t, doc), Limits{MaxBytes: 100})
	if err != nil || len(got) == 0 || len(got) >= 10 || !st.Truncated || st.Bytes != 100 {
		t.Errorf("byte cap: %d entries, %+v, %v", len(got), st, err)
	}
	// Exactly the cap: not truncated.
	_, st, err = collect(t, []byte(doc), Limits{MaxBytes: int64(len(doc))})
	if err != nil || st.Truncated || st.Entries != 10 {
		t.Errorf("exact byte cap: %+v, %v", st, err)
	}
	long := "<urlset><url><loc>http://a.test/" + strings.Repeat("x", 100) + "</loc></url><url><loc>http://a.test/ok</loc></url></urlset>"
	got, st, err = collect(t, []byte(long), Limits{MaxLocBytes: 50})
	if err != nil || !slices.Equal(got, []string{"urlset http://a.test/ok"}) || st.TooLong != 1 {
		t.Errorf("loc cap: %q %+v %v", got, st, err)
	}
	// The callback stops parsing.
	n := 0
	st, _ = Parse(strings.NewReader(doc), Limits{}, func(Kind, string) bool { n++; return n < 2 })
	if n != 2 || st.Truncated {
		t.Errorf("stop: %d calls, %+v", n, st)
	}
}

// A gzip bomb: 16 MB of zeros compress to ~16 KB; only MaxBytes are
// ever inflated.
func TestParseGzipBomb(t *testing.T) {
	var b bytes.Buffer
	w, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
	w.Write([]byte("<urlset><url><loc>http://a.test/x</loc></url><!--"))
	zeros := make([]byte, 1<<20)
	for range 16 {
		w.Write(zeros)
	}
	w.Close()
	got, st, err := collect(t, b.Bytes(), Limits{MaxBytes: 2 << 20})
	if len(got) != 1 || !st.Truncated || st.Bytes != 2<<20 {
		t.Fatalf("got %q %+v %v", got, st, err)
	}
}

func TestParseMalformed(t *testing.T) {
	cases := map[string]struct {
		doc     string
		entries int
		err     bool
	}{
		"html page":      {"<!DOCTYPE html><html><body><a href=/x>x</a></body></html>", 0, false},
		"text sitemap":   {"http://a.test/1\nhttp://a.test/2\n", 0, false},
		"empty":          {"", 0, false},
		"cut off":        {"<urlset><url><loc>http://a.test/1</loc></url><url><loc>http://a.te", 1, false}, // non-strict: EOF ends it
		"bad gzip":       {"\x1f\x8b\x08\x00garbage", 0, true},
		"unknown entity": {"<urlset><url><loc>http://a.test/&nbsp;&bogus;</loc></url></urlset>", 1, false},
		"unclosed url":   {"<urlset><url><loc>http://a.test/1</loc><url><loc>http://a.test/2</loc></urlset>", 1, false},
		"stray end tags": {"</x></y><urlset><url><loc>http://a.test/1</loc></url></urlset>", 1, false},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			got, _, err := collect(t, []byte(c.doc), Limits{})
			if len(got) != c.entries || (err != nil) != c.err {
				t.Errorf("got %q, err %v; want %d entries, error %v", got, err, c.entries, c.err)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(urlset), false)
	f.Add([]byte("<sitemapindex><sitemap><loc>http://a/s</loc></sitemap></sitemapindex>"), true)
	f.Add([]byte("<?xml version='1.0' encoding='shift_jis'?><urlset><url><loc>x</loc></url></urlset>"), false)
	f.Add([]byte("<urlset><url><loc><![CDATA[a]]>&amp;&#0;&#xFFFFFFFF;</loc></url>"), true)
	f.Fuzz(func(t *testing.T, data []byte, compress bool) {
		if compress {
			data = gz(t, string(data))
		}
		lim := Limits{MaxEntries: 3, MaxBytes: 512, MaxLocBytes: 40}
		n := 0
		st, _ := Parse(bytes.NewReader(data), lim, func(k Kind, loc string) bool {
			n++
			if k != URLSet && k != Index {
				t.Fatalf("entry of kind %v", k)
			}
			if len(loc) == 0 || len(loc) > lim.MaxLocBytes || strings.TrimSpace(loc) != loc {
				t.Fatalf("loc %q breaks the loc rules", loc)
			}
			return true
		})
		if n != st.Entries || n > lim.MaxEntries || st.Bytes > lim.MaxBytes || st.Bytes < 0 {
			t.Fatalf("%d calls, stats %+v", n, st)
		}
	})
}
