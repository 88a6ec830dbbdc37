-- A step's named logs beside its `stdio` (which stays in log_chunks): the files a step keeps as
-- build logs (Buildbot's logfiles, e.g. the Odoo server's `--logfile` as `test`), one
-- deflate-compressed chunk per row, numbered per log.
CREATE TABLE step_logs (
    step_id BIGINT NOT NULL REFERENCES steps (id),
    name TEXT NOT NULL,
    seq BIGINT NOT NULL,
    raw_size BIGINT NOT NULL,
    data BYTEA NOT NULL,
    PRIMARY KEY (step_id, name, seq)
);
