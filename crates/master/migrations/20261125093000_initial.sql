-- The master's state. Written for both SQLite and PostgreSQL: integer columns are BIGINT,
-- times are milliseconds since the epoch, ids come from id_sequences (the two databases
-- spell auto-increment differently) and blobs are BYTEA (SQLite keeps them as blobs).

CREATE TABLE id_sequences (
    name TEXT PRIMARY KEY,
    next_id BIGINT NOT NULL
);
INSERT INTO id_sequences (name, next_id) VALUES
    ('changes', 1), ('build_requests', 1), ('builds', 1), ('steps', 1),
    ('worker_connections', 1);

CREATE TABLE workers (
    name TEXT PRIMARY KEY,
    info TEXT,
    first_seen_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL
);

CREATE TABLE worker_connections (
    id BIGINT PRIMARY KEY,
    worker TEXT NOT NULL REFERENCES workers (name),
    peer TEXT NOT NULL,
    connected_at BIGINT NOT NULL,
    disconnected_at BIGINT,
    reason TEXT
);
CREATE INDEX worker_connections_open ON worker_connections (disconnected_at);

CREATE TABLE changes (
    id BIGINT PRIMARY KEY,
    repository TEXT NOT NULL,
    branch TEXT,
    revision TEXT NOT NULL,
    author TEXT,
    comments TEXT,
    seen_at BIGINT NOT NULL
);

CREATE TABLE build_requests (
    id BIGINT PRIMARY KEY,
    builder TEXT NOT NULL,
    reason TEXT NOT NULL,
    change_id BIGINT REFERENCES changes (id),
    submitted_at BIGINT NOT NULL,
    -- The build running it now; NULL while queued or once complete.
    claimed_by BIGINT,
    complete_at BIGINT,
    result BIGINT
);
CREATE INDEX build_requests_queue ON build_requests (complete_at, claimed_by, id);

CREATE TABLE builds (
    id BIGINT PRIMARY KEY,
    request_id BIGINT NOT NULL REFERENCES build_requests (id),
    builder TEXT NOT NULL,
    worker TEXT NOT NULL,
    started_at BIGINT NOT NULL,
    finished_at BIGINT,
    result BIGINT,
    state_text TEXT NOT NULL
);
CREATE INDEX builds_builder ON builds (builder, id);
CREATE INDEX builds_request ON builds (request_id);
CREATE INDEX builds_running ON builds (finished_at);

CREATE TABLE build_properties (
    build_id BIGINT NOT NULL REFERENCES builds (id),
    name TEXT NOT NULL,
    value TEXT NOT NULL,
    source TEXT NOT NULL,
    PRIMARY KEY (build_id, name)
);

CREATE TABLE steps (
    id BIGINT PRIMARY KEY,
    build_id BIGINT NOT NULL REFERENCES builds (id),
    number BIGINT NOT NULL,
    name TEXT NOT NULL,
    started_at BIGINT NOT NULL,
    finished_at BIGINT,
    result BIGINT,
    state_text TEXT NOT NULL,
    UNIQUE (build_id, number)
);

-- A step's log as it came from the worker, one deflate-compressed chunk per row.
CREATE TABLE log_chunks (
    step_id BIGINT NOT NULL REFERENCES steps (id),
    seq BIGINT NOT NULL,
    raw_size BIGINT NOT NULL,
    data BYTEA NOT NULL,
    PRIMARY KEY (step_id, seq)
);
