package urlnorm

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/net/idna"
	"golang.org/x/net/publicsuffix"
)

// Typed refusals of Normalize (errors.Is); its other errors say what is
// malformed.
var (
	// ErrScheme: the URL's scheme is not http or https.
	ErrScheme = errors.New("is not http or https")
	// ErrTooLong: the normalised URL is longer than MaxLength bytes.
	ErrTooLong = fmt.Errorf("longer than the %d allowed", MaxLength)
)

// idnaProfile converts internationalised host names to punycode. It is the
// UTS #46 lookup profile without the STD3 ASCII restriction, because real
// host names contain '_' (our own character check below still applies).
var idnaProfile = idna.New(
	idna.MapForLookup(),
	idna.BidiRule(),
	idna.Transitional(false),
	idna.StrictDomainName(false),
)

// normURL is a URL split into its normalized parts.
type normURL struct {
	scheme, host, port, path, query string
}

func (n *normURL) hostPort() string {
	if n.port == "" {
		return n.host
	}
	return n.host + ":" + n.port
}

func (n *normURL) String() string {
	var b strings.Builder
	b.Grow(len(n.scheme) + 3 + len(n.host) + 6 + len(n.path) + 1 + len(n.query))
	b.WriteString(n.scheme)
	b.WriteString("://")
	b.WriteString(n.hostPort())
	b.WriteString(n.path)
	if n.query != "" {
		b.WriteByte('?')
		b.WriteString(n.query)
	}
	return b.String()
}

// Normalize returns the canonical form of an absolute http(s) URL, used
// by the master to deduplicate URLs:
//
//   - scheme and host lowercased; an IDN host converted to punycode
//     (UTS #46 via x/net/idna); a trailing dot of the host dropped; IP
//     literals in canonical form
//   - the scheme's default port dropped, other ports without leading zeros
//   - the fragment dropped; an empty query ("?") dropped
//   - an empty path becomes "/"; dot segments resolved (RFC 3986 5.2.4)
//   - percent-encoding normalized in path and query: escapes of unreserved
//     characters decoded, other escapes upper-cased, characters that may not
//     appear raw percent-encoded (RFC 3986 6.2.2)
//   - query parameters sorted by name (parameters of one name keep their
//     order), empty ones ("a=1&&b=2") dropped
//   - session ids removed: the query parameters named in SessionParams and
//     a ";jsessionid=..." path parameter, so that a site handing out a
//     fresh session id in every link does not look like endless new pages
//
// Sorting parameters can in theory change what a server answers; crawlers
// that deduplicate at scale accept that, since the same page linked with
// its parameters in another order is far more common. It returns an error
// (naming the problem) for unparsable input, other schemes, relative URLs,
// an empty host, userinfo, a bad port, a host that is not a valid DNS name
// or IP literal, or a result longer than MaxLength. It is idempotent:
// normalizing its output returns the output unchanged.
func Normalize(raw string) (string, error) {
	n, err := normalize(raw)
	if err != nil {
		return "", err
	}
	return n.String(), nil
}

// Host returns the normalized host of URL u as used for per-host politeness
// and process affinity: lowercase punycode host, with ":port" only for a
// non-default port (IPv6 in brackets). Errors are Normalize's.
func Host(u string) (string, error) {
	n, err := normalize(u)
	if err != nil {
		return "", err
	}
	return n.hostPort(), nil
}

// Site returns the site a host belongs to: its registrable domain (the
// public suffix plus one label, by the Public Suffix List in
// golang.org/x/net/publicsuffix), so "www.example.co.uk" and
// "shop.example.co.uk" are one site, "example.co.uk". It is the affinity
// and politeness key: a site is served by one assistant and never in
// flight twice. An IP literal, a single-label host, or a host that is
// itself a public suffix is its own site. host may carry a port (dropped)
// and should be normalised (Host's output).
func Site(host string) string {
	h := strings.ToLower(host)
	if strings.HasPrefix(h, "[") { // IPv6 literal, maybe with a port
		if i := strings.IndexByte(h, ']'); i > 0 {
			return h[1:i]
		}
		return strings.Trim(h, "[]")
	}
	if i := strings.LastIndexByte(h, ':'); i >= 0 {
		h = h[:i]
	}
	h = strings.TrimSuffix(h, ".")
	if _, err := netip.ParseAddr(h); err == nil {
		return h
	}
	site, err := publicsuffix.EffectiveTLDPlusOne(h)
	if err != nil {
		return h
	}
	return site
}

