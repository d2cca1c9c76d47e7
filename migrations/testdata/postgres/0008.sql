-- Rows as keygate 0008 wrote them. Never edit it; add NNNN.sql for later steps.
INSERT INTO events (id, realm_id, time, type, client_id, user_id, session_id, ip_address, error, details)
VALUES ('seed-event-1', 'seed', 1767225600000, 'LOGIN', 'webapp', 'seed-user', 'seed-session', '10.0.0.1', '',
        '{"auth_method":"openid-connect","grant_type":"password","username":"seed"}');
INSERT INTO admin_events (id, realm_id, time, operation_type, resource_type, resource_path, auth_realm_id, auth_client_id,
                          auth_user_id, auth_ip_address, representation, error)
VALUES ('seed-admin-event-1', 'seed', 1767225600000, 'CREATE', 'USER', 'users/seed-user', 'seed', 'seed-client',
        'seed-admin', '10.0.0.2', '{"username":"seed"}', '');
