-- The last build of each builder, kept up to date when a build starts, so the grid reads one
-- row per builder instead of looking through the builds.
CREATE TABLE builder_last_builds (
    builder TEXT PRIMARY KEY,
    build_id BIGINT NOT NULL
);
INSERT INTO builder_last_builds (builder, build_id)
    SELECT builder, MAX(id) FROM builds GROUP BY builder;
