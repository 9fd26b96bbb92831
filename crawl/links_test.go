package crawl_test

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/encoding/unicode"

	"github.com/crawlmaster/crawlmaster/crawl"
)

func linkStrings(ls []crawl.Link) []string {
	out := make([]string, len(ls))
	for i, l := range ls {
		out[i] = l.Kind.String() + " " + l.URL
	}
	return out
}

func parse(body, ct string, max int) crawl.Page {
	return crawl.ParsePage([]byte(body), ct, crawl.PageOptions{URL: "http://a.test/dir/page.html?q=1", MaxLinks: max, ProductToken: "testbot"})
}

func TestParsePageLinks(t *testing.T) {
	sjisHref, _ := japanese.ShiftJIS.NewEncoder().String("日本")
	latin, _ := charmap.ISO8859_1.NewEncoder().String("café")
	utf16, _ := unicode.UTF16(unicode.LittleEndian, unicode.UseBOM).NewEncoder().String(`<title>T</title><a href="/ü">x</a>`)
	cases := []struct {
		name, ct, body string
		want           []string
	}{
		{"relative forms", "", `<a href="x">1</a><a href="/abs">2</a><a href="../up">3</a><a href="//b.test/p">4</a>` +
			`<a href="?q=2">5</a><a href="https://c.test">6</a><a href="./a/./b/../c">7</a>`,
			[]string{"anchor http://a.test/dir/x", "anchor http://a.test/abs", "anchor http://a.test/up", "anchor http://b.test/p",
				"anchor http://a.test/dir/page.html?q=2", "anchor https://c.test", "anchor http://a.test/dir/a/c"}},
		{"fragments dropped, self links kept", "", `<a href="#top">1</a><a href="/p#s">2</a><a href="">3</a>`,
			[]string{"anchor http://a.test/dir/page.html?q=1", "anchor http://a.test/p", "anchor http://a.test/dir/page.html?q=1"}},
		{"kinds", "", `<frameset><frame src="f1"></frameset><iframe src="/if"></iframe><map><area href="ar"></map><a href=a>`,
			[]string{"frame http://a.test/dir/f1", "frame http://a.test/if", "anchor http://a.test/dir/ar", "anchor http://a.test/dir/a"}},
		{"base", "", `<head><base href="http://b.test/base/"><base href="http://ignored.test/"></head><a href="x">1</a><a href="/y">2</a>`,
			[]string{"anchor http://b.test/base/x", "anchor http://b.test/y"}},
		{"relative base", "", `<base href="sub/"><a href="x">`, []string{"anchor http://a.test/dir/sub/x"}},
		{"bad base ignored", "", `<base href="javascript:void(0)"><a href="x">`, []string{"anchor http://a.test/dir/x"}},
		{"base without href then real base", "", `<base target="_top"><base href="/b/"><a href="x">`, []string{"anchor http://a.test/b/x"}},
		{"schemes", "", `<a href="javascript:go()">1</a><a href="mailto:x@a.test">2</a><a href="data:text/html,x">3</a>` +
			`<a href="ftp://a.test/">4</a><a href="HTTP://A.test/Up">5</a><a href="tel:123">6</a><a href="http://u:p@a.test/">7</a><a href="http:///x">8</a>`,
			[]string{"anchor http://A.test/Up"}},
		{"rel nofollow", "", `<a rel="nofollow" href="/no">1</a><a rel="ugc NoFollow" href="/no2">2</a><a rel="noopener" href="/yes">3</a><area rel=nofollow href=/no3>`,
			[]string{"anchor http://a.test/yes"}},
		{"entities", "", `<a href="/a?x=1&amp;y=2&lt">1</a><a href="/caf&eacute;">2</a><a href="&#47;slash">3</a>`,
			[]string{"anchor http://a.test/a?x=1&y=2%3C", "anchor http://a.test/caf%C3%A9", "anchor http://a.test/slash"}},
		{"whitespace and controls", "", "<a href=\"  \t/sp ace?a b=c d\n \">1</a><a href=\"/t\tab\nnl\">2</a><a href=\"\\back\\slash?q=\\\">3</a>",
			[]string{"anchor http://a.test/sp%20ace?a%20b=c%20d", "anchor http://a.test/tabnl", "anchor http://a.test/back/slash?q=%5C"}},
		{"broken html", "", `<a href=/one><p><a href='/two'<a href=/three>text</b></i><a href="/four`,
			[]string{"anchor http://a.test/one", "anchor http://a.test/two"}},
		{"no links in script, style, comments", "", `<script>var s = '<a href="/no1">';</script><style>a{}</style><!-- <a href="/no2"> --><textarea><a href=/no3></textarea><a href=/yes>`,
			[]string{"anchor http://a.test/yes"}},
		{"noscript read as markup", "", `<noscript><a href="/ns">x</a></noscript>`, []string{"anchor http://a.test/ns"}},
		{"utf-8 non-ascii", "text/html; charset=utf-8", `<a href="/ü?q=日本">`, []string{"anchor http://a.test/%C3%BC?q=%E6%97%A5%E6%9C%AC"}},
		{"utf-8 undeclared", "", `<a href="/ü">`, []string{"anchor http://a.test/%C3%BC"}},
		{"latin1 header", "text/html; charset=iso-8859-1", `<a href="/` + latin + `">`, []string{"anchor http://a.test/caf%C3%A9"}},
		{"shift_jis meta", "", `<meta charset="shift_jis"><a href="/` + sjisHref + `?q=` + sjisHref + `">`,
			[]string{"anchor http://a.test/%E6%97%A5%E6%9C%AC?q=%E6%97%A5%E6%9C%AC"}},
		{"utf-16", "", utf16, []string{"anchor http://a.test/%C3%BC"}},
		{"idn host", "", `<a href="http://bücher.test/x">`, []string{"anchor http://b%C3%BCcher.test/x"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := parse(c.body, c.ct, 100)
			if got := linkStrings(p.Links); !slices.Equal(got, c.want) {
				t.Errorf("links\n got %q\nwant %q", got, c.want)
			}
			for _, l := range p.Links {
				if _, err := url.Parse(l.URL); err != nil {
					t.Errorf("link %q does not parse: %v", l.URL, err)
				}
			}
			if p.NoIndex || p.NoFollow || p.LinksDropped != 0 {
				t.Errorf("page %+v", p)
			}
		})
	}
}

