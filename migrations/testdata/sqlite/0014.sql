-- Rows as keygate 0014 wrote them. Never edit it; add NNNN.sql for later steps.
-- An offline token whose SSO session has ended.
INSERT INTO tokens (kind, signature, request_id, realm_id, client_id, subject, session_id, active, requested, expires, request)
    VALUES ('offline', 'seed-offline-1', 'seed-offline', 'seed', 'seed-client', 'seed-user', 'seed-session-gone', 1, 1714979489123, 1717571489123, '{}');
