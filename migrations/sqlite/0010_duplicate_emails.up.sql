-- Keycloak's duplicateEmailsAllowed, enforced by the database: a user's
-- email is unique in its realm unless the realm allows duplicates.
--
-- realms.duplicate_emails is the setting (the settings JSON keeps it too,
-- for the representation). Each user row carries a copy, which a trigger
-- rewrites in the statement that flips the realm's setting; the partial
-- unique index below then holds exactly the rows of realms that disallow
-- duplicates (a flip to "disallow" while two users share an email fails
-- with a unique violation). SQLite has one writer, so no insert can run
-- between reading the realm's setting and writing the row. (PostgreSQL
-- keeps the copy with a foreign key instead; adding a table constraint
-- here would mean rebuilding users.)
ALTER TABLE realms ADD COLUMN duplicate_emails INTEGER NOT NULL DEFAULT 0;
-- Realms whose settings already say so (the old unique index kept their
-- emails unique, so either value is consistent with the rows).
UPDATE realms SET duplicate_emails = 1
    WHERE CASE WHEN json_valid(settings) THEN json_extract(settings, '$.duplicateEmailsAllowed') = 1 ELSE 0 END;

ALTER TABLE users ADD COLUMN duplicate_emails INTEGER NOT NULL DEFAULT 0;
UPDATE users SET duplicate_emails = 1 WHERE realm_id IN (SELECT id FROM realms WHERE duplicate_emails = 1);
CREATE TRIGGER realms_duplicate_emails AFTER UPDATE OF duplicate_emails ON realms
    WHEN NEW.duplicate_emails IS NOT OLD.duplicate_emails BEGIN
    UPDATE users SET duplicate_emails = NEW.duplicate_emails WHERE realm_id = NEW.id;
END;

-- Lookups by email stay an index seek (the same name and columns as
-- before, no longer unique); the unique rule is an index of its own.
DROP INDEX users_email;
CREATE INDEX users_email ON users (realm_id, email) WHERE email <> '';
CREATE UNIQUE INDEX users_email_unique ON users (realm_id, email) WHERE email <> '' AND duplicate_emails = 0;
