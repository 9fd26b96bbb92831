-- 0006: every master's heartbeat, leader and standbys.
--
-- master_status holds the leader's view of the assistants; this table says
-- which masters run and in which role, so `master status` lists standbys
-- too. A master that stops cleanly deletes its row (and the leader its
-- master_status row), so a stopped master is shown stopped at once; one
-- that dies is shown by the age of its heartbeat.
CREATE TABLE masters (
    id         text        PRIMARY KEY,
    role       text        NOT NULL CHECK (role IN ('leader', 'standby')),
    started_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
