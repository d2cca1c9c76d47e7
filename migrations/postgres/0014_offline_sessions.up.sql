-- The admin API lists a user's or a realm's offline sessions, and deleting
-- a user deletes its offline tokens. Only offline tokens enter this index:
-- an online refresh writes nothing more, and on PostgreSQL kind never
-- changes, so spending an offline token stays a heap-only update.
CREATE INDEX tokens_offline ON tokens (realm_id, subject) WHERE kind = 'offline';
