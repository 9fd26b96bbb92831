-- 0002: cheaper result writes (measured in BENCHMARKS.md).
--
-- The foreign keys results -> frontier and bodies -> results cost a
-- trigger-run index probe per written row at the end of every result write:
-- about 40% of the write statement's time. They guarded nothing the write
-- does not already guarantee: results and bodies are inserted only by the
-- fenced write, in the same statement that finds the frontier row leased
-- under the same lease token and locks it, and nothing deletes frontier or
-- results rows. The write tests check that every results row has its
-- frontier row and every body its results row.
ALTER TABLE results DROP CONSTRAINT IF EXISTS results_url_id_fkey;
ALTER TABLE bodies DROP CONSTRAINT IF EXISTS bodies_lease_token_fkey;

-- "Results in the last minute" (master status) scans by persisted_at,
-- which grows with insertion order: a BRIN index answers it at a fraction
-- of a B-tree's upkeep per row.
DROP INDEX IF EXISTS results_persisted_at_idx;
CREATE INDEX results_persisted_at_brin ON results USING brin (persisted_at);
