-- What made a build red, at a glance: the cause of each failed step (read from its log by
-- oebb_analyze::step_cause) and the analyzer's findings of the Odoo log, in the order found.
-- `weight` orders them on the pages (0: names a cause; 1: a warning; 2: only a log's last
-- lines). `first_build` and `seen_builds` are what `builder_fingerprints` said when the row
-- was stored: the builder's first build with this fingerprint, and how many of its builds had
-- it since (this one included). `log` is `stdio` or `file` (the analysed Odoo log).
CREATE TABLE build_findings (
    build_id BIGINT NOT NULL REFERENCES builds (id),
    seq BIGINT NOT NULL,
    builder TEXT NOT NULL,
    step_number BIGINT NOT NULL,
    step_name TEXT NOT NULL,
    log TEXT NOT NULL,
    line_number BIGINT NOT NULL,
    rule TEXT NOT NULL,
    severity TEXT NOT NULL,
    weight BIGINT NOT NULL,
    message TEXT NOT NULL,
    detail TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    first_build BIGINT NOT NULL,
    seen_builds BIGINT NOT NULL,
    PRIMARY KEY (build_id, seq)
);
-- A build's first finding (the grid, the builder page, `oebb builds`): one index entry.
CREATE INDEX build_findings_first ON build_findings (build_id, weight, seq);
-- One row per fingerprint a builder has met: new or known is one lookup, and the builder
-- page's recurring findings one index range.
CREATE TABLE builder_fingerprints (
    builder TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    rule TEXT NOT NULL,
    message TEXT NOT NULL,
    first_build BIGINT NOT NULL,
    last_build BIGINT NOT NULL,
    builds BIGINT NOT NULL,
    PRIMARY KEY (builder, fingerprint)
);
CREATE INDEX builder_fingerprints_recent ON builder_fingerprints (builder, last_build);
