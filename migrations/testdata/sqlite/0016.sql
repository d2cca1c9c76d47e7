-- Rows as keygate 0016 wrote them. Never edit it; add NNNN.sql for later steps.
-- A chain under refreshTokenMaxReuse 2: a token used twice, still active;
-- the token of its first use, made stale by its second; the newest.
INSERT INTO tokens (kind, signature, request_id, realm_id, client_id, subject, session_id, active, requested, expires, request, uses)
    VALUES ('refresh', 'seed-reuse-1', 'seed-reuse', 'seed', 'seed-client', 'seed-user', 'seed-session-2', 1, 1714979289123, 1715015289123, '{}', 2),
           ('refresh', 'seed-reuse-2', 'seed-reuse', 'seed', 'seed-client', 'seed-user', 'seed-session-2', 0, 1714979389123, 1715015389123, '{}', -1),
           ('refresh', 'seed-reuse-3', 'seed-reuse', 'seed', 'seed-client', 'seed-user', 'seed-session-2', 1, 1714979489123, 1715015489123, '{}', 0);
