-- Rows as keygate 0012 wrote them. Never edit it; add NNNN.sql for later steps.
-- A session touched after the index on last_seen went.
INSERT INTO sessions (id, realm_id, user_id, created, last_seen, auth_time, remember_me, ip_address, data)
    VALUES ('seed-session-2', 'seed', 'seed-user', 1714979289123, 1714979389123, 1714979289123, 0, '192.0.2.2', '{}');
