package websim

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"strconv"
	"sync"

	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/korean"
)

// Title prefixes. Titles are "<prefix><domain>"; the domain is always ASCII.
const (
	titleOK     = "Home of "
	titleBroken = "Broken page of "
	titleHuge   = "Huge page of "
	titleLatin1 = "Café Zürich · "
	titleEUCKR  = "한국어 홈페이지 - "
	titleAbout  = "About "
	titlePriv   = "Private area of "
)

// Header values, shared read-only so that setting them does not allocate.
var (
	ctHTML      = []string{"text/html; charset=utf-8"}
	ctHTMLPlain = []string{"text/html"}
	ctLatin1    = []string{"text/html; charset=ISO-8859-1"}
	ctJSON      = []string{"application/json"}
	ctPNG       = []string{"image/png"}
	ctText      = []string{"text/plain; charset=utf-8"}
	retryAfter1 = []string{"1"}
	nosniff     = []string{"nosniff"}
)

// Precomputed robots.txt bodies.
var (
	robotsAllow        = []byte("User-agent: *\nDisallow:\n")
	robotsDisallowAll  = []byte("User-agent: *\nDisallow: /\n")
	robotsDisallowSome = []byte("User-agent: *\nDisallow: /private/\n")
	robotsCrawlDelay   = []byte("User-agent: *\nCrawl-delay: 1\nDisallow:\n")
)

// Precomputed page fragments.
var (
	pageHeadUTF8  = []byte("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>")
	pageHeadNoCS  = []byte("<!DOCTYPE html>\n<html lang=\"de\">\n<head>\n<title>")
	pageHeadEUCKR = []byte("<!DOCTYPE html>\n<html lang=\"ko\">\n<head>\n<meta charset=\"euc-kr\">\n<title>")
	pageMid       = []byte("</title>\n</head>\n<body>\n<h1>")
	pageFiller    = []byte("</h1>\n<p>This is a synthetic page served by websim, the test web of crawlmaster. " +
		"Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et " +
		"dolore magna aliqua. Ut enim ad minim veniam, quis nostrud exercitation ullamco laboris nisi ut aliquip " +
		"ex ea commodo consequat. Duis aute irure dolor in reprehenderit in voluptate velit esse cillum dolore eu " +
		"fugiat nulla pariatur. Excepteur sint occaecat cupidatat non proident, sunt in culpa qui officia deserunt " +
		"mollit anim id est laborum.</p>\n<p><a href=\"/about\">About</a></p>\n")
	pagePrivLink = []byte("<p><a href=\"/private/home\">Members only</a></p>\n")
	pageTail     = []byte("</body>\n</html>\n")

	brokenHead = []byte("<html><head><title>")
	brokenBody = []byte("</title>\n<body>\n<div class=\"main\">\n<p>Unclosed paragraph <b>bold <i>italic\n" +
		"<table><tr><td>cell<td>another cell\n<ul><li>one<li>two\n<a href=\"/about\">About")

	hugeFiller []byte // 32 KiB of HTML paragraphs
	pngBody    []byte // a valid 1x1 PNG

	titleLatin1Bytes []byte // titleLatin1 in ISO-8859-1
	titleEUCKRBytes  []byte // titleEUCKR in EUC-KR
)

func init() {
	var err error
	titleLatin1Bytes, err = charmap.ISO8859_1.NewEncoder().Bytes([]byte(titleLatin1))
	if err != nil {
		panic("websim: encoding latin1 title: " + err.Error())
	}
	titleEUCKRBytes, err = korean.EUCKR.NewEncoder().Bytes([]byte(titleEUCKR))
	if err != nil {
		panic("websim: encoding euc-kr title: " + err.Error())
	}

	line := []byte("<p>Filler paragraph of a huge synthetic page; a polite crawler stops reading at its body cap.</p>\n")
	for len(hugeFiller)+len(line) <= 32<<10 {
		hugeFiller = append(hugeFiller, line...)
	}
	for len(hugeFiller) < 32<<10 {
		hugeFiller = append(hugeFiller, '\n')
	}

	img := image.NewNRGBA(image.Rect(0, 0, 1, 1))
	img.Set(0, 0, color.NRGBA{R: 0x33, G: 0x66, B: 0x99, A: 0xff})
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		panic("websim: encoding png: " + err.Error())
	}
	pngBody = b.Bytes()
}

// homeTitle returns the expected (decoded) title of the final page of a
// home kind, "" for kinds whose final page has no title.
func homeTitle(k HomeKind, domain string) string {
	switch k {
	case HomeOK, HomeRedirect, HomeFlaky:
		return titleOK + domain
	case HomeBrokenHTML:
		return titleBroken + domain
	case HomeHuge:
		return titleHuge + domain
	case HomeLatin1:
		return titleLatin1 + domain
	case HomeEUCKR:
		return titleEUCKR + domain
	}
	return ""
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// appendPage appends a well-formed UTF-8 HTML page.
func appendPage(b []byte, title, domain string, private bool) []byte {
	return append(appendPageOpen(b, title, domain, private), pageTail...)
}

// appendPageOpen appends a page without its closing tags (pageTail): a
// site's home page adds its links there.
func appendPageOpen(b []byte, title, domain string, private bool) []byte {
	b = append(b, pageHeadUTF8...)
	b = append(b, title...)
	b = append(b, domain...)
	b = append(b, pageMid...)
	b = append(b, domain...)
	b = append(b, pageFiller...)
	if private {
		b = append(b, pagePrivLink...)
	}
	return b
}

// appendEncodedPage appends a page whose head and encoded title prefix are given.
func appendEncodedPage(b, head, titlePrefix []byte, domain string) []byte {
	return append(appendEncodedPageOpen(b, head, titlePrefix, domain), pageTail...)
}

// appendEncodedPageOpen is appendEncodedPage without the closing tags.
func appendEncodedPageOpen(b, head, titlePrefix []byte, domain string) []byte {
	b = append(b, head...)
	b = append(b, titlePrefix...)
	b = append(b, domain...)
	b = append(b, pageMid...)
	b = append(b, domain...)
	return append(b, pageFiller...)
}

func appendBroken(b []byte, domain string) []byte {
	b = append(b, brokenHead...)
	b = append(b, titleBroken...)
	b = append(b, domain...)
	return append(b, brokenBody...)
}

func appendJSON(b []byte, domain string, rank int) []byte {
	b = append(b, `{"domain":"`...)
	b = append(b, domain...)
	b = append(b, `","rank":`...)
	b = strconv.AppendInt(b, int64(rank), 10)
	return append(b, `,"kind":"json"}`+"\n"...)
}

// hugeHead returns the opening of a huge page (its title comes first).
func appendHugeHead(b []byte, domain string) []byte {
	b = append(b, pageHeadUTF8...)
	b = append(b, titleHuge...)
	b = append(b, domain...)
	b = append(b, pageMid...)
	b = append(b, domain...)
	return append(b, "</h1>\n"...)
}
