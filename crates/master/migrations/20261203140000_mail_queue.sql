-- Outgoing mail, queued in the transaction of the event that causes it (a build's result, a
-- worker missing or back) and sent by the mail task. `status`: queued (waiting, maybe after
-- failed attempts), sending (an attempt started and its end was not recorded: the master
-- stopped during it, so it is sent again with the same Message-ID), sent.
INSERT INTO id_sequences (name, next_id) VALUES ('mail', 1);
CREATE TABLE mail_queue (
    id BIGINT PRIMARY KEY,
    created_at BIGINT NOT NULL,
    kind TEXT NOT NULL,
    build_id BIGINT,
    worker TEXT,
    -- JSON array of addresses.
    recipients TEXT NOT NULL,
    subject TEXT NOT NULL,
    body_text TEXT NOT NULL,
    body_html TEXT NOT NULL,
    message_id TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    last_error TEXT,
    sent_at BIGINT
);
CREATE INDEX mail_queue_due ON mail_queue (status, next_attempt_at, id);
-- Counters for /metrics that outlive the pruning of sent mail: sent, dropped (the queue was
-- full), failed_attempts.
CREATE TABLE mail_counters (
    name TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);
INSERT INTO mail_counters (name, value) VALUES ('sent', 0), ('dropped', 0), ('failed_attempts', 0);
-- Workers whose missing mail went, until their back mail goes: when they left, when the mail
-- was queued.
CREATE TABLE worker_absences (
    worker TEXT PRIMARY KEY,
    left_at BIGINT NOT NULL,
    missing_mailed_at BIGINT NOT NULL
);
