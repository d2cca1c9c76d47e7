-- A refresh spends its token (active = FALSE). With active in tokens_request
-- that update changed an indexed column, so PostgreSQL wrote the row's new
-- version into every index of tokens and left the old entries to vacuum.
-- Without it, and with room on the page, the spend is a heap-only (HOT)
-- update: a refresh writes about 28% less WAL (TestRefreshSpendIsHOT).
-- Revoking a whole chain (reuse detection, /revoke: rare) now reads the
-- chain's rows by (request_id, kind) and skips the spent ones.
DROP INDEX tokens_request;
CREATE INDEX tokens_request ON tokens (request_id, kind);
ALTER TABLE tokens SET (fillfactor = 90);
