package crawl

import (
	"bytes"
	"net/url"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/html"
	"golang.org/x/net/html/charset"

	"github.com/crawlmaster/crawlmaster/crawl/linkkind"
)

// MaxLinkLength is the longest link URL returned, in bytes (after
// resolution): the longest URL the master stores. Longer links are
// skipped and counted in Page.LinksTooLong.
const MaxLinkLength = 8 << 10

// MaxLinkBytes bounds the bytes of link URLs kept from one page, whatever
// MaxLinks asks: with 8 KiB URLs, a generous MaxLinks could otherwise hold
// tens of megabytes per slot. Links beyond it count as dropped, like links
// beyond MaxLinks. 4 MiB is 4,000 links of 1 KiB, far above any
// reasonable per-page link cap with real URL lengths (~100 bytes).
const MaxLinkBytes = 4 << 20

// LinkKind says where a link was found (see package linkkind).
type LinkKind = linkkind.Kind

// The link kinds, as in package linkkind.
const (
	LinkAnchor   = linkkind.Anchor
	LinkFrame    = linkkind.Frame
	LinkRedirect = linkkind.Redirect
	LinkSitemap  = linkkind.Sitemap
)

// Link is one outlink: an absolute http(s) URL without fragment, resolved
// but not normalised, and where it was found.
type Link struct {
	URL  string
	Kind LinkKind
}

// PageOptions says what ParsePage looks for besides the title.
type PageOptions struct {
	// URL is the page's final URL (after redirects), the base of relative
	// links unless the page has a <base href>.
	URL string
	// MaxLinks is the most links returned; 0 means title only, and the
	// document is read no further than its title (or <body>).
	MaxLinks int
	// ProductToken is the crawler's robots.txt product token, lowercase:
	// <meta name="TOKEN"> is honoured like <meta name="robots">.
	ProductToken string
	// NoFollow: the page is already known as nofollow (X-Robots-Tag), so
	// no link is resolved; meta robots are still read.
	NoFollow bool
}

// Page is what one tokenizer pass finds in an HTML document.
type Page struct {
	Title        string
	Links        []Link // document order, at most MaxLinks; nil when NoFollow
	LinksDropped int    // links beyond MaxLinks or MaxLinkBytes
	LinksTooLong int    // links longer than MaxLinkLength, skipped
	NoIndex      bool   // meta robots noindex (or none)
	NoFollow     bool   // meta robots nofollow (or none), or PageOptions.NoFollow
}

// ParsePage reads an HTML document once with the x/net/html tokenizer
// (no DOM) for its title, its outlinks and its meta robots directives.
//
// With MaxLinks 0 it is ExtractTitle: the pass stops at </title> or
// <body>, and NoIndex/NoFollow stay false (meta robots are not read).
// Otherwise the whole document is read:
//
//   - links: <a href>, <area href> (LinkAnchor), <frame src>, <iframe src>
//     (LinkFrame), in document order; an <a>/<area> whose rel contains
//     nofollow is skipped; the content of <noscript> is read as markup
//     (the crawler runs no scripts);
//   - each value is entity-unescaped, stripped of surrounding spaces and
//     controls and of tabs and newlines inside (as browsers do), cut at
//     '#', and resolved (RFC 3986) against the first <base href> seen
//     before it, itself resolved against opts.URL; only http and https
//     results with a host and no userinfo are links;
//   - a link counts toward MaxLinks only when it is returned: skipped
//     values (nofollow, other schemes, unparsable, longer than
//     MaxLinkLength) do not; repeated URLs are not merged;
//   - <meta name="robots"> and <meta name=ProductToken> with noindex,
//     nofollow or none (comma or space separated, any case) set NoIndex
//     and NoFollow wherever the tag is; a nofollow page returns no link
//     at all.
//
// Character set: attribute values are bytes in the document's encoding.
// A document that is all ASCII or UTF-8 is tokenized as it is; one in
// another encoding (found as ExtractTitle does) that has non-ASCII bytes
// is decoded to UTF-8 first, so that entities and raw characters end up
// in one encoding. Non-ASCII characters of a link are then
// percent-encoded as UTF-8 in its path and query (and in its host, which
// the master turns into punycode), bytes that are not valid UTF-8 as
// they are. Browsers encode the query in the document's own encoding
// instead; a crawler keyed on canonical URLs prefers one encoding.
//
// It never panics; Title is valid UTF-8.
func ParsePage(body []byte, contentType string, opts PageOptions) Page {
	if opts.MaxLinks <= 0 {
		return Page{Title: ExtractTitle(body, contentType), NoFollow: opts.NoFollow}
	}
	p := pageParser{max: opts.MaxLinks, token: opts.ProductToken}
	p.page.NoFollow = opts.NoFollow
	if base, err := url.Parse(opts.URL); err == nil && (base.Scheme == "http" || base.Scheme == "https") && base.Host != "" {
		p.base = base
	} else {
		p.noBase = true // no usable base: no link can be resolved
	}
	// The document is now UTF-8 (or ASCII), so the title needs no
	// decoding beyond entities.
	src := utf8Document(body, contentType)
	if raw := p.run(src); len(raw) > 0 {
		p.page.Title = cleanTitle(html.UnescapeString(strings.ToValidUTF8(string(raw), "\uFFFD")))
	}
	if p.page.NoFollow {
		p.page.Links, p.page.LinksDropped, p.page.LinksTooLong = nil, 0, 0
	}
	return p.page
}

