// Package revisit decides when a URL of a revisiting crawl is fetched
// again, and what its row keeps for that fetch (validators for a
// conditional GET, the content hash that tells an unchanged page).
//
// A crawl's policy (frontier.Revisit) is fixed or adaptive. Fixed revisits
// each final state after its interval. Adaptive follows how often a done
// URL's content changes: each revisit observes the time since the last
// successful fetch and whether the content changed in it (a 304, or the
// same SHA-256, is unchanged). The estimated change interval is the
// observed time per change seen, both decayed by Decay per revisit so the
// estimate follows a page whose rate changes; the next interval is Target
// times that estimate, within the policy's Min and Max. While no change
// has been seen lately the interval grows by Grow per revisit.
//
// Why not Nutch's multiplicative rule (×1.4 unchanged, ×0.8 changed)? It
// settles where 60% of revisits see a change: for a page that changes
// every T it revisits about every 0.6 T, and for a page that changes at
// random it drifts further. Estimating the interval converges to Target×T
// for pages that change regularly (TestAdaptiveConverges checks ±30% on
// websim's changing pages), from any starting interval.
package revisit
