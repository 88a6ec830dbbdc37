-- Pollers, schedulers and the changes they see (issue 13).

-- What a poller read of a change besides the first columns: its VCS, the commit's own date
-- (ms since the epoch) and the files it touched (one per line, bounded by the poller).
ALTER TABLE changes ADD COLUMN vcs TEXT;
ALTER TABLE changes ADD COLUMN changed_at BIGINT;
ALTER TABLE changes ADD COLUMN files TEXT;

-- Every change a build request tests (build_requests.change_id keeps the newest one).
CREATE TABLE build_request_changes (
    request_id BIGINT NOT NULL REFERENCES build_requests (id),
    change_id BIGINT NOT NULL REFERENCES changes (id),
    PRIMARY KEY (request_id, change_id)
);
CREATE INDEX build_request_changes_change ON build_request_changes (change_id);

-- Changes a buildout's scheduler has seen and not turned into build requests yet: stored with
-- the change, deleted with the requests, so a change seen before a crash is built after it,
-- once.
CREATE TABLE scheduler_pending (
    buildout TEXT NOT NULL,
    change_id BIGINT NOT NULL REFERENCES changes (id),
    PRIMARY KEY (buildout, change_id)
);

-- Each polled repository, by its URL as the configuration writes it: the heads of its last
-- good poll (JSON object branch → revision; "" for bzr), and how its last polls went.
CREATE TABLE poller_state (
    repository TEXT PRIMARY KEY,
    vcs TEXT NOT NULL,
    heads TEXT NOT NULL,
    last_poll_at BIGINT,
    last_error TEXT,
    failures BIGINT NOT NULL DEFAULT 0
);

-- The live sources last read from each buildout's configuration (JSON list of watch lines).
CREATE TABLE auto_watch (
    buildout TEXT PRIMARY KEY,
    watches TEXT NOT NULL,
    read_at BIGINT NOT NULL
);
