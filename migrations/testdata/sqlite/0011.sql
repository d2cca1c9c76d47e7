-- Rows as keygate 0011 wrote them. Never edit it; add NNNN.sql for later steps.
-- A service-account user (its insert moves the realm's config counter).
INSERT INTO users (id, realm_id, username, enabled, created, service_account, duplicate_emails) VALUES
    ('seed-sa-2', 'seed-dup', 'service-account-seed', TRUE, 1714979289123, 'seed-client', 1);
