package linkkind

import "testing"

func TestKinds(t *testing.T) {
	seen := map[string]bool{}
	for _, k := range All() {
		if !k.Valid() || k.String() == "unknown" || seen[k.String()] {
			t.Errorf("kind %d: valid %v, name %q (duplicate %v)", k, k.Valid(), k, seen[k.String()])
		}
		seen[k.String()] = true
	}
	for _, k := range []Kind{0, Sitemap + 1, 255} {
		if k.Valid() || k.String() != "unknown" {
			t.Errorf("kind %d: valid %v, name %q", k, k.Valid(), k)
		}
	}
}
