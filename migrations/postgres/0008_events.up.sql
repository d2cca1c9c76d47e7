-- Keycloak's login and admin events (GET /admin/realms/{realm}/events and
-- /admin-events), written in batches by the server's event writer. time is
-- unix milliseconds; details is a JSON object of strings. No foreign key on
-- the realm: a batch may land after its realm was deleted, and DeleteRealm
-- deletes the realm's events itself. Lists are newest first per realm.
CREATE TABLE events (
    id         TEXT PRIMARY KEY,
    realm_id   TEXT NOT NULL,
    time       BIGINT NOT NULL,
    type       TEXT NOT NULL,
    client_id  TEXT NOT NULL DEFAULT '',
    user_id    TEXT NOT NULL DEFAULT '',
    session_id TEXT NOT NULL DEFAULT '',
    ip_address TEXT NOT NULL DEFAULT '',
    error      TEXT NOT NULL DEFAULT '',
    details    TEXT NOT NULL DEFAULT ''
);
CREATE INDEX events_realm_time ON events (realm_id, time);

CREATE TABLE admin_events (
    id              TEXT PRIMARY KEY,
    realm_id        TEXT NOT NULL,
    time            BIGINT NOT NULL,
    operation_type  TEXT NOT NULL,
    resource_type   TEXT NOT NULL DEFAULT '',
    resource_path   TEXT NOT NULL DEFAULT '',
    auth_realm_id   TEXT NOT NULL DEFAULT '',
    auth_client_id  TEXT NOT NULL DEFAULT '',
    auth_user_id    TEXT NOT NULL DEFAULT '',
    auth_ip_address TEXT NOT NULL DEFAULT '',
    representation  TEXT NOT NULL DEFAULT '',
    error           TEXT NOT NULL DEFAULT ''
);
CREATE INDEX admin_events_realm_time ON admin_events (realm_id, time);
