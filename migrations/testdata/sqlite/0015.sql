-- Rows as keygate 0015 wrote them. Never edit it; add NNNN.sql for later steps.
INSERT INTO user_consents (realm_id, user_id, client_id, scopes, created, updated)
    VALUES ('seed', 'seed-user', 'seed-client', '["seed-scope"]', 1714979589123, 1714979689123);
