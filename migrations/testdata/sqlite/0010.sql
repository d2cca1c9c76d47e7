-- Rows as keygate 0010 wrote them. Never edit it; add NNNN.sql for later steps.
-- A realm that allows duplicate emails, with two users sharing one.
INSERT INTO realms (id, name, enabled, settings, created, duplicate_emails)
    VALUES ('seed-dup', 'seed-dup', TRUE, '{"duplicateEmailsAllowed":true}', 1714979289123, 1);
INSERT INTO users (id, realm_id, username, email, enabled, created, duplicate_emails) VALUES
    ('seed-dup-1', 'seed-dup', 'twin1', 'twin@example.com', TRUE, 1714979289123, 1),
    ('seed-dup-2', 'seed-dup', 'twin2', 'twin@example.com', TRUE, 1714979289123, 1);