func normalize(raw string) (*normURL, error) {
	s := strings.TrimFunc(raw, func(r rune) bool { return r <= ' ' })
	if s == "" {
		return nil, errors.New("normalize url: empty")
	}
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("normalize url: %w", err)
	}
	switch {
	case u.Scheme == "":
		return nil, fmt.Errorf("normalize url %q: not absolute (no scheme)", raw)
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("normalize url %q: scheme %q %w", raw, u.Scheme, ErrScheme)
	case u.Opaque != "":
		return nil, fmt.Errorf("normalize url %q: missing \"//\" after scheme", raw)
	case u.User != nil:
		return nil, fmt.Errorf("normalize url %q: userinfo not allowed", raw)
	}
	n := &normURL{scheme: u.Scheme}
	if n.host, err = normalizeHost(u.Host, u.Hostname()); err != nil {
		return nil, fmt.Errorf("normalize url %q: %w", raw, err)
	}
	if p := u.Port(); p != "" {
		v, err := strconv.Atoi(p)
		if err != nil || v < 1 || v > 65535 {
			return nil, fmt.Errorf("normalize url %q: port %q out of range 1-65535", raw, p)
		}
		if !(v == 80 && n.scheme == "http") && !(v == 443 && n.scheme == "https") {
			n.port = strconv.Itoa(v)
		}
	}
	n.path = removeDotSegments(dropPathSession(normalizeEscapes(u.EscapedPath(), pathChar)))
	if n.path == "" {
		n.path = "/"
	}
	n.query = canonicalQuery(normalizeEscapes(u.RawQuery, queryChar))
	l := len(n.scheme) + 3 + len(n.hostPort()) + len(n.path)
	if n.query != "" {
		l += 1 + len(n.query)
	}
	if l > MaxLength {
		return nil, fmt.Errorf("normalize url %.80q...: %d bytes, %w", raw, l, ErrTooLong)
	}
	return n, nil
}

// MaxLength is the longest normalised URL accepted, in bytes. Crawl
// policies set shorter limits for discovered links; this one bounds what
// can be stored at all.
const MaxLength = 8 << 10

// SessionParams are the query parameters Normalize removes (compared
// case-insensitively): session ids of common server stacks, which make
// every visit's links look new.
var SessionParams = []string{"jsessionid", "phpsessid", "sid", "sessionid", "aspsessionid", "cfid", "cftoken"}

// canonicalQuery drops empty and session-id parameters and sorts the rest
// by name, stably.
func canonicalQuery(q string) string {
	if q == "" {
		return ""
	}
	params := strings.Split(q, "&")
	kept := params[:0]
	for _, p := range params {
		if p != "" && !isSessionParam(paramName(p)) {
			kept = append(kept, p)
		}
	}
	slices.SortStableFunc(kept, func(a, b string) int { return strings.Compare(paramName(a), paramName(b)) })
	return strings.Join(kept, "&")
}

func paramName(p string) string {
	if i := strings.IndexByte(p, '='); i >= 0 {
		return p[:i]
	}
	return p
}

func isSessionParam(name string) bool {
	for _, s := range SessionParams {
		if strings.EqualFold(name, s) {
			return true
		}
	}
	return false
}

// dropPathSession removes ";jsessionid=..." path parameters (Java
// servlets put the session there when cookies are off), up to the next
// '/' or ';'.
func dropPathSession(p string) string {
	const key = ";jsessionid="
	for {
		i := indexFold(p, key)
		if i < 0 {
			return p
		}
		end := i + len(key)
		for end < len(p) && p[end] != '/' && p[end] != ';' {
			end++
		}
		p = p[:i] + p[end:]
	}
}

// indexFold is strings.Index ignoring ASCII case.
func indexFold(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if strings.EqualFold(s[i:i+len(sub)], sub) {
			return i
		}
	}
	return -1
}

