-- keygate schema, version 1 (SQLite).
--
-- Conventions: ids are TEXT; timestamps are BIGINT unix milliseconds, 0 when
-- unset; booleans are INTEGER 0/1; JSON documents and maps are TEXT, '' when
-- empty. Every realm-owned table references realms ON DELETE CASCADE (the
-- store turns foreign_keys on for every connection), and every foreign-key
-- column leads some index so that a cascade never scans a table.
-- Lower-cased search columns use COLLATE NOCASE: SQLite's LIKE is
-- ASCII-case-insensitive, and only a NOCASE index serves `LIKE 'x%'`.

CREATE TABLE realms (
    id       TEXT PRIMARY KEY,
    name     TEXT NOT NULL UNIQUE,
    enabled  INTEGER NOT NULL,
    settings TEXT NOT NULL DEFAULT '',
    created  BIGINT NOT NULL
);

CREATE TABLE clients (
    id                      TEXT PRIMARY KEY,
    realm_id                TEXT NOT NULL REFERENCES realms (id) ON DELETE CASCADE,
    client_id               TEXT NOT NULL,
    secret                  TEXT NOT NULL DEFAULT '',
    registration_token_hash TEXT NOT NULL DEFAULT '',
    config                  TEXT NOT NULL DEFAULT '',
    created                 BIGINT NOT NULL,
    UNIQUE (realm_id, client_id)
);

CREATE TABLE client_scopes (
    id       TEXT PRIMARY KEY,
    realm_id TEXT NOT NULL REFERENCES realms (id) ON DELETE CASCADE,
    name     TEXT NOT NULL,
    config   TEXT NOT NULL DEFAULT '',
    UNIQUE (realm_id, name)
);

-- client_id is '' for realm roles (so the unique constraint holds for them)
-- and the client's internal id otherwise; DeleteClient removes its roles.
CREATE TABLE roles (
    id          TEXT PRIMARY KEY,
    realm_id    TEXT NOT NULL REFERENCES realms (id) ON DELETE CASCADE,
    client_id   TEXT NOT NULL DEFAULT '',
    name        TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    attributes  TEXT NOT NULL DEFAULT '',
    UNIQUE (realm_id, client_id, name)
);

CREATE TABLE role_composites (
    realm_id  TEXT NOT NULL REFERENCES realms (id) ON DELETE CASCADE,
    parent_id TEXT NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
    child_id  TEXT NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
    PRIMARY KEY (parent_id, child_id)
);
CREATE INDEX role_composites_child ON role_composites (child_id);
CREATE INDEX role_composites_realm ON role_composites (realm_id);

-- parent_id is '' for top-level groups; DeleteGroup removes the subtree.
CREATE TABLE groups (
    id         TEXT PRIMARY KEY,
    realm_id   TEXT NOT NULL REFERENCES realms (id) ON DELETE CASCADE,
    parent_id  TEXT NOT NULL DEFAULT '',
    name       TEXT NOT NULL,
    attributes TEXT NOT NULL DEFAULT '',
    UNIQUE (realm_id, parent_id, name)
);

CREATE TABLE group_roles (
    realm_id TEXT NOT NULL REFERENCES realms (id) ON DELETE CASCADE,
    group_id TEXT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    role_id  TEXT NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, role_id)
);
CREATE INDEX group_roles_role ON group_roles (role_id);
CREATE INDEX group_roles_realm ON group_roles (realm_id);

-- username and email are stored lower-cased; first_lower and last_lower are
-- lower-cased copies of the names for search. Prefix matches (LIKE 'x%') use
-- the (realm_id, column) indexes; substring matches (LIKE '%x%') read every
-- user of the realm.
CREATE TABLE users (
    id               TEXT PRIMARY KEY,
    realm_id         TEXT NOT NULL REFERENCES realms (id) ON DELETE CASCADE,
    username         TEXT NOT NULL COLLATE NOCASE,
    email            TEXT NOT NULL DEFAULT '' COLLATE NOCASE,
    email_verified   INTEGER NOT NULL DEFAULT 0,
    first_name       TEXT NOT NULL DEFAULT '',
    last_name        TEXT NOT NULL DEFAULT '',
    first_lower      TEXT NOT NULL DEFAULT '' COLLATE NOCASE,
    last_lower       TEXT NOT NULL DEFAULT '' COLLATE NOCASE,
    enabled          INTEGER NOT NULL,
    created          BIGINT NOT NULL,
    federation_link  TEXT NOT NULL DEFAULT '',
    service_account  TEXT NOT NULL DEFAULT '',
    attributes       TEXT NOT NULL DEFAULT '',
    required_actions TEXT NOT NULL DEFAULT '',
    not_before       BIGINT NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX users_username ON users (realm_id, username);
CREATE UNIQUE INDEX users_email ON users (realm_id, email) WHERE email <> '';
CREATE UNIQUE INDEX users_service_account ON users (realm_id, service_account) WHERE service_account <> '';
CREATE INDEX users_first ON users (realm_id, first_lower);
CREATE INDEX users_last ON users (realm_id, last_lower);

CREATE TABLE user_roles (
    realm_id TEXT NOT NULL REFERENCES realms (id) ON DELETE CASCADE,
    user_id  TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role_id  TEXT NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, role_id)
);
CREATE INDEX user_roles_role ON user_roles (role_id);
CREATE INDEX user_roles_realm ON user_roles (realm_id);

CREATE TABLE user_groups (
    realm_id TEXT NOT NULL REFERENCES realms (id) ON DELETE CASCADE,
    user_id  TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    group_id TEXT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, group_id)
);
CREATE INDEX user_groups_group ON user_groups (group_id);
CREATE INDEX user_groups_realm ON user_groups (realm_id);

