// Package linkkind is the closed set of kinds of outlink a fetch reports:
// where on the page (or beside it) a link was found. The master derives a
// link's depth from its kind; internal/wire maps kinds to the protocol's
// LinkKind enum in one table.
//
// It is a leaf package (standard library only) so that the master can
// name kinds without linking the fetcher and its parsers.
package linkkind

// Kind says where a link was found. The zero value is not a kind.
type Kind uint8

// The kinds. Their values never change meaning; new kinds may be added
// (and then to the proto enum and internal/wire).
const (
	// Anchor is the href of an <a> or <area> element.
	Anchor Kind = iota + 1
	// Frame is the src of a <frame> or <iframe> element.
	Frame
	// Redirect is the target of a redirect that was not followed inside
	// the fetch.
	Redirect
	// Sitemap is a URL listed in one of the host's sitemaps.
	Sitemap
)

var names = [...]string{Anchor: "anchor", Frame: "frame", Redirect: "redirect", Sitemap: "sitemap"}

// All returns every kind in a stable order, as a fresh slice.
func All() []Kind { return []Kind{Anchor, Frame, Redirect, Sitemap} }

// Valid reports whether k is one of the defined kinds.
func (k Kind) Valid() bool { return k >= Anchor && k <= Sitemap }

// String returns "anchor", "frame", "redirect", "sitemap", or "unknown".
func (k Kind) String() string {
	if k.Valid() {
		return names[k]
	}
	return "unknown"
}
