-- Rows as keygate 0005 wrote them. Never edit it; add NNNN.sql for later steps.
INSERT INTO identity_providers (internal_id, realm_id, alias, provider_id, enabled, config)
    VALUES ('seed-idp-0005', 'seed', 'corp-saml', 'saml', TRUE, '{"alias":"corp-saml","providerId":"saml"}');
INSERT INTO federated_identities (realm_id, user_id, alias, external_id, external_name, token)
    VALUES ('seed', 'seed-user', 'corp-saml', 'alice@corp', 'alice', '');
