-- 0007: revisits, scheduled crawls, retention, stored heads, and the
-- results cursor.
--
-- A crawl's revisit policy: 'none' (a final URL is never fetched again,
-- as before), 'fixed' (each final state is fetched again after its
-- interval; 0 never) or 'adaptive' (a done URL's interval follows how
-- often its content changes, between revisit_min and revisit_max; failed
-- and dead as 'fixed'). Defaults: master/frontier.DefaultRevisit.
ALTER TABLE crawls
    ADD COLUMN revisit        text     NOT NULL DEFAULT 'none' CHECK (revisit IN ('none', 'fixed', 'adaptive')),
    ADD COLUMN revisit_done   interval NOT NULL DEFAULT '24 hours',
    ADD COLUMN revisit_failed interval NOT NULL DEFAULT '2 hours',
    ADD COLUMN revisit_dead   interval NOT NULL DEFAULT '2 hours',
    ADD COLUMN revisit_min    interval NOT NULL DEFAULT '1 minute',
    ADD COLUMN revisit_max    interval NOT NULL DEFAULT '365 days',
    -- Scheduled crawls: every 'every', or at each time of 'cron', the
    -- crawl's seeds become due again (a round). overlap says what a tick does while the previous round
    -- still has URLs pending or leased: 'skip' the round, or 'merge' it
    -- (seeds already final become due; the rest goes on).
    ADD COLUMN every          interval CHECK (every >= '1 second'),
    -- Or a standard five-field cron expression (robfig/cron), in UTC.
    ADD COLUMN cron           text,
    ADD COLUMN overlap        text     NOT NULL DEFAULT 'skip' CHECK (overlap IN ('skip', 'merge')),
    ADD COLUMN next_round_at  timestamptz,
    ADD COLUMN rounds         integer  NOT NULL DEFAULT 0,
    -- Results (and their bodies) older than this are deleted; NULL: the
    -- deployment's retention.default (rpc.yaml), itself 0 = keep forever.
    ADD COLUMN retention      interval CHECK (retention >= '1 second'),
    ADD CONSTRAINT crawls_one_schedule CHECK (cron IS NULL OR (cron <> '' AND every IS NULL)),
    ADD CONSTRAINT crawls_revisit_bounds CHECK (revisit_min > '0' AND revisit_min <= revisit_max
        AND revisit_done >= '0' AND revisit_failed >= '0' AND revisit_dead >= '0');

-- Per URL, what a revisit needs: the validators and content hash of the
-- last successful fetch and when it was, when that content was first
-- fetched (changed_at, which unchanged fetches refer to), the time it is due again
-- (revisit_at; NULL: never), and the adaptive schedule's state in seconds
-- (the interval in use; the decayed time observed, changes seen and
-- revisits made: time per change estimates the change interval). All NULL for crawls that do not
-- revisit, which costs them nothing.
ALTER TABLE frontier
    ADD COLUMN etag          text,
    ADD COLUMN last_modified text,
    ADD COLUMN last_hash     bytea,
    ADD COLUMN last_ok_at    timestamptz,
    ADD COLUMN changed_at    timestamptz,
    ADD COLUMN revisit_at    timestamptz,
    ADD COLUMN rv_interval   real,
    ADD COLUMN rv_span       real,
    ADD COLUMN rv_changes    real,
    ADD COLUMN rv_visits     real;
-- The revisit loop finds due URLs in time order (store.PromoteDue).
CREATE INDEX frontier_revisit_idx ON frontier (revisit_at) WHERE revisit_at IS NOT NULL;
-- A scheduled round makes a crawl's seeds due. The default crawl (1)
-- cannot be scheduled, so its imports (every row a seed) pay nothing for
-- this index.
CREATE INDEX frontier_seeds_idx ON frontier (crawl_id) WHERE depth = 0 AND crawl_id <> 1;

-- Each fetch is a results row: revisits add rows (history). Stored with
-- each: the request and response heads in HTTP/1.1 wire form (the
-- response's capped: crawl.MaxStoredHeaders), whether the server said 304
-- and whether the content equals the URL's previous fetch (and that
-- fetch's time, for WARC revisit records).
--
-- xid is the writing transaction's id. Results are streamed and exported
-- in (xid, lease_token) order, reading only rows whose transaction is
-- older than every running one (pg_snapshot_xmin): a transaction that
-- commits later always has a larger xid than that horizon, so a reader
-- resuming after a cursor never misses a row that committed late.
ALTER TABLE results
    ADD COLUMN request_head  bytea,
    ADD COLUMN response_head bytea,
    ADD COLUMN not_modified  boolean NOT NULL DEFAULT false,
    ADD COLUMN unchanged     boolean NOT NULL DEFAULT false,
    ADD COLUMN refers_to     timestamptz,
    ADD COLUMN xid           xid8    NOT NULL DEFAULT pg_current_xact_id();
CREATE INDEX results_cursor_idx ON results (xid, lease_token);
-- Retention deletes a crawl's oldest results a batch at a time. Through
-- the BRIN index each batch re-read the rows the batches before it had
-- deleted (dead until vacuumed): 7.6 ms for the first batch of a
-- 1,000,000-row backlog, 125 ms for the 90th. A B-tree skips dead
-- entries once it has seen them.
CREATE INDEX results_crawl_age_idx ON results (crawl_id, persisted_at);
