-- Readiness's heartbeat: each server process upserts its row at most every
-- few seconds on a connection of its own (GET /health/ready), so a database
-- that can no longer be written (full disk, read-only, gone) turns the
-- probe DOWN. Rows of processes silent for a day are deleted by the next
-- heartbeat. beat_at is unix milliseconds.
CREATE TABLE health_heartbeat (
    instance TEXT PRIMARY KEY,
    beat_at  BIGINT NOT NULL
);
