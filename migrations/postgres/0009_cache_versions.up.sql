-- Change counters for the caches (package store/cache): one row per realm,
-- moved by triggers in the transaction of every write to a cached table,
-- whichever process or code path makes it. A process compares the
-- counters it read with those its cached values were built under.
--   config:     the realm row, clients, client scopes, roles and their
--               composites, groups and their roles, keys, identity
--               providers and their mappers
--   grants:     users' role and group mappings
--   components: user federation components and mappers
-- A live realm's counters start at 1, so a deleted realm (no row) never
-- matches a value cached for it.
CREATE TABLE realm_versions (
    realm_id   TEXT PRIMARY KEY,
    config     BIGINT NOT NULL DEFAULT 1,
    grants     BIGINT NOT NULL DEFAULT 1,
    components BIGINT NOT NULL DEFAULT 1
);
INSERT INTO realm_versions (realm_id) SELECT id FROM realms;

-- Statement-level triggers: a multi-row write (an import batch) moves a
-- realm's counter once.
CREATE FUNCTION realm_versions_realms() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO realm_versions (realm_id) SELECT id FROM changed;
    ELSIF TG_OP = 'UPDATE' THEN
        UPDATE realm_versions SET config = config + 1 WHERE realm_id IN (SELECT id FROM changed);
    ELSE
        DELETE FROM realm_versions WHERE realm_id IN (SELECT id FROM changed);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER realms_cache_ins AFTER INSERT ON realms REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION realm_versions_realms();
CREATE TRIGGER realms_cache_upd AFTER UPDATE ON realms REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION realm_versions_realms();
CREATE TRIGGER realms_cache_del AFTER DELETE ON realms REFERENCING OLD TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION realm_versions_realms();

CREATE FUNCTION realm_versions_config() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE realm_versions SET config = config + 1 WHERE realm_id IN (SELECT realm_id FROM changed);
    RETURN NULL;
END $$;

CREATE FUNCTION realm_versions_grants() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE realm_versions SET grants = grants + 1 WHERE realm_id IN (SELECT realm_id FROM changed);
    RETURN NULL;
END $$;

CREATE FUNCTION realm_versions_components() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE realm_versions SET components = components + 1 WHERE realm_id IN (SELECT realm_id FROM changed);
    RETURN NULL;
END $$;

DO $$
DECLARE
    t text;
    k text;
BEGIN
    FOR t, k IN VALUES ('clients', 'config'),
        ('client_scopes', 'config'),
        ('roles', 'config'),
        ('role_composites', 'config'),
        ('groups', 'config'),
        ('group_roles', 'config'),
        ('keys', 'config'),
        ('identity_providers', 'config'),
        ('identity_provider_mappers', 'config'),
        ('user_roles', 'grants'),
        ('user_groups', 'grants'),
        ('components', 'components') LOOP
        EXECUTE format('CREATE TRIGGER %I AFTER INSERT ON %I REFERENCING NEW TABLE AS changed '
            'FOR EACH STATEMENT EXECUTE FUNCTION %I()', t || '_cache_ins', t, 'realm_versions_' || k);
        EXECUTE format('CREATE TRIGGER %I AFTER UPDATE ON %I REFERENCING NEW TABLE AS changed '
            'FOR EACH STATEMENT EXECUTE FUNCTION %I()', t || '_cache_upd', t, 'realm_versions_' || k);
        EXECUTE format('CREATE TRIGGER %I AFTER DELETE ON %I REFERENCING OLD TABLE AS changed '
            'FOR EACH STATEMENT EXECUTE FUNCTION %I()', t || '_cache_del', t, 'realm_versions_' || k);
    END LOOP;
END $$;
