-- 0005: named crawls, site crawls (depth, the seed a URL descends from),
-- and a fixed-width URL key.
--
-- A crawl is a named set of seeds with its policy. Crawl 1, "default", has
-- max_depth 0: it fetches the URLs given, as every earlier version did,
-- and every existing row belongs to it.
CREATE TABLE crawls (
    id                    serial      PRIMARY KEY,
    name                  text        NOT NULL UNIQUE,
    scope                 text        NOT NULL CHECK (scope IN ('host', 'domain', 'any')),
    allow_re              text[]      NOT NULL,
    deny_re               text[]      NOT NULL,
    max_depth             integer     NOT NULL CHECK (max_depth >= 0 AND max_depth <= 1000),
    site_budget           integer     NOT NULL CHECK (site_budget >= 1),
    max_links             integer     NOT NULL CHECK (max_links >= 0),
    max_url_length        integer     NOT NULL CHECK (max_url_length >= 16),
    max_path_segments     integer     NOT NULL CHECK (max_path_segments >= 1),
    max_repeated_segments integer     NOT NULL CHECK (max_repeated_segments >= 1),
    sitemaps              boolean     NOT NULL,
    paused                boolean     NOT NULL DEFAULT false,
    -- Crawls of scope 'any': the deepest level claimed so far. A link can
    -- lead to any site there, so the per-site level barrier of the claim
    -- does not make depth exact; the whole crawl goes one level at a time
    -- (store.AdvanceLevels). Unused by the other scopes.
    level                 smallint    NOT NULL DEFAULT 0,
    created_at            timestamptz NOT NULL DEFAULT now()
);
-- The defaults of new crawls live in Go (frontier.NewCrawl); this row is
-- the one crawl that exists without being created: no discovery, so its
-- link settings never apply.
INSERT INTO crawls (id, name, scope, allow_re, deny_re, max_depth, site_budget, max_links,
    max_url_length, max_path_segments, max_repeated_segments, sitemaps)
VALUES (1, 'default', 'domain', '{}', '{}', 0, 1, 0, 2048, 20, 2, false);
SELECT setval('crawls_id_seq', 1);

-- depth: the shortest link distance from the seed (0 for seeds).
-- seed_host: the host of the seed the URL descends from (NULL for a seed:
-- its own host); scope is relative to it. No foreign key to crawls: the
-- import and link-admission paths insert many rows per statement, and the
-- trigger-run probe per row is what migration 0002 removed for results.
ALTER TABLE frontier
    ADD COLUMN crawl_id  integer  NOT NULL DEFAULT 1,
    ADD COLUMN depth     smallint NOT NULL DEFAULT 0,
    ADD COLUMN seed_host text,
    ADD COLUMN url_key   uuid;

-- url_key is the first 16 bytes of SHA-256 of the normalised URL (the Go
-- side computes the same, frontier.Key). Unique per crawl, it replaces the
-- unique index on url, which failed for URLs over ~2.7 KB ("index row size
-- exceeds btree version 4 maximum 2704") and aborted whole import chunks.
UPDATE frontier SET url_key = encode(substr(sha256(convert_to(url, 'UTF8')), 1, 16), 'hex')::uuid;
ALTER TABLE frontier ALTER COLUMN url_key SET NOT NULL;
CREATE UNIQUE INDEX frontier_crawl_key_idx ON frontier (crawl_id, url_key);
ALTER TABLE frontier DROP CONSTRAINT IF EXISTS frontier_url_key;

-- The claim's level barrier: a site's URL at depth d is claimed only when
-- none of the same crawl and site is still pending at a smaller depth, so
-- a page is fetched only once its depth is final (see claimSQL).
CREATE INDEX frontier_site_level_idx ON frontier (crawl_id, domain, depth) WHERE state = 'pending';

-- Per crawl and site (registrable domain): URLs admitted so far, for the
-- site budget, and the sequence that interleaves sites in claim order.
-- Kept for crawls that discover links (max_depth > 0) only.
CREATE TABLE sites (
    crawl_id integer NOT NULL,
    site     text    NOT NULL,
    admitted integer NOT NULL DEFAULT 0,
    PRIMARY KEY (crawl_id, site)
);

-- Results of pages that asked not to be indexed keep no body.
ALTER TABLE results
    ADD COLUMN crawl_id integer NOT NULL DEFAULT 1,
    ADD COLUMN depth    smallint NOT NULL DEFAULT 0,
    ADD COLUMN noindex  boolean NOT NULL DEFAULT false,
    ADD COLUMN links    integer NOT NULL DEFAULT 0;
