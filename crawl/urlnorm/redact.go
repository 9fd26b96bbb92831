package urlnorm

import "strings"

// Redacted replaces the userinfo of a URL in the output of [Redact].
const Redacted = "xxxxx"

// Redact returns s with the userinfo of every URL in it
// ("scheme://user:password@host") replaced by [Redacted], so that a raw
// URL, or an error message quoting one, can be logged or stored without
// its credentials: "http://u:p@h/x" becomes "http://xxxxx@h/x". The user
// name goes too, since it is often a token. A URL's authority is taken to
// end at '/', '?', '#', a space, a quote, a backslash or a control
// character, as net/url reads a URL (and as %q quotes one); s need not
// parse. Text without "://" and '@' is returned as is.
func Redact(s string) string {
	if !strings.Contains(s, "@") || !strings.Contains(s, "://") {
		return s
	}
	var b strings.Builder
	rest := s
	for {
		i := strings.Index(rest, "://")
		if i < 0 {
			break
		}
		start := i + len("://")
		end := start + strings.IndexFunc(rest[start:], endsAuthority)
		if end < start { // no end: the authority runs to the end of s
			end = len(rest)
		}
		at := strings.LastIndexByte(rest[start:end], '@')
		if at < 0 {
			b.WriteString(rest[:end])
		} else {
			b.WriteString(rest[:start])
			b.WriteString(Redacted)
			b.WriteString(rest[start+at : end])
		}
		rest = rest[end:]
	}
	if b.Len() == 0 {
		return s
	}
	b.WriteString(rest)
	return b.String()
}

// endsAuthority reports whether c cannot be part of a URL's authority as
// it appears in text.
func endsAuthority(c rune) bool {
	switch c {
	case '/', '?', '#', ' ', '"', '\'', '`', '\\', '<', '>':
		return true
	}
	return c < 0x20 || c == 0x7f
}
