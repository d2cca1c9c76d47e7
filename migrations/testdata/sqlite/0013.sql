-- Rows as keygate 0013 wrote them. Never edit it; add NNNN.sql for later steps.
-- A refresh chain: one spent token and the active one that replaced it.
INSERT INTO tokens (kind, signature, request_id, realm_id, client_id, subject, session_id, active, requested, expires, request)
    VALUES ('refresh', 'seed-chain-1', 'seed-chain', 'seed', 'seed-client', 'seed-user', 'seed-session-2', 0, 1714979289123, 1715015289123, '{}'),
           ('refresh', 'seed-chain-2', 'seed-chain', 'seed', 'seed-client', 'seed-user', 'seed-session-2', 1, 1714979389123, 1715015389123, '{}');
