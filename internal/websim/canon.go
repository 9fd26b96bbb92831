package websim

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
)

// SessionParams are the query parameters [Canonical] removes, compared
// case-insensitively (the design's list of session ids).
var SessionParams = []string{"jsessionid", "phpsessid", "sid", "sessionid", "aspsessionid", "cfid", "cftoken"}

// Canonical returns websim's canonical form of an absolute http(s) URL,
// the form the crawl truth lists ([Sim.CrawlTruth]). It is websim's own
// small canonicaliser, written for the URL forms websim emits (it shares no
// code with the crawler's normalisation, which it is there to check):
//
//   - scheme and host lower-cased, trailing dots of the host dropped, the
//     default port (:80 for http, :443 for https) dropped;
//   - the fragment dropped; an empty path becomes "/";
//   - ";jsessionid=..." path parameters removed (case-insensitively, up to
//     the next '/' or ';'), then dot segments removed (RFC 3986 5.2.4);
//   - query parameters named in [SessionParams] and empty ones removed, the
//     others sorted by name (stably: parameters of one name keep their
//     order); an empty query dropped.
//
// Percent-encoding is left as written: websim emits none. It fails on
// unparsable input, relative URLs, other schemes and an empty host.
func Canonical(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("canonical: %w", err)
	}
	return canonicalURL(u)
}

// ResolveCanonical resolves href (an attribute value with entities already
// decoded) against base, an absolute URL, as RFC 3986 does, and returns
// [Canonical] of the result.
func ResolveCanonical(base, href string) (string, error) {
	b, err := url.Parse(base)
	if err != nil {
		return "", fmt.Errorf("canonical: base: %w", err)
	}
	r, err := b.Parse(href)
	if err != nil {
		return "", fmt.Errorf("canonical: %w", err)
	}
	return canonicalURL(r)
}

func canonicalURL(u *url.URL) (string, error) {
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return "", fmt.Errorf("canonical %q: not an absolute http(s) URL", u.String())
	case u.Opaque != "" || u.Host == "":
		return "", fmt.Errorf("canonical %q: no host", u.String())
	}
	host := strings.TrimRight(strings.ToLower(u.Hostname()), ".")
	if host == "" {
		return "", fmt.Errorf("canonical %q: empty host", u.String())
	}
	if port := u.Port(); port != "" && !(port == "80" && u.Scheme == "http") && !(port == "443" && u.Scheme == "https") {
		host += ":" + port
	}
	path := removeDotSegments(dropJSession(u.EscapedPath()))
	if path == "" {
		path = "/"
	}
	var b strings.Builder
	b.Grow(len(u.Scheme) + 3 + len(host) + len(path) + 1 + len(u.RawQuery))
	b.WriteString(u.Scheme)
	b.WriteString("://")
	b.WriteString(host)
	b.WriteString(path)
	if q := canonicalQuery(u.RawQuery); q != "" {
		b.WriteByte('?')
		b.WriteString(q)
	}
	return b.String(), nil
}

// canonicalQuery drops empty and session parameters and sorts the others by
// name, stably.
func canonicalQuery(q string) string {
	if q == "" {
		return ""
	}
	params := strings.Split(q, "&")
	kept := params[:0]
	for _, p := range params {
		if p != "" && !isSessionParam(queryParamName(p)) {
			kept = append(kept, p)
		}
	}
	slices.SortStableFunc(kept, func(a, b string) int { return strings.Compare(queryParamName(a), queryParamName(b)) })
	return strings.Join(kept, "&")
}

func queryParamName(p string) string {
	name, _, _ := strings.Cut(p, "=")
	return name
}

func isSessionParam(name string) bool {
	for _, s := range SessionParams {
		if strings.EqualFold(name, s) {
			return true
		}
	}
	return false
}

// dropJSession removes ";jsessionid=..." path parameters.
func dropJSession(p string) string {
	const key = ";jsessionid="
	for {
		i := strings.Index(strings.ToLower(p), key)
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

// removeDotSegments is RFC 3986 section 5.2.4 for an absolute path.
func removeDotSegments(p string) string {
	if !strings.Contains(p, ".") {
		return p
	}
	var out []string
	segs := strings.Split(p, "/")
	for i, seg := range segs {
		last := i == len(segs)-1
		switch seg {
		case ".":
			if last {
				out = append(out, "")
			}
		case "..":
			if len(out) > 1 {
				out = out[:len(out)-1]
			}
			if last {
				out = append(out, "")
			}
		default:
			out = append(out, seg)
		}
	}
	r := strings.Join(out, "/")
	if !strings.HasPrefix(r, "/") {
		r = "/" + r
	}
	return r
}

// splitCanonical splits a canonical URL into scheme, host, path and query.
func splitCanonical(u string) (scheme, host, path, query string, err error) {
	scheme, rest, ok := strings.Cut(u, "://")
	if !ok {
		return "", "", "", "", errors.New("not absolute")
	}
	i := strings.IndexByte(rest, '/')
	if i < 0 {
		return scheme, rest, "/", "", nil
	}
	host, pq := rest[:i], rest[i:]
	path, query, _ = strings.Cut(pq, "?")
	return scheme, host, path, query, nil
}

// registrableDomain is the registrable domain (eTLD+1) of the hosts websim
// serves or links: the last two labels (websim's TLDs .test and .invalid
// are single-label public suffixes by the Public Suffix List's default
// rule, so this equals golang.org/x/net/publicsuffix's answer for them).
func registrableDomain(host string) string {
	if i := strings.LastIndexByte(host, ':'); i >= 0 {
		host = host[:i]
	}
	last := strings.LastIndexByte(host, '.')
	if last <= 0 {
		return host
	}
	if prev := strings.LastIndexByte(host[:last], '.'); prev >= 0 {
		return host[prev+1:]
	}
	return host
}

// pathSegments returns the non-empty segments of a path: "/a/b/" has two.
func pathSegments(path string) []string {
	return strings.FieldsFunc(path, func(r rune) bool { return r == '/' })
}
