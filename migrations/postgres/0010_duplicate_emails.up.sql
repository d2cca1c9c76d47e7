-- Keycloak's duplicateEmailsAllowed, enforced by the database: a user's
-- email is unique in its realm unless the realm allows duplicates.
--
-- realms.duplicate_emails is the setting (the settings JSON keeps it too,
-- for the representation). Each user row carries a copy, which the foreign
-- key (realm_id, duplicate_emails) -> realms keeps equal to its realm's:
-- ON UPDATE CASCADE rewrites a realm's users in the statement that flips
-- the setting, and the partial unique index below then holds exactly the
-- rows of realms that disallow duplicates (a flip to "disallow" while two
-- users share an email fails with a unique violation). The key also makes
-- a flip and a concurrent user insert exclude each other without any lock
-- of ours: the insert's key check locks the realm row FOR KEY SHARE, which
-- an update of a referenced column waits for; an insert that read the old
-- setting fails its key check instead of storing a row the flip missed.
ALTER TABLE realms ADD COLUMN duplicate_emails BOOLEAN NOT NULL DEFAULT FALSE;
-- Realms whose settings already say so (the old unique index kept their
-- emails unique, so either value is consistent with the rows).
UPDATE realms SET duplicate_emails = TRUE WHERE settings ~ '"duplicateEmailsAllowed"\s*:\s*true';
CREATE UNIQUE INDEX realms_duplicate_emails ON realms (id, duplicate_emails);

ALTER TABLE users ADD COLUMN duplicate_emails BOOLEAN NOT NULL DEFAULT FALSE;
UPDATE users SET duplicate_emails = TRUE WHERE realm_id IN (SELECT id FROM realms WHERE duplicate_emails);
-- The composite key implies the realm exists: it replaces the plain one,
-- so an insert still makes one key check.
ALTER TABLE users DROP CONSTRAINT users_realm_id_fkey;
ALTER TABLE users ADD CONSTRAINT users_realm_id_fkey FOREIGN KEY (realm_id, duplicate_emails)
    REFERENCES realms (id, duplicate_emails) ON UPDATE CASCADE ON DELETE CASCADE;

-- Lookups by email stay an index seek (the same name and columns as
-- before, no longer unique); the unique rule is an index of its own.
DROP INDEX users_email;
CREATE INDEX users_email ON users (realm_id, email) WHERE email <> '';
CREATE UNIQUE INDEX users_email_unique ON users (realm_id, email) WHERE email <> '' AND NOT duplicate_emails;