// normalizeHost returns the canonical host: bracketed canonical IPv6,
// canonical IPv4, or a lowercase ASCII DNS name.
func normalizeHost(authorityHost, hostname string) (string, error) {
	if hostname == "" {
		return "", errors.New("empty host")
	}
	if strings.HasPrefix(authorityHost, "[") {
		a, err := netip.ParseAddr(hostname)
		if err != nil || !a.Is6() || a.Zone() != "" {
			return "", fmt.Errorf("invalid IPv6 literal %q", hostname)
		}
		return "[" + a.String() + "]", nil
	}
	h := hostname
	if !isASCII(h) {
		var err error
		if h, err = idnaProfile.ToASCII(h); err != nil {
			return "", fmt.Errorf("host %q: idna: %w", hostname, err)
		}
	}
	h = strings.TrimSuffix(strings.ToLower(h), ".")
	if a, err := netip.ParseAddr(h); err == nil {
		if !a.Is4() {
			return "", fmt.Errorf("IPv6 literal %q must be in brackets", hostname)
		}
		return a.String(), nil
	}
	if err := validDNSName(h); err != nil {
		return "", fmt.Errorf("host %q: %w", hostname, err)
	}
	// A numeric last label is no DNS name (no TLD is numeric) but an IPv4
	// form net/netip rejects ("010.1.1.1", "1.2.3", "0x7f.1"): browsers read
	// those as IPv4, possibly octal. Ambiguous, so refuse.
	if last := h[strings.LastIndexByte(h, '.')+1:]; strings.Trim(last, "0123456789") == "" ||
		strings.HasPrefix(last, "0x") && strings.Trim(last[2:], "0123456789abcdef") == "" {
		return "", fmt.Errorf("host %q: numeric host that is not a canonical IPv4 address", hostname)
	}
	return h, nil
}

// validDNSName accepts LDH labels (plus '_', seen on real hosts) of 1-63
// bytes, 253 bytes total.
func validDNSName(h string) error {
	if h == "" {
		return errors.New("empty host")
	}
	if len(h) > 253 {
		return errors.New("longer than 253 bytes")
	}
	label := 0
	for i := 0; i < len(h); i++ {
		c := h[i]
		switch {
		case c == '.':
			if label == 0 {
				return errors.New("empty label")
			}
			label = 0
			continue
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '_':
		default:
			return fmt.Errorf("invalid character %q", c)
		}
		label++
		if label > 63 {
			return errors.New("label longer than 63 bytes")
		}
	}
	if label == 0 {
		return errors.New("empty label")
	}
	return nil
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

func isUnreserved(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

func isSubDelim(c byte) bool {
	switch c {
	case '!', '$', '&', '\'', '(', ')', '*', '+', ',', ';', '=':
		return true
	}
	return false
}

// pathChar: pchar plus '/' (RFC 3986 3.3).
func pathChar(c byte) bool {
	return isUnreserved(c) || isSubDelim(c) || c == ':' || c == '@' || c == '/'
}

// queryChar: pchar plus '/' and '?' (RFC 3986 3.4).
func queryChar(c byte) bool { return pathChar(c) || c == '?' }

func ishex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

const upperHex = "0123456789ABCDEF"

// normalizeEscapes decodes escapes of unreserved characters, upper-cases
// other escapes, and escapes bytes that allowed() rejects (including a '%'
// not followed by two hex digits). It returns s itself when nothing changes.
func normalizeEscapes(s string, allowed func(byte) bool) string {
	clean := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '%' || !allowed(c) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '%' && i+2 < len(s) && ishex(s[i+1]) && ishex(s[i+2]):
			v := unhex(s[i+1])<<4 | unhex(s[i+2])
			if isUnreserved(v) {
				b.WriteByte(v)
			} else {
				b.WriteByte('%')
				b.WriteByte(upperHex[v>>4])
				b.WriteByte(upperHex[v&15])
			}
			i += 2
		case c != '%' && allowed(c):
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(upperHex[c>>4])
			b.WriteByte(upperHex[c&15])
		}
	}
	return b.String()
}

// removeDotSegments implements RFC 3986 5.2.4 for an absolute path.
func removeDotSegments(p string) string {
	if !strings.Contains(p, ".") {
		return p
	}
	segs := strings.Split(p, "/")
	if segs[0] != "" { // not absolute: cannot happen with an authority
		return p
	}
	segs = segs[1:]
	out := make([]string, 0, len(segs))
	for i, seg := range segs {
		last := i == len(segs)-1
		switch seg {
		case ".":
			if last {
				out = append(out, "")
			}
		case "..":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
			if last {
				out = append(out, "")
			}
		default:
			out = append(out, seg)
		}
	}
	return "/" + strings.Join(out, "/")
}
