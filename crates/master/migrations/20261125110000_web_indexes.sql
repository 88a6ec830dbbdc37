-- The web pages: a forced build request keeps its properties (JSON object text), and the
-- pages' queries each read a few index entries instead of every build.

ALTER TABLE build_requests ADD COLUMN properties TEXT;

-- builds by result for /metrics, counted from the index alone.
CREATE INDEX builds_result ON builds (result);
-- a worker's last connection for the workers page.
CREATE INDEX worker_connections_worker ON worker_connections (worker, id);
-- the queued requests of one builder for the builder page.
CREATE INDEX build_requests_builder ON build_requests (builder, id);
