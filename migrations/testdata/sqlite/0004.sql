-- Rows as keygate 0004 wrote them. Never edit it; add NNNN.sql for later steps.
INSERT INTO users (id, realm_id, username, email, email_verified, first_name, last_name, first_lower, last_lower,
        enabled, created, federation_link, federation_id, service_account, attributes, required_actions, not_before) VALUES
    ('seed-ldap-user', 'seed', 'carol', 'carol@example.com', TRUE, 'Carol', 'C', 'carol', 'c',
        TRUE, 1714979289123, 'seed-ldap', 'f3b1c2d4-0000-4000-8000-00000000c001', '',
        '{"LDAP_ID":["f3b1c2d4-0000-4000-8000-00000000c001"],"LDAP_ENTRY_DN":["uid=carol,ou=people,dc=example,dc=org"]}', '', 0);
