-- A user's links to identity-provider accounts (Keycloak's federated
-- identities): one per provider and user; one user per provider account.
-- They go with the user and with the provider.
CREATE TABLE federated_identities (
    realm_id      TEXT NOT NULL REFERENCES realms (id) ON DELETE CASCADE,
    user_id       TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    alias         TEXT NOT NULL,
    external_id   TEXT NOT NULL COLLATE "C",
    external_name TEXT NOT NULL DEFAULT '',
    token         TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (user_id, alias),
    UNIQUE (realm_id, alias, external_id),
    FOREIGN KEY (realm_id, alias) REFERENCES identity_providers (realm_id, alias)
        ON DELETE CASCADE ON UPDATE CASCADE
);
