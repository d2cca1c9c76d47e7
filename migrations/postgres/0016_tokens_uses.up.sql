-- A single-use refresh token's uses (Keycloak's refreshTokenMaxReuse,
-- with revokeRefreshToken on): how many refreshes it has made, counted by
-- the conditional UPDATE that spends it, so that concurrent uses count;
-- -1 marks a token made stale by the use of a newer one of its chain.
-- Every other row keeps 0.
ALTER TABLE tokens ADD COLUMN uses INTEGER NOT NULL DEFAULT 0;
