-- Rows as keygate 0001 wrote them: one of every kind, in realm "seed". The
-- migration test loads this after 0001 and checks that every later
-- migration keeps it. Never edit it; add NNNN.sql for later steps.
INSERT INTO realms (id, name, enabled, settings, created)
    VALUES ('seed', 'seed', TRUE, '{"sslRequired":"external"}', 1714979289123);
INSERT INTO clients (id, realm_id, client_id, secret, registration_token_hash, config, created)
    VALUES ('seed-client', 'seed', 'app', 's3cret', 'e3b0c442', '{"publicClient":false}', 1714979289123);
INSERT INTO client_scopes (id, realm_id, name, config)
    VALUES ('seed-scope', 'seed', 'profile', '{"protocol":"openid-connect"}');
INSERT INTO roles (id, realm_id, client_id, name, description, attributes) VALUES
    ('seed-role', 'seed', '', 'admin', 'Administrators', '{"level":["1"]}'),
    ('seed-crole', 'seed', 'seed-client', 'view', '', '');
INSERT INTO role_composites (realm_id, parent_id, child_id) VALUES ('seed', 'seed-role', 'seed-crole');
INSERT INTO groups (id, realm_id, parent_id, name, attributes) VALUES
    ('seed-group', 'seed', '', 'staff', '{"dept":["ops"]}'),
    ('seed-sub', 'seed', 'seed-group', 'admins', '');
INSERT INTO group_roles (realm_id, group_id, role_id) VALUES ('seed', 'seed-group', 'seed-role');
INSERT INTO users (id, realm_id, username, email, email_verified, first_name, last_name, first_lower, last_lower,
        enabled, created, federation_link, service_account, attributes, required_actions, not_before) VALUES
    ('seed-user', 'seed', 'alice', 'alice@example.com', TRUE, 'Alice', 'Liddell', 'alice', 'liddell',
        TRUE, 1714979289123, '', '', '{"locale":["en"]}', '["UPDATE_PASSWORD"]', 0),
    ('seed-sa', 'seed', 'service-account-app', '', FALSE, '', '', '', '',
        TRUE, 1714979289123, '', 'seed-client', '', '', 0);
INSERT INTO user_roles (realm_id, user_id, role_id) VALUES ('seed', 'seed-user', 'seed-role');
INSERT INTO user_groups (realm_id, user_id, group_id) VALUES ('seed', 'seed-user', 'seed-sub');
INSERT INTO credentials (id, realm_id, user_id, type, user_label, created, secret_data, credential_data, priority)
    VALUES ('seed-cred', 'seed', 'seed-user', 'password', '', 1714979289123, '{"value":"x","salt":"y"}',
        '{"hashIterations":27500,"algorithm":"pbkdf2-sha256"}', 10);
INSERT INTO sessions (id, realm_id, user_id, created, last_seen, auth_time, remember_me, ip_address, data)
    VALUES ('seed-session', 'seed', 'seed-user', 1714979289123, 1714979289123, 1714979289123, FALSE, '192.0.2.1', '{}');
INSERT INTO tokens (kind, signature, request_id, realm_id, client_id, subject, session_id, active, requested, expires, request)
    VALUES ('refresh', 'seed-sig', 'seed-req', 'seed', 'app', 'seed-user', 'seed-session', TRUE, 1714979289123, 0, '{"scopes":["openid"]}');
INSERT INTO keys (id, realm_id, algorithm, key_use, active, private_key, created) VALUES
    ('seed-key', 'seed', 'RS256', 'sig', TRUE, X'30820122', 1714979289123),
    ('seed-old-key', 'seed', 'RS256', 'sig', FALSE, X'30820123', 1714979200000);
INSERT INTO login_failures (realm_id, user_id, num_failures, num_temp_lockouts, last_failure, last_ip_failure, failed_login_not_before)
    VALUES ('seed', 'seed-user', 3, 1, 1714979289123, '192.0.2.1', 1714979349123);
INSERT INTO components (id, realm_id, parent_id, name, provider_id, provider_type, sub_type, config)
    VALUES ('seed-ldap', 'seed', 'seed', 'corp', 'ldap', 'org.keycloak.storage.UserStorageProvider', '',
        '{"connectionUrl":["ldap://ldap.example.com"]}');
INSERT INTO identity_providers (internal_id, realm_id, alias, provider_id, enabled, config)
    VALUES ('seed-idp', 'seed', 'corp', 'saml', TRUE, '{"alias":"corp"}');
INSERT INTO identity_provider_mappers (id, realm_id, alias, name, mapper, config)
    VALUES ('seed-mapper', 'seed', 'corp', 'email', 'saml-user-attribute-idp-mapper', '{"attribute.name":"mail"}');
