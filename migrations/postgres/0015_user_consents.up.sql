-- A user's consent to a client that asks for one (consentRequired): the
-- client scopes granted (a JSON array of client scope ids), as Keycloak's
-- user consents. They go with their user, their client and their realm.
CREATE TABLE user_consents (
    realm_id  TEXT NOT NULL REFERENCES realms (id) ON DELETE CASCADE,
    user_id   TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id TEXT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    scopes    TEXT NOT NULL DEFAULT '',
    created   BIGINT NOT NULL,
    updated   BIGINT NOT NULL,
    PRIMARY KEY (realm_id, user_id, client_id)
);
CREATE INDEX user_consents_client ON user_consents (client_id);
