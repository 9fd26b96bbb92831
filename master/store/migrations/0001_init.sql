-- 0001: frontier, results, bodies.
--
-- The frontier holds one row per normalised URL. A row moves
--   pending -> leased (claimed by the master, carries a fencing lease token)
--   leased  -> done | failed | dead   (a final result was persisted)
--   leased  -> pending                (transient failure with backoff, or lease released)
-- Only the leader master writes it.

CREATE SEQUENCE lease_token_seq;

CREATE TABLE frontier (
    id               bigserial   PRIMARY KEY,
    url              text        NOT NULL UNIQUE,
    host             text        NOT NULL,
    -- domain is the affinity key: all URLs of a domain go to one assistant
    -- and are never in flight on two slots at once.
    domain           text        NOT NULL,
    -- shard = hash(domain) mod 1024; assistants own shards by rendezvous
    -- hashing, so claims can filter by owner without hashing in SQL.
    shard            smallint    NOT NULL CHECK (shard >= 0 AND shard < 1024),
    -- Lower is sooner: the Tranco rank, or the priority given to enqueue.
    priority         integer     NOT NULL,
    state            text        NOT NULL DEFAULT 'pending'
                     CHECK (state IN ('pending', 'leased', 'done', 'failed', 'dead')),
    attempts         integer     NOT NULL DEFAULT 0,
    lease_token      bigint,
    lease_expires_at timestamptz,
    assistant        text,
    next_fetch_at    timestamptz NOT NULL DEFAULT now(),
    last_class       text,
    last_error       text,
    source           text        NOT NULL DEFAULT 'tranco',
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CHECK ((state = 'leased') = (lease_expires_at IS NOT NULL))
);

-- Claim scans pending rows in priority order.
CREATE INDEX frontier_pending_idx ON frontier (priority, id) WHERE state = 'pending';
-- Lease rescue and "is this domain in flight" checks touch only leased rows.
CREATE INDEX frontier_leased_expiry_idx ON frontier (lease_expires_at) WHERE state = 'leased';
CREATE INDEX frontier_leased_domain_idx ON frontier (domain) WHERE state = 'leased';
-- Dead-letter listing.
CREATE INDEX frontier_dead_idx ON frontier (last_class) WHERE state = 'dead';

-- One row per final attempt, keyed by its lease token: a retried write of
-- the same result can never add a second row.
CREATE TABLE results (
    lease_token       bigint      PRIMARY KEY,
    url_id            bigint      NOT NULL REFERENCES frontier (id),
    url               text        NOT NULL,
    final_url         text        NOT NULL,
    state             text        NOT NULL CHECK (state IN ('done', 'failed', 'dead')),
    http_status       integer     NOT NULL,
    content_type      text        NOT NULL,
    body_size         bigint      NOT NULL,
    body_truncated    boolean     NOT NULL,
    fetch_duration_us bigint      NOT NULL,
    title             text        NOT NULL,
    content_hash      bytea,
    error_class       text        NOT NULL,
    error_message     text        NOT NULL,
    robots            text        NOT NULL,
    redirects         integer     NOT NULL,
    attempts          integer     NOT NULL,
    assistant         text        NOT NULL,
    fetched_at        timestamptz NOT NULL,
    persisted_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX results_url_id_idx ON results (url_id);
CREATE INDEX results_persisted_at_idx ON results (persisted_at);

-- Bodies live apart from results so scans of results stay small. The
-- column is compressed by PostgreSQL's TOAST with lz4 (Debian's server is
-- built with it); values under ~2 KB are stored inline, uncompressed.
CREATE TABLE bodies (
    lease_token bigint PRIMARY KEY REFERENCES results (lease_token) ON DELETE CASCADE,
    body        bytea  NOT NULL
);
ALTER TABLE bodies ALTER COLUMN body SET COMPRESSION lz4;

-- The leader master's heartbeat, read by `master status`.
CREATE TABLE master_status (
    id          boolean     PRIMARY KEY DEFAULT true CHECK (id),
    master_id   text        NOT NULL,
    started_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    assistants  jsonb       NOT NULL DEFAULT '[]'
);

-- Fencing and release look leases up by token.
CREATE INDEX frontier_lease_token_idx ON frontier (lease_token) WHERE state = 'leased';
