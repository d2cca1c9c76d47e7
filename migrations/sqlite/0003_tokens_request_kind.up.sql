-- A refresh-token chain keeps one request id across rotations (fosite), so
-- an index on request_id alone made every rotation walk the whole chain's
-- rows to find the one active refresh token and the one access token: a
-- session refreshed N times cost O(N) per refresh. Lead with request_id (a
-- prefix still serves lookups by request), then kind and active, so
-- DeactivateRequest and DeleteRequest seek straight to their rows.
DROP INDEX tokens_request;
CREATE INDEX tokens_request ON tokens (request_id, kind, active);