func TestParsePageCaps(t *testing.T) {
	var b strings.Builder
	for i := range 10 {
		fmt.Fprintf(&b, `<a href="/%d">%d</a><a href="javascript:x">j</a>`, i, i)
	}
	p := parse(b.String(), "", 4)
	if got := linkStrings(p.Links); !slices.Equal(got, []string{"anchor http://a.test/0", "anchor http://a.test/1", "anchor http://a.test/2", "anchor http://a.test/3"}) ||
		p.LinksDropped != 6 {
		t.Errorf("cap 4: %q, dropped %d", got, p.LinksDropped)
	}
	long := `<a href="/` + strings.Repeat("x", crawl.MaxLinkLength) + `">` + `<a href="/ok">`
	p = parse(long, "", 10)
	if len(p.Links) != 1 || p.LinksTooLong != 1 || p.LinksDropped != 0 {
		t.Errorf("too long: %d links, too long %d, dropped %d", len(p.Links), p.LinksTooLong, p.LinksDropped)
	}
	// The byte budget: 600 links of ~8 KB exceed MaxLinkBytes.
	b.Reset()
	path := strings.Repeat("y", 8000)
	for i := range 600 {
		fmt.Fprintf(&b, `<a href="/%s%d">`, path, i)
	}
	p = parse(b.String(), "", 1000)
	total := 0
	for _, l := range p.Links {
		total += len(l.URL)
	}
	if total > crawl.MaxLinkBytes || p.LinksDropped == 0 || len(p.Links)+p.LinksDropped != 600 {
		t.Errorf("byte budget: %d links (%d bytes), %d dropped", len(p.Links), total, p.LinksDropped)
	}
}

func TestParsePageMetaRobots(t *testing.T) {
	cases := []struct {
		name, body        string
		noindex, nofollow bool
		links             int
	}{
		{"none", `<meta name="robots" content="index, follow"><a href=/x>`, false, false, 1},
		{"noindex", `<meta name="robots" content="noindex"><a href=/x>`, true, false, 1},
		{"nofollow after links", `<a href=/x><a href=/y><meta name="ROBOTS" content="NoFollow">`, false, true, 0},
		{"none", `<meta name=robots content=none><a href=/x>`, true, true, 0},
		{"space separated", `<meta name="robots" content="noindex nofollow">`, true, true, 0},
		{"our token", `<meta name="TestBot" content="nofollow"><a href=/x>`, false, true, 0},
		{"other bot", `<meta name="googlebot" content="noindex,nofollow"><a href=/x>`, false, false, 1},
		{"no content", `<meta name="robots"><a href=/x>`, false, false, 1},
		{"max-snippet only", `<meta name="robots" content="max-snippet: 20, noarchive"><a href=/x>`, false, false, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := parse(c.body, "", 10)
			if p.NoIndex != c.noindex || p.NoFollow != c.nofollow || len(p.Links) != c.links {
				t.Errorf("noindex %v nofollow %v links %d; want %v %v %d", p.NoIndex, p.NoFollow, len(p.Links), c.noindex, c.nofollow, c.links)
			}
		})
	}
	// A nofollow already known from the header: no link, meta still read.
	p := crawl.ParsePage([]byte(`<meta name=robots content=noindex><a href=/x>`), "", crawl.PageOptions{URL: "http://a.test/", MaxLinks: 10, NoFollow: true})
	if len(p.Links) != 0 || !p.NoIndex || !p.NoFollow {
		t.Errorf("header nofollow: %+v", p)
	}
}

