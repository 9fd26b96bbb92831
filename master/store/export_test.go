package store

// ClaimSQL exposes the claim statement to the plan regression test.
const ClaimSQL = claimSQL
