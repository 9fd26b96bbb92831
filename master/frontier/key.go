package frontier

import "crypto/sha256"

// Key is a URL's fixed-width frontier key: the first 16 bytes of the
// SHA-256 of its normalised form. The frontier is unique on (crawl, key),
// so a URL of any length up to urlnorm.MaxLength is stored and found by a
// 16-byte index entry. Accidental collisions are negligible: among 10^10
// URLs of one crawl the chance of any is about 10^20 / 2^129, below
// 10^-18. A deliberate one would need a second-preimage-class attack on
// truncated SHA-256; its worst effect is one URL treated as already known.
// Migration 0005 computes the same value in SQL for rows that existed
// before (substr(sha256(url), 1, 16)); TestKeyMatchesSQL checks they agree.
func Key(normalizedURL string) [16]byte {
	sum := sha256.Sum256([]byte(normalizedURL))
	var k [16]byte
	copy(k[:], sum[:16])
	return k
}
