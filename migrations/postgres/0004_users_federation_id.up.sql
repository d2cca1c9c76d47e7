-- The immutable id a user storage provider gave a user it imported
-- (Keycloak's LDAP_ID attribute), in a column of its own so that a login
-- or a sync finds the user by it through an index, whatever its username
-- has become.
ALTER TABLE users ADD COLUMN federation_id TEXT NOT NULL DEFAULT '' COLLATE "C";
UPDATE users SET federation_id = COALESCE(attributes::jsonb -> 'LDAP_ID' ->> 0, '')
    WHERE federation_link <> '' AND attributes LIKE '{%';
CREATE INDEX users_federation ON users (realm_id, federation_link, federation_id) WHERE federation_link <> '';