CREATE TABLE credentials (
    id              TEXT PRIMARY KEY,
    realm_id        TEXT NOT NULL REFERENCES realms (id) ON DELETE CASCADE,
    user_id         TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    type            TEXT NOT NULL,
    user_label      TEXT NOT NULL DEFAULT '',
    created         BIGINT NOT NULL,
    secret_data     TEXT NOT NULL DEFAULT '',
    credential_data TEXT NOT NULL DEFAULT '',
    priority        INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX credentials_user ON credentials (user_id, type);
CREATE INDEX credentials_realm ON credentials (realm_id);

-- user_id has no foreign key: DeleteUser removes the user's sessions (and
-- their tokens) itself, and sessions stay writable on the hot login path
-- without a second lookup.
CREATE TABLE sessions (
    id          TEXT PRIMARY KEY,
    realm_id    TEXT NOT NULL REFERENCES realms (id) ON DELETE CASCADE,
    user_id     TEXT NOT NULL,
    created     BIGINT NOT NULL,
    last_seen   BIGINT NOT NULL,
    auth_time   BIGINT NOT NULL,
    remember_me INTEGER NOT NULL DEFAULT 0,
    ip_address  TEXT NOT NULL DEFAULT '',
    data        TEXT NOT NULL DEFAULT ''
);
CREATE INDEX sessions_user ON sessions (realm_id, user_id);
CREATE INDEX sessions_last_seen ON sessions (realm_id, last_seen);

-- fosite's records, the hottest table: no foreign keys (DeleteRealm,
-- DeleteSession and DeleteUser remove tokens explicitly) and only the indexes
-- its queries need. expires = 0 means the token never expires.
CREATE TABLE tokens (
    kind       TEXT NOT NULL,
    signature  TEXT NOT NULL,
    request_id TEXT NOT NULL,
    realm_id   TEXT NOT NULL,
    client_id  TEXT NOT NULL,
    subject    TEXT NOT NULL DEFAULT '',
    session_id TEXT NOT NULL DEFAULT '',
    active     INTEGER NOT NULL,
    requested  BIGINT NOT NULL,
    expires    BIGINT NOT NULL,
    request    TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (kind, signature)
);
CREATE INDEX tokens_request ON tokens (request_id);
CREATE INDEX tokens_session ON tokens (session_id) WHERE session_id <> '';
CREATE INDEX tokens_expires ON tokens (expires) WHERE expires > 0;

-- At most one active key per (realm, algorithm): CreateActiveKey relies on
-- this partial unique index to stay race-free across replicas.
CREATE TABLE keys (
    id          TEXT PRIMARY KEY,
    realm_id    TEXT NOT NULL REFERENCES realms (id) ON DELETE CASCADE,
    algorithm   TEXT NOT NULL,
    key_use     TEXT NOT NULL DEFAULT '',
    active      INTEGER NOT NULL,
    private_key BLOB NOT NULL,
    created     BIGINT NOT NULL
);
CREATE INDEX keys_realm ON keys (realm_id, algorithm);
CREATE UNIQUE INDEX keys_active ON keys (realm_id, algorithm) WHERE active;

CREATE TABLE login_failures (
    realm_id                TEXT NOT NULL REFERENCES realms (id) ON DELETE CASCADE,
    user_id                 TEXT NOT NULL,
    num_failures            INTEGER NOT NULL DEFAULT 0,
    num_temp_lockouts       INTEGER NOT NULL DEFAULT 0,
    last_failure            BIGINT NOT NULL DEFAULT 0,
    last_ip_failure         TEXT NOT NULL DEFAULT '',
    failed_login_not_before BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (realm_id, user_id)
);

-- parent_id is free-form (Keycloak parents top-level components to the
-- realm id); DeleteComponent removes the subtree.
CREATE TABLE components (
    id            TEXT PRIMARY KEY,
    realm_id      TEXT NOT NULL REFERENCES realms (id) ON DELETE CASCADE,
    parent_id     TEXT NOT NULL DEFAULT '',
    name          TEXT NOT NULL,
    provider_id   TEXT NOT NULL,
    provider_type TEXT NOT NULL,
    sub_type      TEXT NOT NULL DEFAULT '',
    config        TEXT NOT NULL DEFAULT ''
);
CREATE INDEX components_parent ON components (realm_id, parent_id);
CREATE INDEX components_type ON components (realm_id, provider_type);

CREATE TABLE identity_providers (
    internal_id TEXT PRIMARY KEY,
    realm_id    TEXT NOT NULL REFERENCES realms (id) ON DELETE CASCADE,
    alias       TEXT NOT NULL,
    provider_id TEXT NOT NULL,
    enabled     INTEGER NOT NULL,
    config      TEXT NOT NULL DEFAULT '',
    UNIQUE (realm_id, alias)
);

CREATE TABLE identity_provider_mappers (
    id       TEXT PRIMARY KEY,
    realm_id TEXT NOT NULL REFERENCES realms (id) ON DELETE CASCADE,
    alias    TEXT NOT NULL,
    name     TEXT NOT NULL,
    mapper   TEXT NOT NULL,
    config   TEXT NOT NULL DEFAULT '',
    FOREIGN KEY (realm_id, alias) REFERENCES identity_providers (realm_id, alias)
        ON DELETE CASCADE ON UPDATE CASCADE
);
CREATE INDEX identity_provider_mappers_alias ON identity_provider_mappers (realm_id, alias);