// With links wanted the title is the same as ExtractTitle's, and the
// links-off path is ExtractTitle itself.
func TestParsePageTitleMatchesExtractTitle(t *testing.T) {
	for _, body := range []string{
		"<title>Hello &amp; bye</title><a href=/x>",
		"<html><body><title>late</title>",
		"<meta charset=\"windows-1252\"><title>\x93q\x94</title>",
		"<title>caf\xc3\xa9</title>",
		"<title>unclosed <a href=/x>",
	} {
		want := crawl.ExtractTitle([]byte(body), "")
		if got := parse(body, "", 10).Title; got != want {
			t.Errorf("%q: title %q, want %q", body, got, want)
		}
		if p := parse(body, "", 0); p.Title != want || p.Links != nil || p.NoIndex {
			t.Errorf("%q: links-off page %+v", body, p)
		}
	}
}

func TestParsePageBadBase(t *testing.T) {
	for _, u := range []string{"", "not a url", "ftp://a.test/", "/relative"} {
		p := crawl.ParsePage([]byte(`<title>t</title><a href="http://b.test/">`), "", crawl.PageOptions{URL: u, MaxLinks: 5})
		if len(p.Links) != 0 || p.Title != "t" {
			t.Errorf("page URL %q: %+v", u, p)
		}
	}
}

func FuzzParsePage(f *testing.F) {
	f.Add([]byte(`<base href="/b/"><a href="x#y">x</a><iframe src="//c.test/f"></iframe><meta name=robots content=noindex>`), "text/html", "http://a.test/p", 3)
	f.Add([]byte("<meta charset=euc-kr><a href='\xc7\xd1?q=\xc7\xd1'>"), "", "https://a.test/", 10)
	f.Add([]byte("\xff\xfe<\x00a\x00 \x00h\x00r\x00e\x00f\x00=\x00x\x00>\x00"), "", "http://a.test/", 1)
	f.Add([]byte(`<a href="&#x1F600;%zz?%%#">`), "text/html; charset=utf-8", "http://[::1]:8080/x", 2)
	f.Fuzz(func(t *testing.T, body []byte, ct, pageURL string, max int) {
		max = max % 50
		p := crawl.ParsePage(body, ct, crawl.PageOptions{URL: pageURL, MaxLinks: max, ProductToken: "testbot"})
		if !utf8.ValidString(p.Title) || len(p.Title) > crawl.TitleCap {
			t.Fatalf("title %q", p.Title)
		}
		if max <= 0 && (p.Links != nil || p.NoIndex || p.NoFollow) {
			t.Fatalf("links-off page %+v", p)
		}
		if len(p.Links) > max && max > 0 || p.LinksDropped < 0 || (p.NoFollow && (len(p.Links) > 0 || p.LinksDropped > 0)) {
			t.Fatalf("caps: %d links (max %d), %d dropped, nofollow %v", len(p.Links), max, p.LinksDropped, p.NoFollow)
		}
		for _, l := range p.Links {
			u, err := url.Parse(l.URL)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Fragment != "" ||
				strings.Contains(l.URL, "#") || len(l.URL) > crawl.MaxLinkLength || u.User != nil {
				t.Fatalf("bad link %q: %v", l.URL, err)
			}
			if l.Kind != crawl.LinkAnchor && l.Kind != crawl.LinkFrame {
				t.Fatalf("kind %v", l.Kind)
			}
			for i := 0; i < len(l.URL); i++ {
				if c := l.URL[i]; c <= ' ' || c >= 0x7f {
					t.Fatalf("link %q has raw byte %#x", l.URL, c)
				}
			}
		}
	})
}