// utf8Document returns body as UTF-8 (or ASCII-compatible bytes whose
// non-ASCII part is meant as UTF-8) for tokenizing: decoded when it is in
// another encoding and has non-ASCII bytes.
func utf8Document(body []byte, contentType string) []byte {
	if isUTF16(body, contentType) {
		e, _, _ := charset.DetermineEncoding(body, contentType)
		dec, _ := e.NewDecoder().Bytes(body)
		return dec
	}
	if asciiOnly(body) {
		return body
	}
	e, name, certain := charset.DetermineEncoding(body, contentType)
	if name == "utf-8" {
		return body
	}
	// windows-1252 without any declaration is only the fallback for "not
	// valid UTF-8 in the first 1024 bytes"; trust UTF-8 validity of the
	// whole document there (ExtractTitle does the same for the title).
	if !certain && name == "windows-1252" && validUTF8Prefix(body) &&
		!containsFold(string(body[:min(len(body), 1024)]), "charset") {
		return body
	}
	dec, err := e.NewDecoder().Bytes(body)
	if err != nil {
		return body
	}
	return dec
}

func asciiOnly(b []byte) bool {
	for _, c := range b {
		if c >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// validUTF8Prefix is utf8.Valid, tolerating a rune cut off at the end (a
// body truncated at BodyCap).
func validUTF8Prefix(b []byte) bool {
	if utf8.Valid(b) {
		return true
	}
	for i := 1; i <= utf8.UTFMax-1 && i < len(b); i++ {
		if utf8.RuneStart(b[len(b)-i]) {
			return utf8.Valid(b[:len(b)-i])
		}
	}
	return false
}

// pageParser is the state of one ParsePage pass.
type pageParser struct {
	page     Page
	max      int
	token    string
	base     *url.URL
	noBase   bool // the page URL is unusable: no links
	baseSeen bool // the first <base href> was handled
	bytes    int  // link bytes kept
	inBody   bool
}

// run tokenizes src and returns the raw text of the first <title> before
// <body>.
func (p *pageParser) run(src []byte) (title []byte) {
	titleDone := false
	z := html.NewTokenizer(bytes.NewReader(src))
	for {
		switch z.Next() {
		case html.ErrorToken:
			return title
		case html.StartTagToken, html.SelfClosingTagToken:
			name, hasAttr := z.TagName()
			switch string(name) {
			case "title":
				if !titleDone && !p.inBody {
					title, titleDone = titleText(z), true
				}
			case "body":
				p.inBody = true
			case "a", "area":
				p.anchor(z, hasAttr)
			case "frame", "iframe":
				if v, ok := attr(z, hasAttr, "src"); ok {
					p.add(v, LinkFrame)
				}
			case "base":
				if !p.baseSeen {
					if v, ok := attr(z, hasAttr, "href"); ok {
						p.baseSeen = true
						p.setBase(v)
					}
				}
			case "meta":
				p.meta(z, hasAttr)
			case "noscript":
				z.NextIsNotRawText()
			}
		}
	}
}

// attr returns the (unescaped) value of the tag's attribute key. The
// value aliases the tokenizer's buffer until its next call.
func attr(z *html.Tokenizer, more bool, key string) ([]byte, bool) {
	for more {
		var k, v []byte
		k, v, more = z.TagAttr()
		if string(k) == key {
			return v, true
		}
	}
	return nil, false
}

func (p *pageParser) anchor(z *html.Tokenizer, more bool) {
	var href []byte
	found := false
	for more {
		var k, v []byte
		k, v, more = z.TagAttr()
		switch string(k) {
		case "href":
			if !found {
				href, found = v, true
			}
		case "rel":
			if hasToken(v, "nofollow") {
				return
			}
		}
	}
	if found {
		p.add(href, LinkAnchor)
	}
}

// hasToken reports whether the space-separated list v holds tok (ASCII
// case-insensitive).
func hasToken(v []byte, tok string) bool {
	for _, f := range bytes.Fields(v) {
		if strings.EqualFold(string(f), tok) {
			return true
		}
	}
	return false
}

func (p *pageParser) meta(z *html.Tokenizer, more bool) {
	var name, content []byte
	for more {
		var k, v []byte
		k, v, more = z.TagAttr()
		switch string(k) {
		case "name":
			name = bytes.TrimSpace(v)
		case "content":
			content = v
		}
	}
	if name == nil || !(strings.EqualFold(string(name), "robots") ||
		(p.token != "" && strings.EqualFold(string(name), p.token))) {
		return
	}
	noindex, nofollow := robotsDirectives(string(content))
	p.page.NoIndex = p.page.NoIndex || noindex
	p.page.NoFollow = p.page.NoFollow || nofollow
}

// robotsDirectives reads noindex, nofollow and none from a robots meta
// content or one X-Robots-Tag rule list.
func robotsDirectives(s string) (noindex, nofollow bool) {
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == '\f' }) {
		switch {
		case strings.EqualFold(f, "noindex"):
			noindex = true
		case strings.EqualFold(f, "nofollow"):
			nofollow = true
		case strings.EqualFold(f, "none"):
			noindex, nofollow = true, true
		}
	}
	return noindex, nofollow
}

