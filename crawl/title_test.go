package crawl_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/crawlmaster/crawlmaster/crawl"
	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/encoding/unicode"
)

func TestExtractTitle(t *testing.T) {
	utf16, _ := unicode.UTF16(unicode.LittleEndian, unicode.UseBOM).NewEncoder().String("<html><title>Ünïcode 16</title>")
	sjis, _ := japanese.ShiftJIS.NewEncoder().String("日本語のタイトル")
	longHead := "<html><head><script>" + strings.Repeat("var x = 1;\n", 200) + "</script><title>Grüße</title>"
	cases := []struct {
		name, ct, body, want string
	}{
		{"simple", "text/html", "<title>Hello</title>", "Hello"},
		{"whitespace", "", "<title>\n  a \t\r\n b  </title>", "a b"},
		{"entities", "", "<title>Tom &amp; Jerry &lt;3 &#x1F600; &eacute;</title>", "Tom & Jerry <3 😀 é"},
		{"first only", "", "<title>one</title><title>two</title>", "one"},
		{"attrs and case", "", `<TITLE lang="en">Upper</TITLE>`, "Upper"},
		{"unclosed", "", "<title>runs to the end", "runs to the end"},
		{"tags inside are text", "", "<title>a <b>b</b></title>", "a <b>b</b>"},
		{"script title ignored", "", `<script>document.write("<title>no</title>")</script><title>yes</title>`, "yes"},
		{"comment title ignored", "", "<!-- <title>no</title> --><title>yes</title>", "yes"},
		{"after body ignored", "", "<html><body><title>late</title>", ""},
		{"none", "", "<html><head></head><body>x</body></html>", ""},
		{"empty", "", "", ""},
		{"control chars and nul", "", "<title>a\x00b\x01c\x7f\u0085d</title>", "a b c d"},
		{"latin1 header", "text/html; charset=iso-8859-1", "<title>na\xefve</title>", "naïve"},
		{"windows-1252 meta", "", "<meta charset=\"windows-1252\"><title>\"smart\" \x93quotes\x94</title>", "\"smart\" \u201cquotes\u201d"},
		{"meta after 1024 bytes, utf-8 title", "", longHead, "Grüße"},
		{"shift_jis meta", "", `<meta charset="shift_jis"><title>` + sjis + `</title>`, "日本語のタイトル"},
		{"utf-16 bom", "", utf16, "Ünïcode 16"},
		{"invalid utf-8 declared", "text/html; charset=utf-8", "<title>bad\xff\xfebytes</title>", "bad\uFFFD\uFFFDbytes"},
		{"entity in latin1 page", "text/html; charset=iso-8859-1", "<title>&#233;t\xe9</title>", "été"},
		{"self-closing title", "", "<title/>x</title>", "x"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := crawl.ExtractTitle([]byte(c.body), c.ct); got != c.want {
				t.Errorf("ExtractTitle = %q, want %q", got, c.want)
			}
		})
	}
}

func TestExtractTitleCap(t *testing.T) {
	long := strings.Repeat("é", 400) // 800 bytes
	got := crawl.ExtractTitle([]byte("<title>"+long+"</title>"), "")
	if len(got) > crawl.TitleCap || len(got) < crawl.TitleCap-1 || !utf8.ValidString(got) {
		t.Errorf("len %d valid %v, want <= %d on a rune boundary", len(got), utf8.ValidString(got), crawl.TitleCap)
	}
	got = crawl.ExtractTitle([]byte("<title>"+strings.Repeat("a ", 5000)), "")
	if len(got) > crawl.TitleCap || !strings.HasPrefix(got, "a a a") {
		t.Errorf("unclosed huge title: len %d", len(got))
	}
}

func FuzzExtractTitle(f *testing.F) {
	f.Add([]byte("<title>Hello</title>"), "text/html")
	f.Add([]byte("<meta charset=euc-kr><title>\xc7\xd1</title>"), "")
	f.Add([]byte("\xff\xfe<\x00t\x00i\x00t\x00l\x00e\x00>\x00x\x00"), "")
	f.Add([]byte("<title>a&amp;&#0;&#xD800;b"), "text/html; charset=utf-16")
	f.Add([]byte("<title>\x1b$B$3\x1b(B</title>"), "text/html; charset=iso-2022-jp")
	f.Fuzz(func(t *testing.T, body []byte, ct string) {
		got := crawl.ExtractTitle(body, ct)
		if !utf8.ValidString(got) {
			t.Fatalf("invalid UTF-8 %q", got)
		}
		if len(got) > crawl.TitleCap {
			t.Fatalf("len %d > cap", len(got))
		}
		if strings.TrimSpace(got) != got || strings.Contains(got, "  ") || strings.ContainsRune(got, 0) {
			t.Fatalf("not collapsed/trimmed: %q", got)
		}
	})
}

func BenchmarkExtractTitle(b *testing.B) {
	page := []byte(`<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">` +
		`<meta name="viewport" content="width=device-width, initial-scale=1">` +
		`<link rel="stylesheet" href="/style.css"><script src="/app.js"></script>` +
		`<title>Benchmark page &ndash; Example Corp</title></head><body>` +
		strings.Repeat("<p>Lorem ipsum dolor sit amet, consectetur adipiscing elit.</p>\n", 500) +
		`</body></html>`)
	b.SetBytes(int64(len(page)))
	b.ReportAllocs()
	for b.Loop() {
		if crawl.ExtractTitle(page, "text/html; charset=utf-8") == "" {
			b.Fatal("no title")
		}
	}
}
