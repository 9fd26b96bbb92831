package store

// The claim statements, exposed to the plan regression tests.
const (
	ClaimSQL      = claimSQL
	ClaimSitesSQL = claimSitesSQL
	LeaseSitesSQL = leaseSitesSQL
)
