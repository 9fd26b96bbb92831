-- 0003: a "domain in flight" index the claim's planner cannot confuse.
--
-- The claim skips a pending URL whose domain is already leased with a
-- per-row probe, NOT EXISTS (... l.domain = c.domain AND l.state =
-- 'leased'). Three partial indexes share the predicate state = 'leased'
-- (domain, lease expiry, lease token); statistics gathered when almost
-- nothing was leased make all three look like one-row indexes, and in a
-- 40,000-domain benchmark the planner probed with frontier_leased_expiry_idx
-- and a filter on domain: a scan of every lease per candidate row, 545 ms
-- for a 2,400-row claim instead of ~5 ms, and the largest share of
-- PostgreSQL's CPU in the crawl. The probe now says lease_expires_at IS NOT
-- NULL (the same rows, by the table's CHECK), which only this index's
-- predicate matches.
CREATE INDEX frontier_inflight_domain_idx ON frontier (domain) WHERE lease_expires_at IS NOT NULL;
DROP INDEX IF EXISTS frontier_leased_domain_idx;
