-- Rows as keygate 0002 wrote them. Never edit it; add NNNN.sql for later steps.
INSERT INTO initial_access_tokens (id, realm_id, token_hash, created, expiration, count, remaining_count)
    VALUES ('seed-iat', 'seed', 'c0ffee', 1714979289123, 3600, 2, 1);
