-- A refresh moves its session's last_seen. sessions_last_seen made every
-- such touch update an index that nothing reads: the sweeper asks for
-- (last_seen < ? OR created < ?) within one realm, which sessions_user's
-- realm_id prefix serves, and no query orders by last_seen. Without it a
-- touch changes no indexed column (on PostgreSQL, a heap-only update).
DROP INDEX sessions_last_seen;
-- Room on each page for the new row version of a touched session, so the
-- heap-only update finds space where the old one lives.
ALTER TABLE sessions SET (fillfactor = 90);
