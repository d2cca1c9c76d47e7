-- Rows as keygate 0003 wrote them. Never edit it; add NNNN.sql for later steps.
INSERT INTO tokens (kind, signature, request_id, realm_id, client_id, subject, session_id, active, requested, expires, request)
    VALUES ('refresh', 'seed-sig-0003', 'seed-req', 'seed', 'app', 'seed-user', 'seed-session', 0, 1714979289123, 0, '{"scopes":["openid"]}');
