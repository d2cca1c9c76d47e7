-- Client initial access tokens (RFC 7591): only the SHA-256 of each token
-- is kept; remaining_count is decremented by a conditional UPDATE.
CREATE TABLE initial_access_tokens (
    id              TEXT PRIMARY KEY,
    realm_id        TEXT NOT NULL REFERENCES realms (id) ON DELETE CASCADE,
    token_hash      TEXT NOT NULL,
    created         BIGINT NOT NULL,
    expiration      INTEGER NOT NULL DEFAULT 0,
    count           INTEGER NOT NULL DEFAULT 0,
    remaining_count INTEGER NOT NULL DEFAULT 0,
    UNIQUE (realm_id, token_hash)
);
