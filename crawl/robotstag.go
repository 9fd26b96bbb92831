package crawl

import "strings"

// xRobotsTag reads the X-Robots-Tag header lines of a response for the
// rules that apply to the crawler whose robots.txt product token is token
// (lowercase). Each line is a comma-separated list of rules; a rule may
// start with "AGENT:", which scopes it and the rules after it on that line
// to that user agent (Google's syntax: "googlebot: noindex, nofollow").
// Rules without an agent, and rules for token, apply. Rules whose own
// syntax has a colon (unavailable_after: DATE, max-snippet: N, ...) are
// not agents. Only noindex, nofollow and none matter here.
func xRobotsTag(lines []string, token string) (noindex, nofollow bool) {
	for _, line := range lines {
		scope := ""
		for _, rule := range strings.Split(line, ",") {
			rule = strings.TrimSpace(rule)
			if i := strings.IndexByte(rule, ':'); i > 0 {
				if name := strings.TrimSpace(rule[:i]); isAgentToken(name) && !colonRule(name) {
					scope = strings.ToLower(name)
					rule = strings.TrimSpace(rule[i+1:])
				}
			}
			if scope != "" && scope != token {
				continue
			}
			ni, nf := robotsDirectives(rule)
			noindex = noindex || ni
			nofollow = nofollow || nf
		}
	}
	return noindex, nofollow
}

func isAgentToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// colonRule reports whether name is a robots rule written "name: value".
func colonRule(name string) bool {
	for _, r := range [...]string{"unavailable_after", "max-snippet", "max-image-preview", "max-video-preview"} {
		if strings.EqualFold(name, r) {
			return true
		}
	}
	return false
}