func (p *pageParser) setBase(v []byte) {
	if p.noBase {
		return
	}
	if u, ok := resolveRef(p.base, v); ok {
		p.base = u
	}
}

// add resolves one link value and keeps it within the caps.
func (p *pageParser) add(v []byte, kind LinkKind) {
	if p.noBase || p.page.NoFollow {
		return
	}
	u, ok := resolveRef(p.base, v)
	if !ok {
		return
	}
	s := u.String()
	switch {
	case len(s) > MaxLinkLength:
		p.page.LinksTooLong++
	case len(p.page.Links) >= p.max || p.bytes+len(s) > MaxLinkBytes:
		p.page.LinksDropped++
	default:
		p.bytes += len(s)
		p.page.Links = append(p.page.Links, Link{URL: s, Kind: kind})
	}
}

// resolveLink resolves one link value against base and returns the link
// as a string; ok is false when it is not an http(s) URL with a host and
// without userinfo, or longer than MaxLinkLength.
func resolveLink(base *url.URL, v string) (string, bool) {
	u, ok := resolveRef(base, []byte(v))
	if !ok {
		return "", false
	}
	s := u.String()
	return s, len(s) <= MaxLinkLength
}

// resolveRef cleans v as browsers do (surrounding C0 controls and spaces
// dropped, tabs and newlines removed, backslashes before the query read
// as slashes), drops its fragment, resolves it against base and checks
// the result is http(s) with a host and without userinfo. Raw non-ASCII
// and other bytes not allowed in a query are percent-encoded there (the
// url package does it for the path and host).
func resolveRef(base *url.URL, v []byte) (*url.URL, bool) {
	v = bytes.TrimFunc(v, func(r rune) bool { return r <= ' ' })
	if i := bytes.IndexByte(v, '#'); i >= 0 {
		v = v[:i]
	}
	if bytes.ContainsAny(v, "\t\n\r\\") {
		v = cleanRef(v)
	}
	if !schemeOK(v) {
		return nil, false // javascript:, mailto:, data: ... (not even parsed)
	}
	ref, err := url.Parse(string(v))
	if err != nil {
		return nil, false
	}
	u := base.ResolveReference(ref)
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Hostname() == "" || u.User != nil || u.Opaque != "" {
		return nil, false
	}
	u.Fragment, u.RawFragment = "", ""
	u.RawQuery = escapeQuery(u.RawQuery)
	u.ForceQuery = false
	return u, true
}

// cleanRef removes tabs and newlines and turns backslashes before the
// query into slashes, on a copy.
func cleanRef(v []byte) []byte {
	out := make([]byte, 0, len(v))
	inQuery := false
	for _, c := range v {
		switch {
		case c == '\t' || c == '\n' || c == '\r':
			continue
		case c == '?':
			inQuery = true
		case c == '\\' && !inQuery:
			c = '/'
		}
		out = append(out, c)
	}
	return out
}

// schemeOK reports whether v has no scheme (relative) or http(s).
func schemeOK(v []byte) bool {
	for i, c := range v {
		switch {
		case c == ':':
			if i == 0 {
				return true // ":x" is a relative path
			}
			s := string(v[:i])
			return strings.EqualFold(s, "http") || strings.EqualFold(s, "https")
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case i > 0 && ('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.'):
		default:
			return true // not a scheme character: a relative reference
		}
	}
	return true
}

// escapeQuery percent-encodes the bytes a query may not hold raw
// (controls, space, '"', '<', '>', '`', '{', '}', '|', '\', '^' and
// non-ASCII); s is returned as is when it has none.
func escapeQuery(s string) string {
	i := 0
	for i < len(s) && !badQueryByte(s[i]) {
		i++
	}
	if i == len(s) {
		return s
	}
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s) + 16)
	b.WriteString(s[:i])
	for ; i < len(s); i++ {
		c := s[i]
		if badQueryByte(c) {
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}

func badQueryByte(c byte) bool {
	if c <= ' ' || c >= 0x7f {
		return true
	}
	switch c {
	case '"', '<', '>', '`', '{', '}', '|', '\\', '^':
		return true
	}
	return false
}
