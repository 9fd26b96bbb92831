package crawl

import (
	"bytes"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/html"
	"golang.org/x/net/html/charset"
)

// TitleCap is the maximum length in bytes of Result.Title.
const TitleCap = 512

// titleRawCap bounds the raw bytes collected for one title (an unclosed
// <title> runs to EOF); generous enough for entities and whitespace runs
// that shrink to TitleCap.
const titleRawCap = 8 << 10

// ExtractTitle returns the first <title> of an HTML document: decoded to
// UTF-8, entities unescaped, whitespace (and control characters, which
// databases reject) collapsed to single spaces, trimmed, and cut to at most
// TitleCap bytes on a character boundary. It returns "" when there is no
// title before <body>. contentType is the Content-Type header, used for its
// charset; the encoding is otherwise found like a browser would (BOM,
// <meta> in the first 1024 bytes, UTF-8 validity, windows-1252).
//
// It never builds a DOM: it runs the x/net/html tokenizer until </title>,
// and decodes only the title's bytes. It never panics and always returns
// valid UTF-8.
func ExtractTitle(body []byte, contentType string) string {
	if len(body) == 0 {
		return ""
	}
	if isUTF16(body, contentType) {
		// Not ASCII-compatible: the tokenizer cannot find tags in the raw
		// bytes, so decode the document first. Rare.
		e, _, _ := charset.DetermineEncoding(body, contentType)
		dec, err := e.NewDecoder().Bytes(body)
		if err != nil {
			return ""
		}
		raw := findTitle(dec)
		return cleanTitle(html.UnescapeString(strings.ToValidUTF8(string(raw), "\uFFFD")))
	}
	raw := findTitle(body)
	if len(raw) == 0 {
		return ""
	}
	var text string
	if printableASCII(raw) {
		text = string(raw) // same in every ASCII-compatible encoding
	} else {
		text = decodeTitle(raw, body, contentType)
	}
	return cleanTitle(html.UnescapeString(text))
}

// findTitle returns the raw (undecoded, still escaped) text of the first
// <title>, or nil. It stops at <body>: a title after it is not the
// document's, and scanning a whole large page for a missing title is the
// expensive case.
func findTitle(body []byte) []byte {
	z := html.NewTokenizer(bytes.NewReader(body))
	for {
		switch z.Next() {
		case html.ErrorToken:
			return nil
		case html.StartTagToken, html.SelfClosingTagToken:
			name, _ := z.TagName()
			switch string(name) {
			case "title":
				return titleText(z)
			case "body":
				return nil
			}
		}
	}
}

// titleText collects the text tokens up to </title> or EOF. Inside <title>
// the tokenizer is in RCDATA mode: tags are text, only </title> ends it.
func titleText(z *html.Tokenizer) []byte {
	var raw []byte
	for {
		switch z.Next() {
		case html.TextToken:
			if room := titleRawCap - len(raw); room > 0 {
				t := z.Raw()
				raw = append(raw, t[:min(len(t), room)]...)
			}
		case html.EndTagToken:
			if name, _ := z.TagName(); string(name) == "title" {
				return raw
			}
		case html.ErrorToken:
			return raw
		}
	}
}

func printableASCII(b []byte) bool {
	for _, c := range b {
		if c >= 0x7f || (c < 0x20 && c != '\t' && c != '\n' && c != '\r' && c != '\f') {
			return false
		}
	}
	return true
}

func isUTF16(body []byte, contentType string) bool {
	if bytes.HasPrefix(body, []byte{0xfe, 0xff}) || bytes.HasPrefix(body, []byte{0xff, 0xfe}) {
		return true
	}
	return containsFold(contentType, "utf-16")
}

// decodeTitle converts the raw title bytes to UTF-8 using the document's
// encoding.
func decodeTitle(raw, body []byte, contentType string) string {
	e, name, certain := charset.DetermineEncoding(body, contentType)
	// windows-1252 without any charset declaration is only the fallback for
	// "not valid UTF-8 in the first 1024 bytes"; a UTF-8 page whose first
	// non-ASCII byte comes later (a long <head>) would be misread, so trust
	// UTF-8 validity of the title itself there.
	if !certain && name == "windows-1252" && utf8.Valid(raw) &&
		!containsFold(string(body[:min(len(body), 1024)]), "charset") {
		return string(raw)
	}
	out, err := e.NewDecoder().Bytes(raw)
	if err != nil {
		return strings.ToValidUTF8(string(raw), "\uFFFD")
	}
	return strings.ToValidUTF8(string(out), "\uFFFD")
}

// containsFold is a case-insensitive ASCII strings.Contains that does not
// allocate.
func containsFold(s, substr string) bool {
	n := len(substr)
	for i := 0; i+n <= len(s); i++ {
		if strings.EqualFold(s[i:i+n], substr) {
			return true
		}
	}
	return false
}

// cleanTitle collapses whitespace and control characters to single spaces,
// trims, replaces invalid UTF-8 and caps at TitleCap bytes.
func cleanTitle(s string) string {
	var b strings.Builder
	b.Grow(min(len(s), TitleCap))
	space := false
	for _, r := range s { // invalid bytes arrive as utf8.RuneError (U+FFFD)
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			space = b.Len() > 0
			continue
		}
		n := utf8.RuneLen(r)
		extra := 0
		if space {
			extra = 1
		}
		if b.Len()+extra+n > TitleCap {
			break
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteRune(r)
	}
	return b.String()
}
